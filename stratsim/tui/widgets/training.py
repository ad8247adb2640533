"""The training pane: progress bar, epoch / samples per second / ETA, a live
train/validation loss curve, and the metrics when done.

It is driven by the trainer's events (:mod:`stratsim.engine.training`: TrainStart,
BatchProgress, EpochEnd) through :meth:`TrainingPane.apply_events`, so a test can feed
recorded events and get a deterministic screen. The loss curve is redrawn at most once
per update and only for the last :data:`MAX_POINTS` epochs.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, ProgressBar, Static
from textual_plotext import PlotextPlot

from ...format import duration as _duration
from ..text import safe

MAX_POINTS = 1000


class TrainingPane(Vertical):
    """Shows one training run at a time (the latest)."""

    DEFAULT_CSS = """
    TrainingPane { height: 1fr; }
    TrainingPane #train-title { height: 1; text-style: bold; }
    TrainingPane #train-progress-row { height: 1; }
    TrainingPane ProgressBar { width: 1fr; }
    TrainingPane #train-stats { height: 1; }
    TrainingPane PlotextPlot { height: 1fr; min-height: 6; }
    TrainingPane #train-metrics { height: auto; max-height: 5; }
    TrainingPane #train-buttons { height: auto; }
    TrainingPane Button { min-width: 10; margin: 0 1 0 0; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.train_losses: list[tuple[int, float]] = []
        self.val_losses: list[tuple[int, float]] = []
        self.running = False

    def compose(self) -> ComposeResult:
        yield Static(
            "No training yet: press [b]t[/b] to choose a model and data.", id="train-title"
        )
        with Horizontal(id="train-progress-row"):
            yield ProgressBar(total=100, show_eta=False, id="train-progress")
        yield Static("", id="train-stats")
        yield PlotextPlot(id="train-loss")
        yield Static("", id="train-metrics")
        with Horizontal(id="train-buttons"):
            yield Button("Train… (t)", id="train-start", variant="primary", compact=True)
            yield Button(
                "Cancel (x)", id="train-cancel", variant="error", compact=True, disabled=True
            )

    # ------------------------------------------------------------------ public
    def begin(self, label: str) -> None:
        """A run was requested: reset the pane."""
        self.running = True
        self.train_losses.clear()
        self.val_losses.clear()
        self.query_one("#train-title", Static).update(f"Training {safe(label)}")
        self.query_one("#train-progress", ProgressBar).update(total=100, progress=0)
        self.query_one("#train-stats", Static).update("reading data…")
        self.query_one("#train-metrics", Static).update("")
        self.query_one("#train-cancel", Button).disabled = False
        self._plot()

    def apply_events(self, events: list[Any]) -> None:
        """Apply trainer events in order (TrainStart, BatchProgress, EpochEnd)."""
        stats = None
        for ev in events:
            name = type(ev).__name__
            if name == "TrainStart":
                stats = f"{ev.kind} on {ev.device}: {ev.n_train} train / {ev.n_val} val / {ev.n_test} test rows"
            elif name == "BatchProgress":
                self.query_one("#train-progress", ProgressBar).update(
                    total=ev.total_steps, progress=ev.step
                )
                stats = (
                    f"epoch {ev.epoch}/{ev.epochs}  loss {ev.loss:.4g}  "
                    f"{ev.samples_per_s / 1000:.1f}k samples/s  ETA {_duration(ev.eta_s)}"
                )
            elif name == "EpochEnd":
                self.train_losses.append((ev.epoch, ev.train_loss))
                self.val_losses.append((ev.epoch, ev.val_loss))
                bar = self.query_one("#train-progress", ProgressBar)
                bar.update(total=ev.epochs, progress=ev.epoch)
                metrics = "  ".join(f"{k} {v:.3g}" for k, v in ev.val_metrics.items())
                stats = (
                    f"epoch {ev.epoch}/{ev.epochs}  val {ev.val_loss:.4g} (best {ev.best_val_loss:.4g} "
                    f"@{ev.best_epoch})  {ev.samples_per_s / 1000:.1f}k samples/s  ETA {_duration(ev.eta_s)}"
                )
                self.query_one("#train-metrics", Static).update(f"validation: {metrics}")
        if stats is not None:
            self.query_one("#train-stats", Static).update(stats)
        if any(type(ev).__name__ == "EpochEnd" for ev in events):
            self._plot()

    def finish(self, text: str, progress_full: bool) -> None:
        """The run ended; ``text`` is the result (metrics, or why it stopped)."""
        self.running = False
        if progress_full:
            bar = self.query_one("#train-progress", ProgressBar)
            bar.update(progress=bar.total or 100)
        # line by line: a line break of the text is kept, one inside a value is escaped
        self.query_one("#train-metrics", Static).update(
            "\n".join(safe(line) for line in text.split("\n"))
        )
        self.query_one("#train-cancel", Button).disabled = True

    # ---------------------------------------------------------------- internal
    def _plot(self) -> None:
        widget = self.query_one("#train-loss", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("loss per epoch")
        plt.xlabel("epoch")
        for series, label, color in (
            (self.train_losses, "train", "cyan"),
            (self.val_losses, "validation", "orange"),
        ):
            pts = series[-MAX_POINTS:]
            if pts:
                plt.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    label=label,
                    color=color,
                    marker="braille",
                )
        widget.refresh()
