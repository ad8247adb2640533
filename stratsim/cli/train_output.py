"""What `stratsim train` shows: the data preview, the rich progress bar, the metrics tables
and the ``--json`` summary (the training itself is :mod:`stratsim.engine.training.job`)."""

from __future__ import annotations

from typing import Any


def print_preview(data, rows: int = 10) -> None:
    """The first ``rows`` rows as the model sees them (model units), on stdout."""
    from rich.console import Console
    from rich.table import Table

    t = Table(
        title=f"{data.n} usable rows of {data.rows_read}; first {min(rows, data.n)} as the model sees them"
    )
    t.add_column("row", justify="right")
    for f in data.features:
        t.add_column(f, justify="right")
    t.add_column(f"target {data.target}", justify="right")
    for i in range(min(rows, data.n)):
        num = str(int(data.row_numbers[i])) if data.row_numbers is not None else str(i + 1)
        t.add_row(num, *(f"{v:.4g}" for v in data.x[i]), f"{data.y[i]:.4g}")
    Console().print(t)


class TrainProgress:
    """A rich progress bar on ``console`` driven by the trainer's events.

    Use as a context manager around the training and pass the instance as its
    ``listener``; :meth:`finish` sets the final epoch count and reports an early stop.
    """

    def __init__(self, console) -> None:
        from rich.progress import BarColumn, Progress, TextColumn

        self.console = console
        self.progress = Progress(
            BarColumn(bar_width=20),
            TextColumn("ep {task.completed:>3.0f}/{task.total:.0f}"),
            TextColumn("loss {task.fields[loss]} val {task.fields[val]}"),
            TextColumn("{task.fields[speed]}"),
            TextColumn("ETA {task.fields[eta]}"),
            console=console,
            transient=False,
            refresh_per_second=8,
        )
        self.task: Any = None

    def __enter__(self) -> TrainProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, ev: Any) -> None:
        from ..engine.training import BatchProgress, EpochEnd, TrainStart

        if isinstance(ev, TrainStart):
            self.progress.console.print(
                f"training {ev.role} ({ev.kind}) on {ev.device}: "
                f"{ev.n_train}/{ev.n_val}/{ev.n_test} train/val/test rows",
                markup=False,
                highlight=False,
            )
            self.task = self.progress.add_task(
                ev.role, total=ev.epochs, loss="-", val="-", speed="", eta="-"
            )
        elif isinstance(ev, BatchProgress):
            self.progress.update(
                self.task,
                completed=ev.epoch - 1 + ev.batch / ev.batches_per_epoch,
                loss=f"{ev.loss:.4f}",
                speed=_fmt_speed(ev.samples_per_s),
                eta=_fmt_s(ev.eta_s),
            )
        elif isinstance(ev, EpochEnd):
            self.progress.update(
                self.task,
                completed=ev.epoch,
                loss=f"{ev.train_loss:.4f}",
                val=f"{ev.val_loss:.4f}",
                speed=_fmt_speed(ev.samples_per_s),
                eta=_fmt_s(ev.eta_s),
            )

    def finish(self, result) -> None:
        """Show the epochs actually run (call inside the ``with``)."""
        if self.task is not None:
            self.progress.update(self.task, total=result.epochs_run or 1, eta="0:00")


def report_early_stop(result, console) -> None:
    if result.stopped_early:
        console.print(
            f"early stop after epoch {result.epochs_run}; best epoch {result.best_epoch} restored",
            markup=False,
            highlight=False,
        )


def _fmt_speed(v: float) -> str:
    return f"{v / 1e6:.2f}M/s" if v >= 1e6 else f"{v / 1e3:.0f}k/s"


def _fmt_s(s: float) -> str:
    s = max(0, int(round(s)))
    return f"{s // 60}:{s % 60:02d}"


def summary(result, saved, data) -> dict:
    import math

    from ..engine.fileio import printable as display_path

    def clean(d):
        return {k: (float(v) if math.isfinite(float(v)) else None) for k, v in d.items()}

    out = {
        "role": result.role,
        "kind": result.kind,
        "features": list(result.features),
        "target": result.target,
        "data": display_path(data.source),
        "format": data.format,
        "rows_used": data.n,
        "rows_dropped": len(data.dropped_rows),
        "device": result.device,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "seconds": round(result.seconds, 3),
        "n_train": result.n_train,
        "n_val": result.n_val,
        "n_test": result.n_test,
        "metrics": clean(result.test_metrics),
        "weights": display_path(saved.weights),
        "metadata": display_path(saved.metadata),
        "weights_sha256": saved.sha256,
        "warnings": list(data.warnings) + list(result.warnings),
    }
    if result.test_intervals:
        out["intervals"] = {k: [lo, hi] for k, (lo, hi) in result.test_intervals.items()}
    if data.target_note:
        out["target_note"] = data.target_note
    if result.coefficients:
        out["coefficients"] = clean(result.coefficients)
    if result.reliability:
        out["reliability"] = [b.as_dict() for b in result.reliability]
    return out


def print_tables(result, saved) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    names = {
        "r2": "R² (test)",
        "mae": "MAE (points)",
        "rmse": "RMSE (points)",
        "roc_auc": "ROC-AUC",
        "brier": "Brier score",
        "log_loss": "log loss",
        "ece": "ECE",
        "prevalence": "incident rate (test)",
        "mean_predicted": "mean predicted p",
    }
    t = Table(title=f"{result.role} model ({result.kind}) - test split, n={result.n_test}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("95% interval", justify="right")
    for k, v in result.test_metrics.items():
        ci = result.test_intervals.get(k)
        t.add_row(names.get(k, k), f"{v:.4f}", f"{ci[0]:.4f}..{ci[1]:.4f}" if ci else "")
    t.add_row("epochs (best)", f"{result.epochs_run} ({result.best_epoch})")
    t.add_row("time", f"{result.seconds:.1f} s on {result.device}")
    con.print(t)
    if result.coefficients:
        c = Table(title="coefficients (original units)")
        c.add_column("term")
        c.add_column("value", justify="right")
        for k, v in result.coefficients.items():
            c.add_row(k, f"{v:+.4f}")
        con.print(c)
    if result.reliability:
        r = Table(title="reliability (test split)")
        for col in ("bin", "mean predicted", "observed", "count"):
            r.add_column(col, justify="right")
        for b in result.reliability:
            r.add_row(
                f"{b.lower:.1f}-{b.upper:.1f}",
                f"{b.mean_predicted:.4f}",
                f"{b.observed:.4f}",
                str(b.count),
            )
        con.print(r)
    from ..engine.fileio import printable as display_path

    con.print(
        f"saved {display_path(saved.weights)} and {display_path(saved.metadata.name)}",
        markup=False,
        highlight=False,
    )
