"""`stratsim train satisfaction|privacy`: train a model on a CSV/XLSX/Parquet file and save it.

Without ``--data`` it trains on the shipped sample data (``stratsim/sample_data``). The
data options (format overrides, target labels, constructs, derived and constant
features, dirty rows, recipes) become a :class:`stratsim.engine.recipe.Recipe` applied by
:func:`stratsim.engine.data.load_training_data`; flags that do not need the data are
checked before it is read.
The model is saved as ``OUT/ROLE.pt`` + ``OUT/ROLE.toml`` (default ``OUT`` = ``models/``
in the current directory) only after training succeeded; ``stratsim run --models OUT``
and the TUI load it from there. Every output (the folder, both model files, the
``--save-recipe`` file) is checked before the data are read; an existing model in ``OUT``
is replaced only with ``--force`` (sessions that reference it stop loading).

Output: a rich progress bar on stderr (loss, validation loss, samples/s, ETA), then a
metrics table on stdout; with ``--json`` one JSON object on stdout instead (progress
still on stderr unless ``--quiet``). Bad input exits 2 with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._common import nonneg_int, positive_int, set_threads

EPILOG = """\
reading (detected and printed; override when the guess is wrong):
  --sep CHAR | tab    --decimal . | ,    --thousands , | . | ' ' | ''
  --encoding NAME     (UTF-8 with or without BOM and UTF-16 with BOM are detected)
  .csv/.tsv/.txt, .xlsx (first sheet) and .parquet files are read.
  --skip-rows-matching REGEX   skip rows with a matching cell (repeatable); repeated
                               header rows and Total/Sum rows are skipped and reported
target:
  --target COL --positive LABEL[,LABEL...]   a label target: these labels are 1, every
                               other label 0 (satisfaction: modelled as 10 x P(label))
features (satisfaction: functionality, ux, service_response [+ segment];
          privacy: records_log10, security_posture, enterprise_share, third_party_access):
  --map FEATURE=COL[,COL...]   a column, or the mean of several items (a construct)
  --min-items K                a construct needs K items present (default: all)
  --derive NAME=EXPR           a derived column: log10, log1p, log, exp, sqrt, abs,
                               clip, where, minimum, maximum, + - * / **, comparisons,
                               == "label", in [...], and/or/not; `back ticks` for names
                               with spaces. NAME may be a feature or be used in --map.
  --set FEATURE=VALUE          a constant feature (its effect is fixed at zero)
  --scale MIN:MAX | COL=MIN:MAX   the scale of the rating columns / of one column,
                               rescaled to 0..10
  --missing VALUE | COL=VALUE  cells meaning "missing" (repeatable), besides empty,
                               NA, N/A, NaN, null, None
  --max-missing F              train on the rest when at most F of the rows are unusable
                               (missing or invalid); default: missing rows up to 0.05
                               dropped, invalid cells refused
recipes: --recipe prep.toml reads all of the above (flags given win); --save-recipe
  prep.toml writes it, detected format included; the recipe is also stored in the
  model's metadata.

example (ECSI mobile-phone survey):
  stratsim train satisfaction --data ecsi_mobi_survey.csv --scale 1:10 --target CUSA1 \\
      --map functionality=PERQ2,PERQ4,PERQ5,PERQ6 --map ux=PERQ7 \\
      --map service_response=PERQ3,CUSCO
"""


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train the satisfaction or privacy model on a CSV/XLSX/Parquet file",
        description="Train the satisfaction model (regression of satisfaction 0..10 on "
        "functionality, ux, service_response) or the privacy model (probability of a "
        "data-leak incident) and save it for `stratsim run --models DIR` and the TUI.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("role", choices=("satisfaction", "privacy"), help="which model to train")
    p.add_argument("--data", metavar="PATH", help="CSV, XLSX or Parquet file (default: sample data)")
    p.add_argument("--recipe", metavar="TOML", help="read the data preparation from a recipe")
    p.add_argument("--save-recipe", metavar="TOML", help="write the data preparation used")
    p.add_argument("--sep", help="cell separator (default: detected)")
    p.add_argument("--decimal", choices=(".", ","), metavar=".|,", help="decimal mark (default: detected)")
    p.add_argument("--thousands", help="thousands separator, '' for none (default: detected)")
    p.add_argument("--encoding", help="text encoding (default: detected)")
    p.add_argument(
        "--skip-rows-matching", action="append", default=[], metavar="REGEX",
        help="skip rows with a cell matching REGEX (repeatable)",
    )
    p.add_argument(
        "--map",
        dest="mapping",
        action="append",
        default=[],
        metavar="FEATURE=COL[,COL...]",
        help="map a feature to column(s) (mean of several); repeatable",
    )
    p.add_argument("--min-items", type=positive_int, metavar="K", help="items a construct needs")
    p.add_argument(
        "--derive", action="append", default=[], metavar="NAME=EXPR", help="a derived column"
    )
    p.add_argument(
        "--set", dest="constants", action="append", default=[], metavar="FEATURE=VALUE",
        help="a constant feature",
    )
    p.add_argument(
        "--target", metavar="COL", help="target column (default satisfaction / incident)"
    )
    p.add_argument("--positive", metavar="LABEL[,LABEL]", help="positive label(s) of the target")
    p.add_argument(
        "--label-period", choices=("month", "year"),
        help="privacy: the period one incident label covers (default month)",
    )
    p.add_argument(
        "--scale", action="append", default=[], metavar="[COL=]MIN:MAX",
        help="input rating scale, rescaled to 0..10 (repeatable per column)",
    )
    p.add_argument(
        "--missing", action="append", default=[], metavar="[COL=]VALUE", help="sentinel for missing"
    )
    p.add_argument(
        "--max-missing",
        type=float,
        default=None,
        metavar="FRACTION",
        help="largest fraction of unusable rows dropped with a warning "
        "(default: missing rows up to 0.05, invalid cells refused)",
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
        default=0,
        help="torch CPU threads for this run (default 0: one thread, the engine's policy: these small "
        "models gain nothing from more, and several threads slow down 10x on a busy machine)",
    )
    p.add_argument(
        "--out", default="models", metavar="DIR", help="model directory (default models/)"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="only read and prepare the data: print the format, the first rows as the model "
        "sees them and every problem; train nothing (--save-recipe still writes the recipe)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing model in --out (sessions that reference it stop loading), "
        "a --save-recipe file that is not a recipe, or a symbolic link at ROLE.pt/ROLE.toml",
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


def recipe_from_args(args: argparse.Namespace):
    """The :class:`~stratsim.engine.recipe.Recipe` of ``--recipe`` and the data flags
    (flags given explicitly win over the recipe file)."""
    from ..engine.recipe import Recipe, build_recipe, load_recipe

    return build_recipe(
        load_recipe(args.recipe) if args.recipe else Recipe(),
        args.role,
        sep=args.sep,
        decimal=args.decimal,
        thousands=args.thousands,
        encoding=args.encoding,
        skip_rows_matching=args.skip_rows_matching,
        target=args.target,
        positive=args.positive,
        label_period=args.label_period,
        mapping=args.mapping,
        min_items=args.min_items,
        scale=args.scale,
        missing=args.missing,
        max_missing=args.max_missing,
        derive=args.derive,
        constants=args.constants,
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..engine.data import load_training_data, sample_data_path
    from ..engine.device import resolve_device
    from ..engine.errors import TrainingError
    from ..engine.fileio import OutputError
    from ..engine.fileio import printable as display_path
    from ..engine.recipe import RECIPE_FILE
    from ..engine.recipe import save_recipe as save_recipe_file
    from ..engine.trained import check_model_folder, metadata_path, save_model, weights_path
    from ..engine.training import TrainConfig, train_model
    from ._common import check_outputs, output_error, refuse_clobber

    err = Console(stderr=True)
    # Everything that does not need the data is checked before the data are read.
    kind = args.kind
    if args.role == "satisfaction" and kind == "logistic":
        raise TrainingError("--model logistic is for the privacy model; use linear or mlp")
    if args.max_missing is not None and not 0.0 <= args.max_missing <= 1.0:
        raise TrainingError(f"--max-missing {args.max_missing}: expected a fraction 0..1")
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
        num_threads=set_threads(args.threads, None),
    )
    try:
        config.validate()
    except TrainingError as exc:
        raise TrainingError(f"{exc} (--lr, --hidden, --model, --epochs, --batch-size)") from None
    resolve_device(args.device)
    recipe = recipe_from_args(args)
    path = Path(args.data) if args.data else sample_data_path(args.role)
    save_recipe = Path(args.save_recipe) if args.save_recipe else None
    refuse_clobber(
        {
            "--out (weights)": weights_path(args.out, args.role),
            "--out (metadata)": metadata_path(args.out, args.role),
            "--save-recipe": save_recipe,
        },
        {"--data": path, "--recipe": Path(args.recipe) if args.recipe else None},
    )
    # Every output is checked before the data are read or an epoch is trained.
    check_outputs([("--save-recipe", save_recipe, RECIPE_FILE)], args.force)
    if not args.check:
        try:
            check_model_folder(args.out, args.role, force=args.force)
        except OutputError as exc:
            raise output_error("--out", exc) from None
    data = load_training_data(path, args.role, recipe=recipe)
    say = lambda text: err.print(text, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    say(f"read {display_path(data.source)}: {data.format}")
    if data.target_note:
        say(f"target: {data.target_note}")
    for w in data.warnings:
        say(f"stratsim: warning: {w}")
    def write_recipe(after: str) -> None:
        if save_recipe is None or data.recipe is None:
            return
        try:
            save_recipe_file(data.recipe, save_recipe, force=args.force)
        except OutputError as exc:
            raise output_error("--save-recipe", exc) from None
        except OSError as exc:
            raise TrainingError(
                f"{display_path(save_recipe)}: cannot write the recipe: {exc.strerror or exc}{after}"
            ) from None

    if args.check:
        _print_preview(data)
        write_recipe("")
        return 0
    result = train_model(data, config) if args.quiet else _train_with_progress(data, config, err)
    for w in result.warnings:
        say(f"stratsim: warning: {w}")
    try:
        saved = save_model(result, args.out, force=args.force)
    except OutputError as exc:  # changed while training
        raise output_error("--out", exc) from None
    write_recipe(f" (the model was saved in {display_path(args.out)})")
    if args.json:
        print(json.dumps(_summary(result, saved, data), allow_nan=False))
    else:
        _print_tables(result, saved)
    return 0


def _print_preview(data, rows: int = 10) -> None:
    """The first ``rows`` rows as the model sees them (model units), on stdout."""
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{data.n} usable rows of {data.rows_read}; first {min(rows, data.n)} as the model sees them")
    t.add_column("row", justify="right")
    for f in data.features:
        t.add_column(f, justify="right")
    t.add_column(f"target {data.target}", justify="right")
    for i in range(min(rows, data.n)):
        num = str(int(data.row_numbers[i])) if data.row_numbers is not None else str(i + 1)
        t.add_row(num, *(f"{v:.4g}" for v in data.x[i]), f"{data.y[i]:.4g}")
    Console().print(t)


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
