"""`stratsim train satisfaction|privacy`: train a model on a CSV/Parquet file and save it.

Without ``--data`` it trains on the shipped sample data (``stratsim/sample_data``).
The model is saved as ``OUT/ROLE.pt`` + ``OUT/ROLE.toml`` (default ``OUT`` = ``models/``
in the current directory) only after training succeeded; ``stratsim run --models OUT``
and the TUI load it from there.

Output: a rich progress bar on stderr (loss, validation loss, samples/s, ETA), then a
metrics table on stdout; with ``--json`` one JSON object on stdout instead (progress
still on stderr unless ``--quiet``). Bad input exits 2 with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._common import nonneg_int, positive_int

EPILOG = """\
column mapping:
  --map FEATURE=COL[,COL...]   feature from a column, or the mean of several columns
                               (repeat per feature); unmapped features use the column
                               of the same name. satisfaction: functionality, ux,
                               service_response (+ optional segment);
                               privacy: records_log10, security_posture,
                               enterprise_share, third_party_access
  --scale MIN:MAX              the file's rating scale, rescaled to 0..10 (satisfaction:
                               features and target; privacy: security_posture)
  --missing VALUE              treat cells equal to VALUE as missing (repeatable), in
                               addition to empty, NA, N/A, NaN, null, None
  rows with missing values are dropped with a warning if at most --max-missing of the
  rows (default 0.05); binary labels accept yes/no, true/false, 1/0.

example (ECSI mobile-phone survey):
  stratsim train satisfaction --data ecsi_mobi_survey.csv --scale 1:10 --target CUSA1 \\
      --map functionality=PERQ2,PERQ4,PERQ5,PERQ6 --map ux=PERQ7 \\
      --map service_response=PERQ3,CUSCO
"""


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train the satisfaction or privacy model on a CSV/Parquet file",
        description="Train the satisfaction model (regression of satisfaction 0..10 on "
        "functionality, ux, service_response) or the privacy model (probability of a "
        "data-leak incident) and save it for `stratsim run --models DIR` and the TUI.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("role", choices=("satisfaction", "privacy"), help="which model to train")
    p.add_argument("--data", metavar="PATH", help="CSV or Parquet file (default: sample data)")
    p.add_argument(
        "--map",
        dest="mapping",
        action="append",
        default=[],
        metavar="FEATURE=COL[,COL...]",
        help="map a feature to column(s) (mean of several); repeatable",
    )
    p.add_argument(
        "--target", metavar="COL", help="target column (default satisfaction / incident)"
    )
    p.add_argument("--scale", metavar="MIN:MAX", help="input rating scale, rescaled to 0..10")
    p.add_argument(
        "--missing", action="append", default=[], metavar="VALUE", help="sentinel for missing"
    )
    p.add_argument(
        "--max-missing",
        type=float,
        default=0.05,
        metavar="FRACTION",
        help="largest fraction of rows with missing values dropped with a warning (default 0.05)",
    )
    p.add_argument(
        "--model",
        dest="kind",
        choices=("linear", "logistic", "mlp"),
        help="model kind (default: linear for satisfaction, logistic for privacy)",
    )
    p.add_argument("--epochs", type=positive_int, default=100, help="maximum epochs (default 100)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="mini-batch size (default 256)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 0.02 linear, 0.003 mlp)")
    p.add_argument("--hidden", default="64,64", help="MLP hidden sizes (default 64,64)")
    p.add_argument("--patience", type=positive_int, default=10, help="early-stopping patience (epochs)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of split, init and shuffling")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto", help="training device (default auto: cuda, mps, cpu)")
    p.add_argument(
        "--threads",
        type=nonneg_int,
        default=1,
        help="torch CPU threads for this run (default 1: these small models gain nothing "
        "from more, and several threads slow down 10x on a busy machine; 0 = torch's default)",
    )
    p.add_argument(
        "--out", default="models", metavar="DIR", help="model directory (default models/)"
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _parse_hidden(text: str) -> tuple[int, ...]:
    from ..engine.errors import TrainingError

    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        sizes = ()
    if not sizes or any(s < 1 for s in sizes):
        raise TrainingError(f"--hidden {text!r}: expected positive sizes like 64,64")
    return sizes


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..engine.data import load_training_data, parse_mapping, parse_scale, sample_data_path
    from ..engine.trained import save_model
    from ..engine.training import TrainConfig, train_model

    err = Console(stderr=True)
    mapping = parse_mapping(args.mapping, args.role)
    scale = parse_scale(args.scale)
    path = Path(args.data) if args.data else sample_data_path(args.role)
    data = load_training_data(
        path,
        args.role,
        mapping=mapping,
        target=args.target,
        scale=scale,
        missing=args.missing,
        max_missing_fraction=args.max_missing,
    )
    for w in data.warnings:
        err.print(f"stratsim: warning: {w}", markup=False, highlight=False)
    kind = args.kind
    if args.role == "satisfaction" and kind == "logistic":
        from ..engine.errors import TrainingError

        raise TrainingError("--model logistic is for the privacy model; use linear or mlp")
    config = TrainConfig(
        role=args.role,
        kind=kind,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        hidden=_parse_hidden(args.hidden),
        patience=args.patience,
        seed=args.seed,
        device=args.device,
        num_threads=args.threads if args.threads != 0 else None,
    )
    config.validate()
    result = train_model(data, config) if args.quiet else _train_with_progress(data, config, err)
    saved = save_model(result, args.out)
    if args.json:
        print(json.dumps(_summary(result, saved, data), allow_nan=False))
    else:
        _print_tables(result, saved)
    return 0


def _train_with_progress(data, config, console):
    from rich.progress import BarColumn, Progress, TextColumn

    from ..engine.training import BatchProgress, EpochEnd, TrainStart, train_model

    progress = Progress(
        BarColumn(bar_width=20),
        TextColumn("ep {task.completed:>3.0f}/{task.total:.0f}"),
        TextColumn("loss {task.fields[loss]} val {task.fields[val]}"),
        TextColumn("{task.fields[speed]}"),
        TextColumn("ETA {task.fields[eta]}"),
        console=console,
        transient=False,
        refresh_per_second=8,
    )
    state = {"task": None}

    def listener(ev) -> None:
        if isinstance(ev, TrainStart):
            progress.console.print(
                f"training {ev.role} ({ev.kind}) on {ev.device}: "
                f"{ev.n_train}/{ev.n_val}/{ev.n_test} train/val/test rows",
                markup=False,
                highlight=False,
            )
            state["task"] = progress.add_task(
                ev.role, total=ev.epochs, loss="-", val="-", speed="", eta="-"
            )
        elif isinstance(ev, BatchProgress):
            progress.update(
                state["task"],
                completed=ev.epoch - 1 + ev.batch / ev.batches_per_epoch,
                loss=f"{ev.loss:.4f}",
                speed=_fmt_speed(ev.samples_per_s),
                eta=_fmt_s(ev.eta_s),
            )
        elif isinstance(ev, EpochEnd):
            progress.update(
                state["task"],
                completed=ev.epoch,
                loss=f"{ev.train_loss:.4f}",
                val=f"{ev.val_loss:.4f}",
                speed=_fmt_speed(ev.samples_per_s),
                eta=_fmt_s(ev.eta_s),
            )

    with progress:
        result = train_model(data, config, listener=listener)
        if state["task"] is not None:
            progress.update(state["task"], total=result.epochs_run or 1, eta="0:00")
    if result.stopped_early:
        console.print(
            f"early stop after epoch {result.epochs_run}; best epoch {result.best_epoch} restored",
            markup=False,
            highlight=False,
        )
    return result


def _fmt_speed(v: float) -> str:
    return f"{v / 1e6:.2f}M/s" if v >= 1e6 else f"{v / 1e3:.0f}k/s"


def _fmt_s(s: float) -> str:
    s = max(0, int(round(s)))
    return f"{s // 60}:{s % 60:02d}"


def _summary(result, saved, data) -> dict:
    import math

    def clean(d):
        return {k: (float(v) if math.isfinite(float(v)) else None) for k, v in d.items()}

    out = {
        "role": result.role,
        "kind": result.kind,
        "features": list(result.features),
        "target": result.target,
        "data": str(data.source),
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
        "weights": str(saved.weights),
        "metadata": str(saved.metadata),
        "weights_sha256": saved.sha256,
        "warnings": list(data.warnings),
    }
    if result.coefficients:
        out["coefficients"] = clean(result.coefficients)
    if result.reliability:
        out["reliability"] = [b.as_dict() for b in result.reliability]
    return out


def _print_tables(result, saved) -> None:
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
    for k, v in result.test_metrics.items():
        t.add_row(names.get(k, k), f"{v:.4f}")
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
    con.print(f"saved {saved.weights} and {saved.metadata.name}", markup=False, highlight=False)
