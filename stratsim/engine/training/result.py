"""The outcome of a training run (:class:`TrainResult`) and its test-split evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from .. import metrics as M
from ..nets import TabularNet
from ..seeds import derive_seed
from .config import BOOTSTRAP_RESAMPLES, SMALL_TEST_ROWS, TrainConfig
from .events import EpochEnd

if TYPE_CHECKING:
    from ..data import TrainingData


@dataclass
class TrainResult:
    """Outcome of :func:`train_model`.

    Attributes:
        model: the trained module with the best weights, on the CPU, float32.
        test_metrics: metrics on the test split (floats; ``roc_auc`` NaN if one class).
        reliability: the privacy model's 10-bin reliability table on the test split.
        coefficients: original-unit coefficients of linear/logistic kinds, else None.
        history: one :class:`EpochEnd` per completed epoch.
        split: ``(train, val, test)`` row indices ``[n_*]`` (CPU int64) into the data.
        cancelled / stopped_early: how training ended.
        test_intervals: 95% bootstrap percentile intervals ``(lo, hi)`` of the main
            test metrics when the test split has fewer than :data:`SMALL_TEST_ROWS` rows.
        warnings: what the user should know about the result (e.g. a small test split).
    """

    role: str
    kind: str
    features: tuple[str, ...]
    target: str
    model: TabularNet
    config: TrainConfig
    device: str
    epochs_run: int
    best_epoch: int
    best_val_loss: float
    cancelled: bool
    stopped_early: bool
    test_metrics: dict[str, float]
    reliability: list[M.ReliabilityBin] | None
    coefficients: dict[str, float] | None
    history: list[EpochEnd]
    seconds: float
    n_train: int
    n_val: int
    n_test: int
    pos_weight: float | None
    lr: float
    split: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    data: TrainingData | None = field(default=None, repr=False)
    test_intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def bootstrap_intervals(
    y: torch.Tensor, pred: torch.Tensor, classification: bool, seed: int, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of the main test metrics (Efron & Tibshirani 1993).

    Args:
        y, pred: ``[n]`` targets and predictions (satisfaction points, or 0/1 labels and
            probabilities).
        classification: ROC-AUC and Brier score; else R² and MAE.
        seed: seeds the resampling (numpy ``default_rng``).

    Returns:
        ``{metric: (lo, hi)}``; resamples where a metric is undefined (one class) are
        left out.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(y.shape[0])
    idx = torch.as_tensor(rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n)))
    y64, p64 = y.detach().cpu().double(), pred.detach().cpu().double()
    names = ("roc_auc", "brier") if classification else ("r2", "mae")
    funcs = (M.roc_auc, M.brier_score) if classification else (M.r2_score, M.mae)
    samples = {k: [] for k in names}
    for row in idx:
        yb, pb = y64[row], p64[row]
        for k, f in zip(names, funcs, strict=True):
            samples[k].append(f(yb, pb))
    alpha = (1.0 - level) / 2.0
    out = {}
    for k, vals in samples.items():
        arr = np.asarray(vals, dtype=np.float64)
        arr = arr[np.isfinite(arr)]
        if arr.size:
            out[k] = (float(np.quantile(arr, alpha)), float(np.quantile(arr, 1.0 - alpha)))
    return out


def outputs_to_predictions(model: TabularNet, out: torch.Tensor) -> torch.Tensor:
    """Raw outputs ``[n]`` -> what the simulation sees: clipped 0..10 or probability."""
    if model.task == "regression":
        return out.clamp(0.0, 10.0)
    return torch.sigmoid(out + model.logit_offset)


def test_report(
    model: TabularNet, y: torch.Tensor, out: torch.Tensor, seed: int
) -> tuple[
    dict[str, float],
    list[M.ReliabilityBin] | None,
    dict[str, tuple[float, float]],
    tuple[str, ...],
]:
    """Test-split metrics of raw outputs ``out`` ``[n_test]`` against targets ``y`` ``[n_test]``.

    Returns ``(metrics, reliability, intervals, warnings)``: the regression or
    classification metrics (:mod:`..metrics`), the privacy model's reliability table
    (else None) and, below :data:`SMALL_TEST_ROWS` rows, 95% bootstrap intervals with a
    warning naming them.
    """
    is_clf = model.task != "regression"
    pred = outputs_to_predictions(model, out)
    reliability = None
    if is_clf:
        metrics, reliability = M.classification_metrics(y, pred)
    else:
        metrics = M.regression_metrics(y, pred)
    intervals: dict[str, tuple[float, float]] = {}
    warnings: list[str] = []
    n_te = int(y.shape[0])
    if n_te < SMALL_TEST_ROWS:
        intervals = bootstrap_intervals(y, pred, is_clf, derive_seed(seed, "train-bootstrap"))
        shown = ", ".join(
            f"{k} {metrics[k]:.3f} [{lo:.3f}, {hi:.3f}]" for k, (lo, hi) in intervals.items()
        )
        warnings.append(
            f"the test split holds only {n_te} rows (fewer than {SMALL_TEST_ROWS}): its metrics "
            f"are uncertain; 95% bootstrap intervals: {shown}"
        )
    return metrics, reliability, intervals, tuple(warnings)
