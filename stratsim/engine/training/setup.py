"""Preparing a training run: the seeded split, the model with train-split standardization,
the loss (with ``pos_weight`` for the privacy model), the optimizer and the LR schedule."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..device import resolve_device
from ..errors import TrainingError
from ..nets import TabularNet, build_net
from ..seeds import derive_seed
from .config import TrainConfig
from .events import TrainStart
from .split import split_indices

if TYPE_CHECKING:
    from ..data import TrainingData


@dataclass
class Prepared:
    """Everything a run needs before its first batch (tensors on ``device``)."""

    kind: str
    lr: float
    device: torch.device
    model: TabularNet
    loss_fn: nn.Module
    pos_weight: float | None
    split: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    x_tr: torch.Tensor
    y_tr: torch.Tensor
    x_va: torch.Tensor
    y_va: torch.Tensor
    x_te: torch.Tensor
    y_te: torch.Tensor

    @property
    def n_train(self) -> int:
        return int(self.x_tr.shape[0])


def prepare(data: TrainingData, cfg: TrainConfig) -> Prepared:
    """Split the rows, build and standardize the model, pick the loss; move to the device."""
    kind = cfg.resolved_kind()
    device = resolve_device(cfg.device)
    is_clf = cfg.role == "privacy"
    x_all = torch.as_tensor(data.x, dtype=torch.float32)
    y_all = torch.as_tensor(data.y, dtype=torch.float32)
    stratify = is_clf or bool(getattr(data, "binary_target", False))
    train_idx, val_idx, test_idx = split_indices(
        x_all.shape[0], cfg.seed, cfg.val_fraction, cfg.test_fraction, y_all if stratify else None
    )
    x_tr, y_tr = x_all[train_idx], y_all[train_idx]
    model = _build_model(data, cfg, kind, x_tr, y_tr)
    loss_fn, pos_weight = _loss_function(model, y_tr, device)
    model.to(device)
    return Prepared(
        kind=kind,
        lr=cfg.resolved_lr(),
        device=device,
        model=model,
        loss_fn=loss_fn,
        pos_weight=pos_weight,
        split=(train_idx, val_idx, test_idx),
        x_tr=x_tr.to(device),
        y_tr=y_tr.to(device),
        x_va=x_all[val_idx].to(device),
        y_va=y_all[val_idx].to(device),
        x_te=x_all[test_idx].to(device),
        y_te=y_all[test_idx].to(device),
    )


def _build_model(
    data: TrainingData, cfg: TrainConfig, kind: str, x_tr: torch.Tensor, y_tr: torch.Tensor
) -> TabularNet:
    """A seeded network whose standardization uses train-split statistics only.

    Features set to a constant on purpose (``data.constant_features``) get a unit scale
    and zero first-layer weights; any other feature constant in the train split raises.
    """
    model = build_net(
        cfg.role,
        kind,
        x_tr.shape[1],
        cfg.hidden,
        generator=torch.Generator().manual_seed(derive_seed(cfg.seed, "train-init")),
    )
    xd = x_tr.double()
    y_mean, y_std = (
        (0.0, 1.0)
        if cfg.role == "privacy"
        else (float(y_tr.double().mean()), float(y_tr.double().std(correction=0)))
    )
    x_std = xd.std(0, correction=0).float()
    fixed = getattr(data, "constant_features", ())
    constant = [j for j, f in enumerate(data.features) if f in fixed]
    flat = [f for j, f in enumerate(data.features) if j not in constant and float(x_std[j]) == 0.0]
    if flat:
        raise TrainingError(
            f"feature(s) {', '.join(flat)} are constant in the train split ({x_tr.shape[0]} "
            "rows): the model cannot learn their effect; use more varied data"
        )
    for j in constant:
        x_std[j] = 1.0
    model.set_normalization(xd.mean(0).float(), x_std, y_mean, y_std)
    if constant:
        # A feature set to a constant is standardized to exactly 0 in every row, so its
        # first-layer weights get zero gradients: zeroed here, they stay zero and the
        # model gives the feature no effect, instead of a random one.
        first = next(m for m in model.body if isinstance(m, nn.Linear))
        with torch.no_grad():
            first.weight[:, constant] = 0.0
    return model


def _loss_function(
    model: TabularNet, y_tr: torch.Tensor, device: torch.device
) -> tuple[nn.Module, float | None]:
    """MSE (regression) or ``BCEWithLogitsLoss`` with ``pos_weight = n_neg / n_pos``.

    For classification the model's ``logit_offset`` is set to ``-log(pos_weight)`` so its
    probabilities stay calibrated (see :mod:`..nets`).
    """
    if model.task == "regression":
        return nn.MSELoss(), None
    n_train = y_tr.shape[0]
    n_pos = float(y_tr.sum())
    if n_pos == 0 or n_pos == n_train:
        raise TrainingError("the train split holds one class only; need both labels")
    pos_weight = (n_train - n_pos) / n_pos
    model.logit_offset.fill_(-math.log(pos_weight))
    loss_fn = nn.BCEWithLogitsLoss(
        pos_weight=torch.tensor(pos_weight, dtype=torch.float32, device=device)
    )
    return loss_fn, pos_weight


def make_adam(params, lr: float, weight_decay: float, device: torch.device):
    # fused Adam is faster for small models on CPU and CUDA; fall back if unsupported.
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig) -> Any:
    """``plateau``: halve the LR after ``patience // 3`` flat epochs; ``cosine`` over
    ``epochs``; ``none``: None."""
    if cfg.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=0.5, patience=max(1, cfg.patience // 3)
        )
    if cfg.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    return None


def batches_per_epoch(p: Prepared, cfg: TrainConfig) -> int:
    return (p.n_train + cfg.batch_size - 1) // cfg.batch_size


def start_event(p: Prepared, cfg: TrainConfig, data: TrainingData) -> TrainStart:
    return TrainStart(
        role=cfg.role,
        kind=p.kind,
        device=str(p.device),
        features=tuple(data.features),
        n_train=p.n_train,
        n_val=int(p.split[1].numel()),
        n_test=int(p.split[2].numel()),
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        batches_per_epoch=batches_per_epoch(p, cfg),
        lr=p.lr,
        pos_weight=p.pos_weight,
    )
