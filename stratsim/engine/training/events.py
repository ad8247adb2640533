"""Progress events a training run sends to its listener (all frozen dataclasses)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .result import TrainResult


@dataclass(frozen=True, slots=True)
class TrainStart:
    """Training is about to run its first batch."""

    role: str
    kind: str
    device: str
    features: tuple[str, ...]
    n_train: int
    n_val: int
    n_test: int
    epochs: int
    batch_size: int
    batches_per_epoch: int
    lr: float
    pos_weight: float | None


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """Throttled in-epoch progress (at most one per ``progress_interval_s``).

    ``loss`` is the running mean train loss of the current epoch; ``eta_s`` assumes
    all ``epochs`` run (early stopping can only make it shorter).
    """

    epoch: int
    epochs: int
    batch: int
    batches_per_epoch: int
    step: int
    total_steps: int
    loss: float
    samples_per_s: float
    elapsed_s: float
    eta_s: float

    @property
    def fraction(self) -> float:
        """Fraction 0..1 of the maximum number of steps done."""
        return self.step / self.total_steps if self.total_steps else 1.0


@dataclass(frozen=True, slots=True)
class EpochEnd:
    """End of one epoch: losses, validation metrics, speed, early-stopping state.

    ``val_metrics``: ``r2``/``mae``/``rmse`` (satisfaction) or ``roc_auc``/``brier``/
    ``log_loss`` (privacy). ``bad_epochs`` counts epochs since the last improvement;
    training stops early when it reaches ``patience``.
    """

    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    val_metrics: dict[str, float]
    lr: float
    samples_per_s: float
    elapsed_s: float
    eta_s: float
    best_epoch: int
    best_val_loss: float
    bad_epochs: int
    patience: int
    improved: bool


@dataclass(frozen=True, slots=True)
class TrainEnd:
    """Training finished (normally, early-stopped or cancelled); carries the result."""

    result: TrainResult


TrainEvent = TrainStart | BatchProgress | EpochEnd | TrainEnd
Listener = Callable[[Any], None]
