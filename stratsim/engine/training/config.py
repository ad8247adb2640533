"""Training configuration: :class:`TrainConfig`, its defaults and its validation."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import TrainingError
from ..nets import DEFAULT_HIDDEN, normalize_kind

#: Learning rate per kind when the config leaves it None (Adam on standardized inputs).
DEFAULT_LR = {"linear": 0.02, "logistic": 0.02, "mlp": 0.003}
#: Largest MLP accepted (weights and biases). 64x64 has ~4.5k; 10,000,000 (40 MB of
#: float32 weights, 160 MB with Adam's state) is far beyond what a few thousand survey
#: rows can fit; a 100,000x100,000 request would need 40 GB for the weights alone.
MAX_PARAMETERS = 10_000_000
#: Below this many test rows the test metrics get bootstrap intervals and a warning:
#: with n < 100 the standard error of R² or ROC-AUC is typically 0.05-0.1 (Hanley &
#: McNeil 1982 for the AUC), as large as the differences one would act on.
SMALL_TEST_ROWS = 100
#: Bootstrap resamples of the test split (percentile intervals, Efron & Tibshirani 1993).
BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (all recorded in the model's metadata).

    Attributes:
        role: ``"satisfaction"`` or ``"privacy"``.
        kind: ``linear``/``mlp`` (satisfaction), ``logistic``/``mlp`` (privacy); None = first.
        epochs: maximum epochs (>= 1).
        batch_size: rows per mini-batch (>= 1).
        lr: Adam learning rate; None = :data:`DEFAULT_LR` of the kind.
        weight_decay: Adam L2 penalty.
        hidden: MLP hidden layer sizes (ignored by the linear kinds).
        patience: epochs without improvement before early stopping.
        min_delta: relative improvement of the validation loss that counts.
        val_fraction, test_fraction: split fractions (train gets the rest).
        seed: seeds the split, the initialization and the shuffling.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        lr_schedule: ``plateau`` (halve after patience//3 flat epochs), ``cosine`` or ``none``.
        num_threads: if set, ``torch.set_num_threads`` for this run only (restored after).
        progress_interval_s: minimum seconds between :class:`BatchProgress` events.
    """

    role: str
    kind: str | None = None
    epochs: int = 100
    batch_size: int = 256
    lr: float | None = None
    weight_decay: float = 0.0
    hidden: tuple[int, ...] = DEFAULT_HIDDEN
    patience: int = 10
    min_delta: float = 1e-4
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0
    device: str = "auto"
    lr_schedule: str = "plateau"
    num_threads: int | None = None
    progress_interval_s: float = 0.1

    def resolved_kind(self) -> str:
        return normalize_kind(self.role, self.kind)

    def resolved_lr(self) -> float:
        return float(self.lr) if self.lr is not None else DEFAULT_LR[self.resolved_kind()]

    def validate(self) -> None:
        """Raise TrainingError naming the first invalid hyperparameter."""
        from ..errors import ModelError

        try:
            kind = self.resolved_kind()
        except ModelError as exc:
            raise TrainingError(str(exc)) from None
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (
                math.isfinite(self.resolved_lr()) and self.resolved_lr() > 0,
                f"learning rate must be a positive number, got {self.lr}",
            ),
            (self.weight_decay >= 0, f"weight decay must be >= 0, got {self.weight_decay}"),
            (self.patience >= 1, f"patience must be >= 1, got {self.patience}"),
            (
                0 < self.val_fraction < 1
                and 0 < self.test_fraction < 1
                and self.val_fraction + self.test_fraction < 1,
                "val and test fractions must be in (0, 1) and sum to less than 1",
            ),
            (
                self.lr_schedule in ("plateau", "cosine", "none"),
                f"lr schedule must be plateau, cosine or none, got {self.lr_schedule!r}",
            ),
            (
                kind != "mlp" or (len(self.hidden) >= 1 and all(h >= 1 for h in self.hidden)),
                f"hidden sizes must be positive, got {self.hidden}",
            ),
            (
                self.num_threads is None or self.num_threads >= 1,
                f"threads must be >= 1, got {self.num_threads}",
            ),
            (
                kind != "mlp" or mlp_parameters(8, self.hidden) <= MAX_PARAMETERS,
                f"hidden sizes {','.join(map(str, self.hidden))} make an MLP of "
                f"{mlp_parameters(8, self.hidden):,} parameters, more than the {MAX_PARAMETERS:,} "
                "allowed; these small tabular models need tens to hundreds per layer (default 64,64)",
            ),
        ]
        for ok, msg in checks:
            if not ok:
                raise TrainingError(msg)


def mlp_parameters(n_features: int, hidden: tuple[int, ...]) -> int:
    """Weights and biases of an MLP ``n_features -> hidden... -> 1``."""
    total, width = 0, n_features
    for h in (*hidden, 1):
        total += width * h + h
        width = h
    return total
