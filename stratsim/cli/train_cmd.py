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
import contextlib
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
    from ..engine.models import ROLES

    p.add_argument("role", choices=ROLES, help="which model to train")
    _add_data_options(p)
    _add_training_options(p)
    p.set_defaults(func=run)


def _add_data_options(p: argparse.ArgumentParser) -> None:
    """Where the data come from and how they are prepared (a recipe's settings)."""
    p.add_argument(
        "--data", metavar="PATH", help="CSV, XLSX or Parquet file (default: sample data)"
    )
    p.add_argument("--recipe", metavar="TOML", help="read the data preparation from a recipe")
    p.add_argument("--save-recipe", metavar="TOML", help="write the data preparation used")
    p.add_argument("--sep", help="cell separator (default: detected)")
    p.add_argument(
        "--decimal", choices=(".", ","), metavar=".|,", help="decimal mark (default: detected)"
    )
    p.add_argument("--thousands", help="thousands separator, '' for none (default: detected)")
    p.add_argument("--encoding", help="text encoding (default: detected)")
    p.add_argument(
        "--skip-rows-matching",
        action="append",
        default=[],
        metavar="REGEX",
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
        "--set",
        dest="constants",
        action="append",
        default=[],
        metavar="FEATURE=VALUE",
        help="a constant feature",
    )
    p.add_argument(
        "--target", metavar="COL", help="target column (default satisfaction / incident)"
    )
    p.add_argument("--positive", metavar="LABEL[,LABEL]", help="positive label(s) of the target")
    p.add_argument(
        "--label-period",
        choices=("month", "year"),
        help="privacy: the period one incident label covers (default month)",
    )
    p.add_argument(
        "--scale",
        action="append",
        default=[],
        metavar="[COL=]MIN:MAX",
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


def _add_training_options(p: argparse.ArgumentParser) -> None:
    """The model, its hyperparameters and the outputs."""
    p.add_argument(
        "--model",
        dest="kind",
        choices=("linear", "logistic", "mlp"),
        help="model kind (default: linear for satisfaction, logistic for privacy)",
    )
    p.add_argument("--epochs", type=positive_int, default=100, help="maximum epochs (default 100)")
    p.add_argument(
        "--batch-size", type=positive_int, default=256, help="mini-batch size (default 256)"
    )
    p.add_argument("--lr", type=float, help="Adam learning rate (default 0.02 linear, 0.003 mlp)")
    p.add_argument("--hidden", default="64,64", help="MLP hidden sizes (default 64,64)")
    p.add_argument(
        "--patience", type=positive_int, default=10, help="early-stopping patience (epochs)"
    )
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of split, init and shuffling")
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda", "mps"),
        default="auto",
        help="training device (default auto: cuda, mps, cpu)",
    )
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
    from ..engine.recipe import Recipe, build_recipe
    from ..engine.recipefile import load_recipe

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

    from ..engine.fileio import OutputError
    from ..engine.fileio import printable as display_path
    from ..engine.training.job import DataSource, train_and_save
    from ._common import output_error
    from .train_output import TrainProgress, print_tables, report_early_stop, summary

    err = Console(stderr=True)
    config = _checked_config(args)
    source = DataSource(
        role=args.role,
        path=Path(args.data) if args.data else None,
        recipe=recipe_from_args(args),
    )
    save_recipe = Path(args.save_recipe) if args.save_recipe else None
    _check_outputs_first(args, source, save_recipe)
    say = lambda text: err.print(text, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    if args.check:
        return _check_only(args, source, save_recipe, say)
    progress = None if args.quiet else TrainProgress(err)
    try:
        with progress or contextlib.nullcontext():
            job = train_and_save(
                source,
                config,
                args.out,
                force=args.force,
                save_recipe=save_recipe,
                listener=progress,
                on_data=lambda data: _report_data(data, say),
            )
            if progress is not None:
                progress.finish(job.result)
    except OutputError as exc:  # the model folder changed while training
        raise output_error("--out", exc) from None
    if progress is not None:
        report_early_stop(job.result, err)
    for w in job.result.warnings:
        say(f"stratsim: warning: {w}")
    _raise_recipe_error(
        job.recipe_error, save_recipe, f" (the model was saved in {display_path(args.out)})"
    )
    if args.json:
        print(json.dumps(summary(job.result, job.saved, job.data), allow_nan=False))
    else:
        print_tables(job.result, job.saved)
    return 0


def _checked_config(args: argparse.Namespace):
    """The :class:`TrainConfig` of the flags, checked before any data are read."""
    from ..engine.device import resolve_device
    from ..engine.errors import TrainingError
    from ..engine.training import TrainConfig

    if args.role == "satisfaction" and args.kind == "logistic":
        raise TrainingError("--model logistic is for the privacy model; use linear or mlp")
    if args.max_missing is not None and not 0.0 <= args.max_missing <= 1.0:
        raise TrainingError(f"--max-missing {args.max_missing}: expected a fraction 0..1")
    config = TrainConfig(
        role=args.role,
        kind=args.kind,
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
    return config


def _check_outputs_first(args: argparse.Namespace, source, save_recipe: Path | None) -> None:
    """Refuse outputs that are inputs or not ours before the data are read or trained on."""
    from ..engine.fileio import OutputError
    from ..engine.modelsave import check_model_folder
    from ..engine.recipefile import RECIPE_FILE
    from ..engine.trained import metadata_path, weights_path
    from ._common import check_outputs, output_error, refuse_clobber

    refuse_clobber(
        {
            "--out (weights)": weights_path(args.out, args.role),
            "--out (metadata)": metadata_path(args.out, args.role),
            "--save-recipe": save_recipe,
        },
        {"--data": source.resolved_path(), "--recipe": Path(args.recipe) if args.recipe else None},
    )
    check_outputs([("--save-recipe", save_recipe, RECIPE_FILE)], args.force)
    if not args.check:
        try:
            check_model_folder(args.out, args.role, force=args.force)
        except OutputError as exc:
            raise output_error("--out", exc) from None


def _report_data(data, say) -> None:
    from ..engine.fileio import printable as display_path

    say(f"read {display_path(data.source)}: {data.format}")
    if data.target_note:
        say(f"target: {data.target_note}")
    for w in data.warnings:
        say(f"stratsim: warning: {w}")


def _check_only(args: argparse.Namespace, source, save_recipe: Path | None, say) -> int:
    """``--check``: read and prepare the data, show them, write the recipe; train nothing."""
    from ..engine.training.job import write_recipe
    from .train_output import print_preview

    data = source.load()
    _report_data(data, say)
    print_preview(data)
    _raise_recipe_error(write_recipe(data, save_recipe, force=args.force), save_recipe, "")
    return 0


def _raise_recipe_error(exc: Exception | None, path: Path | None, after: str) -> None:
    from ..engine.errors import TrainingError
    from ..engine.fileio import OutputError
    from ..engine.training.job import recipe_error_text
    from ._common import output_error

    if exc is None or path is None:
        return
    if isinstance(exc, OutputError):
        raise output_error("--save-recipe", exc) from None
    raise TrainingError(recipe_error_text(exc, path, after)) from None
