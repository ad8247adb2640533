"""One training job, shared by ``stratsim train`` and the TUI: load the data, train, save
the model folder (and the recipe).

The caller chooses where progress goes (``listener``: the CLI's rich bar, the TUI's
worker messages) and how a cancelled run or a failed recipe write is reported; the
steps and their order are here only. Nothing is written before training succeeded, so a
diverged or refused run leaves an existing model untouched; a cancelled run is not saved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import TrainConfig
from .events import Listener
from .loop import train_model
from .result import TrainResult

if TYPE_CHECKING:
    from ..data import TrainingData
    from ..modelsave import SavedModel
    from ..recipe import Recipe


@dataclass(frozen=True)
class DataSource:
    """Where the training rows come from and how they are prepared.

    Attributes:
        role: ``"satisfaction"`` or ``"privacy"``.
        path: CSV/TSV, XLSX or Parquet file; None = the shipped sample data of ``role``.
        recipe: the data preparation (:class:`stratsim.engine.recipe.Recipe`), or None.
        mapping, target, scale: overrides of the recipe's entries
            (see :func:`stratsim.engine.data.load_training_data`).
    """

    role: str
    path: Path | None = None
    recipe: Recipe | None = None
    mapping: Mapping[str, Sequence[str]] | None = None
    target: str | None = None
    scale: tuple[float, float] | None = None

    def resolved_path(self) -> Path:
        from ..data import sample_data_path

        return self.path if self.path is not None else sample_data_path(self.role)

    def load(self) -> TrainingData:
        """Read and prepare the rows (raises ``DataError`` naming file, column and row)."""
        from ..data import load_training_data

        return load_training_data(
            self.resolved_path(),
            self.role,
            recipe=self.recipe,
            mapping=self.mapping,
            target=self.target,
            scale=self.scale,
        )


@dataclass
class JobOutcome:
    """What :func:`train_and_save` did.

    Attributes:
        data: the prepared rows.
        result: the training result (best weights).
        saved: the model files, or None when the run was cancelled (nothing saved).
        recipe_error: the ``OSError`` or ``OutputError`` of a failed recipe write (the
            model is saved all the same), else None.
    """

    data: TrainingData
    result: TrainResult
    saved: SavedModel | None
    recipe_error: Exception | None = None


def train_and_save(
    source: DataSource,
    config: TrainConfig,
    out: str | Path,
    *,
    force: bool = False,
    save_recipe: str | Path | None = None,
    listener: Listener | None = None,
    should_stop: Any = None,
    on_data: Callable[[TrainingData], None] | None = None,
) -> JobOutcome:
    """Load ``source``, train by ``config``, save ``out/ROLE.pt`` + ``out/ROLE.toml``.

    Args:
        source: the data and its preparation.
        config: hyperparameters (``config.role`` must equal ``source.role``).
        out: the model folder (created if missing).
        force: replace files in the way (see :func:`stratsim.engine.modelsave.save_model`).
        save_recipe: also write the recipe used there, after the model is saved.
        listener, should_stop: passed to :func:`train_model` (progress, cancellation).
        on_data: called with the prepared rows before training (to report the format).

    Raises:
        DataError, TrainingError, ModelError, OutputError: from the engine steps.
    """
    from ..modelsave import save_model

    data = source.load()
    if on_data is not None:
        on_data(data)
    result = train_model(data, config, listener=listener, should_stop=should_stop)
    if result.cancelled:
        return JobOutcome(data, result, None)
    saved = save_model(result, out, force=force)
    return JobOutcome(data, result, saved, write_recipe(data, save_recipe, force=force))


def write_recipe(
    data: TrainingData, path: str | Path | None, *, force: bool = False
) -> Exception | None:
    """Write ``data.recipe`` to ``path`` (if both are set); return the failure, if any."""
    from ..fileio import OutputError
    from ..recipefile import save_recipe as save_recipe_file

    if path is None or data.recipe is None:
        return None
    try:
        save_recipe_file(data.recipe, Path(path), force=force)
    except (OSError, OutputError) as exc:
        return exc
    return None


def recipe_error_text(exc: Exception, path: str | Path, after: str = "") -> str:
    """``PATH: cannot write the recipe: REASON`` + ``after`` for a failed recipe write."""
    from ..fileio import printable

    reason = (exc.strerror or exc) if isinstance(exc, OSError) else exc
    return f"{printable(path)}: cannot write the recipe: {reason}{after}"
