"""What one training run from the TUI does, off the UI thread: read the data, train,
save the model into the models folder, load it back (sha256-checked) for the simulation.

The TUI only chooses the request and shows the events; the work is the engine's
(:mod:`stratsim.engine.data`, :mod:`stratsim.engine.training`,
:mod:`stratsim.engine.trained`). Imports of torch happen inside :func:`run_training`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Model choices shown in the training dialog: (role, kind, label).
MODEL_CHOICES: tuple[tuple[str, str, str], ...] = (
    ("satisfaction", "linear", "Satisfaction, linear"),
    ("satisfaction", "mlp", "Satisfaction, MLP"),
    ("privacy", "logistic", "Privacy incidents, logistic"),
    ("privacy", "mlp", "Privacy incidents, MLP"),
)


@dataclass(frozen=True)
class TrainRequest:
    """One training run chosen in the dialog.

    Attributes:
        role, kind: see :data:`MODEL_CHOICES`.
        data_path: CSV/Parquet file, or None for the shipped sample data.
        mapping: ``FEATURE=COL[,COL]`` items (see ``stratsim.engine.data.parse_mapping``).
        target: target column, or None for the role's default.
        scale: ``(lo, hi)`` survey scale mapped to 0..10, or None.
        epochs: maximum epochs (early stopping may end sooner).
        seed: seeds split, initialization and shuffling.
        device: torch device for training (``auto``, ``cpu``, ``cuda``, ``mps``).
        patience: early-stopping patience in epochs (the trainer's default 10).
        recipe: the data preparation (:class:`stratsim.engine.recipe.Recipe`) chosen in
            the dialog; ``mapping``/``target``/``scale``, when given, override it.
        save_recipe: where to write the recipe after a successful training, or None.
    """

    role: str
    kind: str
    data_path: Path | None = None
    mapping: tuple[str, ...] = ()
    target: str | None = None
    scale: tuple[float, float] | None = None
    epochs: int = 30
    seed: int = 0
    device: str = "auto"
    patience: int = 10
    recipe: Any = None
    save_recipe: Path | None = None

    @property
    def label(self) -> str:
        data = "sample data" if self.data_path is None else str(self.data_path)
        return f"{self.role} {self.kind} on {data}"


@dataclass
class TrainOutcome:
    """A finished (or cancelled, best-so-far) training run, saved and reloaded.

    ``model`` is the :class:`~stratsim.engine.trained.TrainedModel` for
    ``Simulation.set_models``; ``saved`` the paths; ``metrics`` the test metrics;
    ``intervals`` their 95% bootstrap intervals when the test split is small.
    """

    request: TrainRequest
    model: Any
    saved: Any
    metrics: dict[str, float]
    coefficients: dict[str, float] | None
    epochs_run: int
    stopped_early: bool
    cancelled: bool
    seconds: float
    warnings: tuple[str, ...] = ()
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def metrics_text(self) -> str:
        """``r2 0.3188 [-0.342, 0.538]  mae 0.8963 [...]``: each metric, with its interval."""
        parts = []
        for k, v in self.metrics.items():
            ci = self.intervals.get(k)
            parts.append(f"{k} {v:.4g}" + (f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else ""))
        return "  ".join(parts)


@dataclass
class Coalescer:
    """Turns the trainer's events into at most one post per ``interval_s`` (~10 Hz).

    TrainStart is always delivered; BatchProgress is thinned to the latest; EpochEnd
    events are all kept (the loss curve needs them) but batched. ``post`` receives a
    list of events; call :meth:`flush` at the end.
    """

    post: Callable[[list[Any]], None]
    interval_s: float = 0.1
    clock: Callable[[], float] = time.monotonic
    _pending: list[Any] = field(default_factory=list)
    _last: float = -1e9

    def __call__(self, event: Any) -> None:
        name = type(event).__name__
        if (
            name == "BatchProgress"
            and self._pending
            and type(self._pending[-1]).__name__ == "BatchProgress"
        ):
            self._pending[-1] = event
        else:
            self._pending.append(event)
        now = self.clock()
        if name == "TrainStart" or now - self._last >= self.interval_s:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self._pending:
            events, self._pending = self._pending, []
            self._last = self.clock() if now is None else now
            self.post(events)


def new_model_dir(models_dir: Path, role: str) -> Path:
    """A folder name under ``models_dir`` not used yet: ``ROLE-YYYYmmdd-HHMMSS[-N]`` (UTC)."""
    from datetime import UTC, datetime

    stem = f"{role}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    target, n = models_dir / stem, 1
    while target.exists():
        n += 1
        target = models_dir / f"{stem}-{n}"
    return target


def run_training(
    request: TrainRequest,
    models_dir: Path,
    listener: Callable[[Any], None] | None,
    stop: threading.Event,
) -> TrainOutcome:
    """Load the data, train, save into a new folder ``models_dir/ROLE-YYYYmmdd-HHMMSS``
    (``ROLE.pt`` + ``ROLE.toml``) and reload the model. Each run gets its own folder so a
    retrained model never overwrites the file an earlier saved session references (its
    sha256 would no longer match). A cancelled run keeps its best weights but is not saved.

    Raises:
        DataError, TrainingError, ModelError: from the engine, with their messages.
    """
    from ..engine.trained import TrainedModel, load_model
    from ..engine.training.job import recipe_error_text, train_and_save

    source, config = _job_inputs(request)
    target = new_model_dir(models_dir, request.role)
    job = train_and_save(
        source,
        config,
        target,
        save_recipe=request.save_recipe,
        listener=listener,
        should_stop=stop,
    )
    result = job.result
    extra: list[str] = []
    if job.saved is None:
        model = TrainedModel.from_result(result)
    else:
        model = load_model(target, request.role)
    if job.recipe_error is not None and request.save_recipe is not None:
        extra.append(
            recipe_error_text(
                job.recipe_error,
                request.save_recipe,
                f" (the model was saved in {target}, its metadata holds the recipe)",
            )
        )
    return TrainOutcome(
        request=request,
        model=model,
        saved=job.saved,
        metrics=dict(result.test_metrics),
        coefficients=result.coefficients,
        epochs_run=result.epochs_run,
        stopped_early=result.stopped_early,
        cancelled=result.cancelled,
        seconds=result.seconds,
        warnings=tuple(job.data.warnings) + tuple(result.warnings) + tuple(extra),
        intervals=dict(result.test_intervals),
    )


def _job_inputs(request: TrainRequest):
    """The engine's data source and training configuration of ``request``."""
    from ..engine.data import parse_mapping
    from ..engine.training import TrainConfig
    from ..engine.training.job import DataSource

    source = DataSource(
        role=request.role,
        path=request.data_path,
        recipe=request.recipe,
        mapping=parse_mapping(list(request.mapping), request.role) if request.mapping else None,
        target=request.target,
        scale=request.scale,
    )
    config = TrainConfig(
        role=request.role,
        kind=request.kind,
        epochs=request.epochs,
        seed=request.seed,
        device=request.device,
        patience=request.patience,
        num_threads=1,  # leave a core to the UI (one thread is also faster at batch 256)
    )
    return source, config
