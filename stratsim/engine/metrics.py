"""Evaluation metrics, computed with torch in float64 on the CPU (no sklearn).

All functions take 1-D tensors ``[n]`` (any device/dtype; converted to CPU float64)
and return Python floats, so results go straight into TOML/JSON.

Formulas:

* R² = 1 - SS_res / SS_tot (coefficient of determination; 0 = predicting the mean).
* MAE = mean |y - y_hat| (target units).
* ROC-AUC by the Mann-Whitney U statistic with average ranks for ties:
  ``(R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)`` (Hanley & McNeil 1982, Radiology
  143(1)); equals the probability a random positive scores above a random negative,
  ties counting one half.
* Brier score = mean (p - y)² (Brier 1950, Monthly Weather Review 78(1)).
* Log loss = -mean [y log p + (1 - y) log(1 - p)], p clamped to [1e-7, 1 - 1e-7].
* Reliability table: 10 equal-width bins of predicted probability, each with mean
  prediction, observed frequency and count; ECE = sum_b (n_b / n) |mean_p_b - obs_b|
  (Naeini, Cooper & Hauskrecht 2015, AAAI).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


def _f64(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(device="cpu", dtype=torch.float64).reshape(-1)


def r2_score(y: torch.Tensor, pred: torch.Tensor) -> float:
    """R² of ``pred`` ``[n]`` against ``y`` ``[n]``; 0.0 if ``y`` is constant."""
    y, pred = _f64(y), _f64(pred)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    ss_res = float(((y - pred) ** 2).sum())
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0


def mae(y: torch.Tensor, pred: torch.Tensor) -> float:
    """Mean absolute error (target units) of ``pred`` ``[n]`` against ``y`` ``[n]``."""
    return float((_f64(y) - _f64(pred)).abs().mean())


def rmse(y: torch.Tensor, pred: torch.Tensor) -> float:
    """Root mean squared error (target units)."""
    return float(((_f64(y) - _f64(pred)) ** 2).mean().sqrt())


def roc_auc(y: torch.Tensor, score: torch.Tensor) -> float:
    """Tie-aware ROC-AUC (Mann-Whitney) of ``score`` ``[n]`` for 0/1 labels ``y`` ``[n]``.

    Returns NaN when only one class is present (undefined).
    """
    y, s = _f64(y), _f64(score)
    n_pos = float(y.sum())
    n_neg = float(y.numel()) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = torch.argsort(s)
    s_sorted = s[order]
    _, inverse, counts = torch.unique_consecutive(s_sorted, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).to(torch.float64)  # 1-based rank of each group's last
    avg_rank = ends - (counts.to(torch.float64) - 1.0) / 2.0
    ranks = torch.empty_like(s)
    ranks[order] = avg_rank[inverse]
    r_pos = float(ranks[y > 0.5].sum())
    return (r_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)


def brier_score(y: torch.Tensor, p: torch.Tensor) -> float:
    """Mean squared error of probabilities ``p`` ``[n]`` against 0/1 labels ``y`` ``[n]``."""
    return float(((_f64(p) - _f64(y)) ** 2).mean())


def log_loss(y: torch.Tensor, p: torch.Tensor, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy (nats) of probabilities ``p`` ``[n]``, clamped by ``eps``."""
    y, p = _f64(y), _f64(p).clamp(eps, 1.0 - eps)
    return float(-(y * p.log() + (1.0 - y) * (1.0 - p).log()).mean())


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability table (probabilities 0..1; ``count`` rows)."""

    lower: float
    upper: float
    mean_predicted: float
    observed: float
    count: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def reliability_table(y: torch.Tensor, p: torch.Tensor, n_bins: int = 10) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1] (last bin closed); empty bins are left out."""
    y, p = _f64(y), _f64(p)
    idx = (p * n_bins).floor().clamp(0, n_bins - 1).long()
    out: list[ReliabilityBin] = []
    for b in range(n_bins):
        m = idx == b
        c = int(m.sum())
        if c:
            out.append(
                ReliabilityBin(
                    lower=b / n_bins,
                    upper=(b + 1) / n_bins,
                    mean_predicted=float(p[m].mean()),
                    observed=float(y[m].mean()),
                    count=c,
                )
            )
    return out


def expected_calibration_error(table: list[ReliabilityBin]) -> float:
    """ECE from a reliability table: count-weighted mean |mean_predicted - observed|."""
    n = sum(b.count for b in table)
    if n == 0:
        return float("nan")
    return sum(b.count * abs(b.mean_predicted - b.observed) for b in table) / n


def regression_metrics(y: torch.Tensor, pred: torch.Tensor) -> dict[str, float]:
    """``{"r2", "mae", "rmse"}`` for predictions ``[n]`` (satisfaction points)."""
    return {"r2": r2_score(y, pred), "mae": mae(y, pred), "rmse": rmse(y, pred)}


def classification_metrics(
    y: torch.Tensor, p: torch.Tensor, n_bins: int = 10
) -> tuple[dict[str, float], list[ReliabilityBin]]:
    """``({"roc_auc", "brier", "log_loss", "ece", "prevalence", "mean_predicted"}, table)``.

    ``roc_auc`` is NaN when the labels hold one class only.
    """
    table = reliability_table(y, p, n_bins)
    metrics = {
        "roc_auc": roc_auc(y, p),
        "brier": brier_score(y, p),
        "log_loss": log_loss(y, p),
        "ece": expected_calibration_error(table),
        "prevalence": float(_f64(y).mean()),
        "mean_predicted": float(_f64(p).mean()),
    }
    return metrics, table
