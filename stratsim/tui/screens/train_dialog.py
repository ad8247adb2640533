"""The training dialog: choose the model and the data, check how the data will be read,
then start.

Keys: ``1``-``4`` choose the model (when no input has focus), ``tab`` moves through the
fields, ``ctrl+r`` (or the Check button, or ``enter`` in the data field) reads the file
and shows what was detected (format, columns, the target's labels), a preview of the
first rows as the model will see them, and every problem found; ``enter`` on Start or
in another field checks and starts when nothing is wrong; ``escape`` cancels.

The fields are those of ``stratsim train`` (see its ``--help``): data file, recipe file,
separator / decimal mark / thousands separator / encoding (empty: detected, and the
detected value is shown), column mapping (``functionality=Q1,Q2 ux=Q3``; items separated by ``;`` instead when column names hold
spaces), minimum items
of a construct, target column and its positive labels (picked from the labels found),
scales (``1:5 overall=1:10``), missing sentinels (``0 Q1=-99``), derived columns
(``NAME=EXPR``, several separated by ``;``), constant features (``enterprise_share=0.3``),
rows to skip (a regular expression), the largest fraction of unusable rows to drop, the
label period (privacy), max epochs and where to save the recipe. The same
:func:`stratsim.engine.recipe.build_recipe` turns them into a recipe as on the command
line; the engine's :func:`stratsim.engine.dataprep.prepare` makes the preview, so what is
shown is what is trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, RadioButton, RadioSet, Select, Static

from ...engine.errors import StratsimError
from ..training_job import MODEL_CHOICES, TrainRequest
from .dialogs import PathSuggester

#: Text fields of the dialog: (key, label, placeholder).
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("data", "Data file", "empty: sample data; CSV/TSV/XLSX/Parquet (enter checks)"),
    ("recipe", "Recipe", "optional recipe .toml (fields below win)"),
    ("sep", "Separator", "detected"),
    ("decimal", "Decimal", "detected"),
    ("thousands", "Thousands", "detected ('none' for none)"),
    ("encoding", "Encoding", "detected"),
    ("map", "Map columns", "e.g. functionality=Q1,Q2 ux=Q3 (';' if names hold spaces)"),
    ("min_items", "Min items", "items a construct needs (default all)"),
    ("target", "Target col.", "default: satisfaction / incident"),
    ("scale", "Scales", "e.g. 1:5 overall=1:10"),
    ("missing", "Missing", "e.g. 0 Q1=-99 (besides empty, NA, N/A)"),
    ("derive", "Derive", "NAME=EXPR; ... e.g. records_log10=log10(`Count`)"),
    ("set", "Constants", "e.g. enterprise_share=0.3 security_posture=5"),
    ("skip", "Skip rows", "regular expression of rows to skip"),
    ("max_missing", "Max unusable", "fraction of rows that may be dropped, e.g. 0.1"),
    ("label_period", "Label period", "privacy: month (default) or year"),
    ("epochs", "Max epochs", "early stopping may end sooner"),
    ("save_recipe", "Save recipe", "optional: write the recipe to this .toml"),
)
PREVIEW_ROWS = 5


def split_items(text: str) -> list[str]:
    """Items of a field: separated by ``;`` when the text holds one (so column names may
    hold spaces: ``ux=Seat comfort; functionality=Online boarding``), else by spaces."""
    if ";" in text:
        return [t.strip() for t in text.split(";") if t.strip()]
    return text.split()


class TrainDialog(ModalScreen[TrainRequest | None]):
    """Returns a :class:`~stratsim.tui.training_job.TrainRequest`, or None if cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+r", "check", "Check data"),
        Binding("d", "data", "Data file"),  # not in a field: a field takes the letter typed
    ]
    DEFAULT_CSS = """
    TrainDialog { align: center middle; }
    TrainDialog > VerticalScroll { width: 78; height: auto; max-height: 100%; border: thick $accent; background: $surface; padding: 0 1; }
    TrainDialog #train-title { width: 1fr; height: auto; }
    TrainDialog RadioSet { width: 1fr; height: auto; }
    TrainDialog RadioButton.-on { text-style: bold; background: $accent 40%; }
    TrainDialog .field { height: 1; }
    TrainDialog .field Label { width: 14; }
    TrainDialog .field Input { width: 1fr; height: 1; border: none; padding: 0 1; }
    TrainDialog #train-positive-row { height: 3; }
    TrainDialog #train-positive { width: 1fr; }
    TrainDialog #train-detected { color: $text-muted; height: auto; }
    TrainDialog #train-preview { height: auto; max-height: 8; }
    TrainDialog #train-error { color: $error; height: auto; }
    TrainDialog Button { margin-right: 1; }
    TrainDialog #train-dialog-buttons { height: auto; }
    """

    def __init__(
        self,
        role: str = "satisfaction",
        kind: str = "linear",
        epochs: int = 30,
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        super().__init__()
        self.choice = next((i for i, c in enumerate(MODEL_CHOICES) if c[:2] == (role, kind)), 0)
        self.epochs = epochs
        self.seed = seed
        self.device = device
        self.checked: Any = None  # TrainingData of the last successful check
        self.problems: list[str] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(
                "[b]Train a model[/b]  1-4 choose, d data file, tab fields, ctrl+r check, "
                "enter start, esc cancel",
                id="train-title",
            )
            with RadioSet(id="train-model"):
                for i, (_, _, label) in enumerate(MODEL_CHOICES):
                    yield RadioButton(f"{i + 1} {label}", value=i == self.choice)
            for key, label, hint in FIELDS:
                value = str(self.epochs) if key == "epochs" else ""
                suffixes = {
                    "data": (".csv", ".tsv", ".txt", ".xlsx", ".parquet", ".pq"),
                    "recipe": (".toml",),
                }
                with Horizontal(classes="field"):
                    yield Label(label)
                    yield Input(
                        value,
                        placeholder=hint,
                        id=f"train-{key}",
                        suggester=PathSuggester(suffixes[key]) if key in suffixes else None,
                    )
                if key == "target":
                    with Horizontal(id="train-positive-row"):
                        yield Label("Positive")
                        yield Select[str](
                            [],
                            prompt="positive label (a label target; check to list)",
                            id="train-positive",
                            allow_blank=True,
                        )
            yield Static("", id="train-detected", markup=False)
            yield DataTable(id="train-preview", show_cursor=False, zebra_stripes=True)
            yield Static("", id="train-error", markup=False)
            with Horizontal(id="train-dialog-buttons"):
                yield Button("Start", id="train-go", variant="primary", compact=True)
                yield Button("Check", id="train-check", compact=True)
                yield Button("Cancel", id="train-no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#train-preview", DataTable).display = False
        # focused (enter starts) without scrolling to it: the title and choices show first
        self.query_one("#train-go", Button).focus(scroll_visible=False)

    def on_key(self, event) -> None:
        if isinstance(self.focused, (Input, Select)):
            return
        if (
            event.character
            and event.character in "1234"
            and int(event.character) <= len(MODEL_CHOICES)
        ):
            event.stop()
            buttons = list(self.query(RadioButton))
            buttons[int(event.character) - 1].value = True

    def action_data(self) -> None:
        """Jump to the data file field (``d``, e.g. right after choosing 1-4)."""
        self.query_one("#train-data", Input).focus()

    # ------------------------------------------------------------------ reading the form
    def value(self, key: str) -> str:
        return self.query_one(f"#train-{key}", Input).value.strip()

    def _role_kind(self) -> tuple[str, str]:
        radio = self.query_one(RadioSet)
        idx = radio.pressed_index if radio.pressed_index >= 0 else 0
        role, kind, _ = MODEL_CHOICES[idx]
        return role, kind

    def _recipe(self, role: str):
        from ...engine.recipe import Recipe, build_recipe
        from ...engine.recipefile import load_recipe

        def number(key: str, kind: type, what: str):
            text = self.value(key)
            if not text:
                return None
            try:
                v = kind(text)
            except ValueError:
                raise StratsimError(
                    f"{what} {text!r}: expected {'an integer' if kind is int else 'a number'}"
                ) from None
            return v

        min_items = number("min_items", int, "min items")
        if min_items is not None and min_items < 1:
            raise StratsimError(f"min items {min_items}: expected an integer >= 1")
        positive = self.query_one("#train-positive", Select).value
        recipe_path = self.value("recipe")
        return build_recipe(
            load_recipe(Path(recipe_path).expanduser()) if recipe_path else Recipe(),
            role,
            sep=self.value("sep") or None,
            decimal=self.value("decimal") or None,
            thousands=self.value("thousands") or None,
            encoding=self.value("encoding") or None,
            skip_rows_matching=[self.value("skip")] if self.value("skip") else [],
            target=self.value("target") or None,
            positive=positive if isinstance(positive, str) and positive else None,
            label_period=self.value("label_period") or None,
            mapping=split_items(self.value("map")),
            min_items=min_items,
            scale=split_items(self.value("scale")),
            missing=split_items(self.value("missing")),
            max_missing=number("max_missing", float, "max unusable"),
            derive=[d.strip() for d in self.value("derive").split(";") if d.strip()],
            constants=split_items(self.value("set")),
        )

    def _data_path(self, role: str) -> Path:
        from ...engine.data import sample_data_path

        text = self.value("data")
        return Path(text).expanduser() if text else sample_data_path(role)

    # ------------------------------------------------------------------------- checking
    def check(self) -> bool:
        """Read and prepare the data as training would; show what was detected, a
        preview and every problem. Returns True when training can start."""
        from ...engine.data import column_labels, inspect_table
        from ...engine.dataprep import prepare
        from ...engine.outputs import file_sha256

        detected = self.query_one("#train-detected", Static)
        preview = self.query_one("#train-preview", DataTable)
        self.checked = None
        self.problems = []
        role, _ = self._role_kind()
        try:
            recipe = self._recipe(role)
            path = self._data_path(role)
            table = inspect_table(path, recipe)
        except StratsimError as exc:
            self._show_problems([str(exc)])
            detected.update("")
            preview.display = False
            return False
        self._show_detected_format(table.format)
        target = recipe.target or ("satisfaction" if role == "satisfaction" else "incident")
        labels = column_labels(table, target)
        self._offer_positive_labels(labels)
        detected.update(Text("\n".join(self._detected_lines(table, recipe, target, labels))))
        try:
            data = prepare(table, role, recipe, sha256=file_sha256(path))
        except StratsimError as exc:
            self._show_problems(list(getattr(exc, "problems", None) or [str(exc)]))
            preview.display = False
            return False
        except OSError as exc:
            self._show_problems([f"{path}: cannot read: {exc.strerror or exc}"])
            return False
        self.checked = data
        self._show_preview(data)
        return True

    def _show_detected_format(self, fmt: Any) -> None:
        """The detected separator, decimal mark, thousands mark and encoding as the
        placeholders of their (empty) fields."""
        for key, val in (
            ("sep", fmt.sep),
            ("decimal", fmt.decimal),
            ("thousands", fmt.thousands),
            ("encoding", fmt.encoding),
        ):
            if fmt.kind == "csv" or key in ("decimal", "thousands"):
                shown = {"\t": "tab", "": "none"}.get(val or "", val or "")
                self.query_one(f"#train-{key}", Input).placeholder = f"detected: {shown}"

    def _offer_positive_labels(self, labels: list[tuple[str, int]]) -> None:
        """The target's values (with counts, the 20 most frequent) as the Positive choices,
        keeping the current choice when it is still offered."""
        select = self.query_one("#train-positive", Select)
        current = select.value
        options = [(f"{lbl} ({n})", lbl) for lbl, n in labels[:20]]
        select.set_options(options)
        if isinstance(current, str) and any(v == current for _, v in options):
            select.value = current

    @staticmethod
    def _detected_lines(
        table: Any, recipe: Any, target: str, labels: list[tuple[str, int]]
    ) -> list[str]:
        """What was read: the format, the columns, the target's values, the declared
        scales and the value ranges of (up to 10) mapped columns and the target."""
        from ...engine.data import column_ranges

        scales = ", ".join(
            [f"rating columns {recipe.scale[0]:g}:{recipe.scale[1]:g}"] if recipe.scale else []
        ) + "".join(f", {c} {lo:g}:{hi:g}" for c, (lo, hi) in recipe.column_scale.items())
        label_text = ", ".join(f"{lbl} ({n})" for lbl, n in labels[:6])
        mapped = [c for cols in recipe.mapping.values() for c in cols] or table.names
        ranges = column_ranges(table, [*dict.fromkeys([*mapped, target])][:10])
        range_text = ", ".join(f"{c} {lo:g}..{hi:g}" for c, (lo, hi) in ranges.items())
        return [
            f"read as: {table.format.describe()}",
            f"columns ({len(table.names)}): {', '.join(table.names[:12])}"
            + (" ..." if len(table.names) > 12 else ""),
            f"target {target!r} values: {label_text or '-'}",
            f"scales: {scales.lstrip(', ') or 'none declared (0..10 as is)'}",
            f"values found: {range_text or '-'}",
        ]

    def _show_preview(self, data: Any) -> None:
        """The first :data:`PREVIEW_ROWS` prepared rows (features and target) and the
        row count with the data's warnings."""
        preview = self.query_one("#train-preview", DataTable)
        preview.clear(columns=True)
        preview.add_columns("row", *data.features, f"target {data.target}")
        for i in range(min(PREVIEW_ROWS, data.n)):
            row = [f"{v:.3g}" for v in data.x[i]]
            preview.add_row(
                str(int(data.row_numbers[i])) if data.row_numbers is not None else str(i + 1),
                *row,
                f"{data.y[i]:.3g}",
            )
        preview.display = True
        notes = [w for w in data.warnings]
        summary = f"ready: {data.n} rows" + (
            f"; target {data.target_note}" if data.target_note else ""
        )
        self.query_one("#train-error", Static).update(
            Text("\n".join([summary, *notes]), style="bold" if not notes else "")
        )

    def _show_problems(self, problems: list[str]) -> None:
        self.problems = problems
        text = Text(f"{len(problems)} problem(s) before training can start:\n")
        text.append("\n".join(f"- {p}" for p in problems))
        text.append(
            "\n(--map, --min-items, --positive, --scale, --missing, --derive, --set, --skip-rows-matching "
            "and --max-missing are the fields Map columns, Min items, Positive, Scales, Missing, "
            "Derive, Constants, Skip rows and Max unusable)",
            style="dim",
        )
        self.query_one("#train-error", Static).update(text)

    def _request(self) -> TrainRequest:
        role, kind = self._role_kind()
        try:
            epochs = int(self.value("epochs"))
            if epochs < 1:
                raise ValueError
        except ValueError:
            raise StratsimError(
                f"max epochs {self.value('epochs')!r}: expected an integer >= 1"
            ) from None
        recipe = self._recipe(role)
        path = Path(self.value("data")).expanduser() if self.value("data") else None
        save = Path(self.value("save_recipe")).expanduser() if self.value("save_recipe") else None
        return TrainRequest(
            role,
            kind,
            path,
            epochs=epochs,
            seed=self.seed,
            device=self.device,
            recipe=recipe,
            save_recipe=save,
        )

    def _go(self) -> None:
        try:
            request = self._request()
        except StratsimError as exc:
            self._show_problems([str(exc)])
            return
        if not self.check():  # every problem is shown before training starts
            return
        self.dismiss(request)

    def action_check(self) -> None:
        self.check()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id in ("train-data", "train-recipe", "train-target"):
            self.check()
        else:
            self._go()

    @on(Button.Pressed, "#train-go")
    def _start(self) -> None:
        self._go()

    @on(Button.Pressed, "#train-check")
    def _check_button(self) -> None:
        self.check()

    @on(Button.Pressed, "#train-no")
    def _cancel_button(self) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
