"""The training dialog: choose the model and the data, then start.

Keys: ``1``-``4`` choose the model (when no input has focus), ``tab`` moves through the
fields, ``enter`` on Start (focused at first) or in a field starts, ``escape`` cancels.
Data: leave the path empty for the shipped sample data, or give a CSV/Parquet file with
an optional column mapping (``functionality=Q1,Q2 ux=Q3``), target column and input
scale (``1:5``). Errors in these fields are shown here and nothing starts.
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from ...engine.errors import StratsimError
from ..training_job import MODEL_CHOICES, TrainRequest
from .dialogs import PathSuggester


class TrainDialog(ModalScreen[TrainRequest | None]):
    """Returns a :class:`~stratsim.tui.training_job.TrainRequest`, or None if cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    TrainDialog { align: center middle; }
    TrainDialog > Vertical { width: 76; height: auto; max-height: 100%; border: thick $accent; background: $surface; padding: 0 1; }
    TrainDialog RadioSet { width: 1fr; height: auto; }
    TrainDialog .field { height: 1; }
    TrainDialog .field Label { width: 14; }
    TrainDialog .field Input { width: 1fr; height: 1; border: none; padding: 0 1; }
    TrainDialog #train-error { color: $error; height: auto; }
    TrainDialog Button { margin-right: 1; }
    TrainDialog #train-dialog-buttons { height: auto; }
    """

    def __init__(self, role: str = "satisfaction", kind: str = "linear", epochs: int = 30, seed: int = 0, device: str = "auto") -> None:
        super().__init__()
        self.choice = next((i for i, c in enumerate(MODEL_CHOICES) if c[:2] == (role, kind)), 0)
        self.epochs = epochs
        self.seed = seed
        self.device = device

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Train a model[/b]  1-4 choose, tab fields, enter start, esc cancel")
            with RadioSet(id="train-model"):
                for i, (_, _, label) in enumerate(MODEL_CHOICES):
                    yield RadioButton(f"{i + 1} {label}", value=i == self.choice)
            for key, label, value, hint in (
                ("data", "Data file", "", "empty: shipped sample data; or a CSV/Parquet path"),
                ("map", "Map columns", "", "e.g. functionality=Q1,Q2 ux=Q3 (optional)"),
                ("target", "Target col.", "", "default: satisfaction / incident"),
                ("scale", "Input scale", "", "e.g. 1:5 (optional; mapped to 0..10)"),
                ("epochs", "Max epochs", str(self.epochs), "early stopping may end sooner"),
            ):
                with Horizontal(classes="field"):
                    yield Label(label)
                    yield Input(
                        value,
                        placeholder=hint,
                        id=f"train-{key}",
                        suggester=PathSuggester((".csv", ".parquet", ".pq")) if key == "data" else None,
                    )
            yield Static("", id="train-error")
            with Horizontal(id="train-dialog-buttons"):
                yield Button("Start", id="train-go", variant="primary", compact=True)
                yield Button("Cancel", id="train-no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#train-go", Button).focus()

    def on_key(self, event) -> None:
        if isinstance(self.focused, Input):
            return
        if event.character and event.character in "1234" and int(event.character) <= len(MODEL_CHOICES):
            event.stop()
            buttons = list(self.query(RadioButton))
            buttons[int(event.character) - 1].value = True

    def _request(self) -> TrainRequest:
        from ...engine.data import parse_mapping, parse_scale

        radio = self.query_one(RadioSet)
        idx = radio.pressed_index if radio.pressed_index >= 0 else 0
        role, kind, _ = MODEL_CHOICES[idx]
        val = {k: self.query_one(f"#train-{k}", Input).value.strip() for k in ("data", "map", "target", "scale", "epochs")}
        path = Path(val["data"]).expanduser() if val["data"] else None
        if path is not None and not path.is_file():
            raise StratsimError(f"data file {path}: not found; leave it empty for the sample data")
        mapping = tuple(val["map"].split())
        parse_mapping(list(mapping), role)  # raises DataError naming the bad item
        scale = parse_scale(val["scale"]) if val["scale"] else None
        try:
            epochs = int(val["epochs"])
            if epochs < 1:
                raise ValueError
        except ValueError:
            raise StratsimError(f"max epochs {val['epochs']!r}: expected an integer >= 1") from None
        return TrainRequest(role, kind, path, mapping, val["target"] or None, scale, epochs, self.seed, self.device)

    def _go(self) -> None:
        try:
            request = self._request()
        except StratsimError as exc:
            self.query_one("#train-error", Static).update(str(exc))
            return
        self.dismiss(request)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._go()

    @on(Button.Pressed, "#train-go")
    def _start(self) -> None:
        self._go()

    @on(Button.Pressed, "#train-no")
    def _cancel_button(self) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
