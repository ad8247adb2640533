"""The training loop: data preparation, mini-batch epochs, early stopping, the result.

:func:`train_model` is the entry point (see the package docstring for what it does).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .. import metrics as M
from ..errors import TrainingError
from ..nets import TabularNet
from ..seeds import derive_seed
from .config import TrainConfig
from .events import BatchProgress, EpochEnd, Listener, TrainEnd
from .result import TrainResult, outputs_to_predictions, test_report
from .setup import Prepared, batches_per_epoch, make_adam, make_scheduler, prepare, start_event

if TYPE_CHECKING:
    from ..data import TrainingData


@dataclass
class _LoopState:
    """Mutable bookkeeping of the epochs: best weights, early stopping, progress clock."""

    t_train: float
    next_emit: float
    best_state: dict[str, torch.Tensor] | None = None
    best_val: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list[EpochEnd] = field(default_factory=list)
    cancelled: bool = False
    stopped_early: bool = False
    epochs_run: int = 0
    step: int = 0


def train_model(
    data: TrainingData,
    config: TrainConfig,
    listener: Listener | None = None,
    should_stop=None,
) -> TrainResult:
    """Train a model for ``config.role`` on ``data`` (``x`` ``[n, k]``, ``y`` ``[n]``).

    Args:
        data: validated training data (``stratsim.engine.data``).
        config: hyperparameters; ``config.role`` must equal ``data.role``.
        listener: called with each :data:`TrainEvent` on this thread (keep it cheap:
            post a message, do not render). Exceptions it raises propagate.
        should_stop: ``threading.Event`` or callable; checked before every batch.

    Returns:
        :class:`TrainResult` (best weights; ``cancelled`` if stopped by ``should_stop``).

    Raises:
        TrainingError: invalid config, device unavailable, too few rows, NaN/inf loss.
    """
    config.validate()
    if data.role != config.role:
        raise TrainingError(f"data are for the {data.role} model, config for {config.role}")
    old_threads = None
    if config.num_threads is not None:
        old_threads = torch.get_num_threads()
        torch.set_num_threads(config.num_threads)
    try:
        return _train(data, config, listener, _as_stop_check(should_stop))
    finally:
        if old_threads is not None:
            torch.set_num_threads(old_threads)


def _as_stop_check(should_stop) -> Callable[[], bool] | None:
    if should_stop is None:
        return None
    is_set = getattr(should_stop, "is_set", None)
    if callable(is_set):
        return is_set
    if callable(should_stop):
        return should_stop
    raise TypeError("should_stop must be a threading.Event or a callable returning bool")


def _train(
    data: TrainingData,
    cfg: TrainConfig,
    listener: Listener | None,
    stop: Callable[[], bool] | None,
) -> TrainResult:
    t0 = time.monotonic()
    p = prepare(data, cfg)
    opt = make_adam(p.model.parameters(), p.lr, cfg.weight_decay, p.device)
    sched = make_scheduler(opt, cfg)
    if listener is not None:
        listener(start_event(p, cfg, data))
    st = _run_epochs(p, cfg, opt, sched, listener, stop)
    _restore_best(p, st)
    result = _make_result(p, cfg, data, st, t0)
    if listener is not None:
        listener(TrainEnd(result))
    return result


# ------------------------------------------------------------------------------ epochs


def _run_epochs(
    p: Prepared,
    cfg: TrainConfig,
    opt: torch.optim.Optimizer,
    sched: Any,
    listener: Listener | None,
    stop: Callable[[], bool] | None,
) -> _LoopState:
    """Epochs until ``cfg.epochs``, early stopping or cancellation."""
    shuffle_gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "train-shuffle"))
    t_train = time.monotonic()
    st = _LoopState(t_train=t_train, next_emit=t_train + cfg.progress_interval_s)
    p.model.train()
    with torch.no_grad():  # standardized once, not in every batch (bit-identical: elementwise)
        xn_tr = p.model.normalize(p.x_tr)
    for epoch in range(1, cfg.epochs + 1):
        t_epoch = time.monotonic()
        perm = torch.randperm(p.n_train, generator=shuffle_gen).to(p.device)
        loss_sum, seen = _run_batches(
            p, cfg, opt, st, epoch, xn_tr[perm], p.y_tr[perm], listener, stop
        )
        if st.cancelled:
            break
        _end_epoch(p, cfg, opt, sched, st, epoch, float(loss_sum) / max(seen, 1), t_epoch)
        if listener is not None:
            listener(st.history[-1])
        if st.bad_epochs >= cfg.patience:
            st.stopped_early = True
            break
    return st


def _run_batches(
    p: Prepared,
    cfg: TrainConfig,
    opt: torch.optim.Optimizer,
    st: _LoopState,
    epoch: int,
    xs: torch.Tensor,
    ys: torch.Tensor,
    listener: Listener | None,
    stop: Callable[[], bool] | None,
) -> tuple[torch.Tensor, int]:
    """One epoch of mini-batches over shuffled ``xs`` ``[n_train, k]``, ``ys`` ``[n_train]``.

    Returns the sample-weighted loss sum (a device tensor) and the rows seen; sets
    ``st.cancelled`` when ``stop`` fires.
    """
    bs = cfg.batch_size
    loss_sum = torch.zeros((), device=p.device)
    seen = 0
    for b in range(batches_per_epoch(p, cfg)):
        if stop is not None and stop():
            st.cancelled = True
            break
        lo = b * bs
        xb, yb = xs[lo : lo + bs], ys[lo : lo + bs]
        loss = p.loss_fn(p.model.forward_normalized(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        n_b = xb.shape[0]
        loss_sum.add_(loss.detach(), alpha=n_b)
        seen += n_b
        st.step += 1
        if listener is not None:
            now = time.monotonic()
            if now >= st.next_emit:
                st.next_emit = now + cfg.progress_interval_s
                listener(_batch_event(p, cfg, st, epoch, b, float(loss_sum) / seen, seen, now))
    return loss_sum, seen


def _batch_event(
    p: Prepared,
    cfg: TrainConfig,
    st: _LoopState,
    epoch: int,
    b: int,
    running: float,
    seen: int,
    now: float,
) -> BatchProgress:
    """The throttled :class:`BatchProgress` for batch ``b`` (raises if the loss diverged)."""
    if not math.isfinite(running):
        raise _diverged("training", running, epoch, p.lr)
    nb = batches_per_epoch(p, cfg)
    total_steps = cfg.epochs * nb
    elapsed = now - st.t_train
    return BatchProgress(
        epoch=epoch,
        epochs=cfg.epochs,
        batch=b + 1,
        batches_per_epoch=nb,
        step=st.step,
        total_steps=total_steps,
        loss=running,
        samples_per_s=((epoch - 1) * p.n_train + seen) / max(elapsed, 1e-9),
        elapsed_s=elapsed,
        eta_s=elapsed * (total_steps / st.step - 1.0),
    )


def _end_epoch(
    p: Prepared,
    cfg: TrainConfig,
    opt: torch.optim.Optimizer,
    sched: Any,
    st: _LoopState,
    epoch: int,
    train_loss: float,
    t_epoch: float,
) -> None:
    """Validate, keep the best weights, step the LR schedule, append an :class:`EpochEnd`."""
    st.epochs_run = epoch
    if not math.isfinite(train_loss):
        raise _diverged("training", train_loss, epoch, p.lr)
    t_fit = time.monotonic() - t_epoch
    val_loss, val_out = _evaluate(p.model, p.x_va, p.y_va, p.loss_fn)
    if not math.isfinite(val_loss):
        raise _diverged("validation", val_loss, epoch, p.lr)
    improved = (
        val_loss < st.best_val - cfg.min_delta * abs(st.best_val)
        if st.best_state is not None
        else True
    )
    if improved:
        st.best_val, st.best_epoch, st.bad_epochs = val_loss, epoch, 0
        st.best_state = _snapshot(p.model)
    else:
        st.bad_epochs += 1
    cur_lr = float(opt.param_groups[0]["lr"])
    if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
        sched.step(val_loss)
    elif sched is not None:
        sched.step()
    elapsed = time.monotonic() - st.t_train
    st.history.append(
        EpochEnd(
            epoch=epoch,
            epochs=cfg.epochs,
            train_loss=train_loss,
            val_loss=val_loss,
            val_metrics=_quick_metrics(p.model, p.y_va, val_out),
            lr=cur_lr,
            samples_per_s=p.n_train / max(t_fit, 1e-9),
            elapsed_s=elapsed,
            eta_s=elapsed / epoch * (cfg.epochs - epoch),
            best_epoch=st.best_epoch,
            best_val_loss=st.best_val,
            bad_epochs=st.bad_epochs,
            patience=cfg.patience,
            improved=improved,
        )
    )


def _snapshot(model: TabularNet) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _evaluate(
    model: TabularNet, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module, chunk: int = 65536
) -> tuple[float, torch.Tensor]:
    """Loss (float) and raw outputs ``[n]`` of ``model`` on ``x`` ``[n, k]``, eval mode."""
    model.eval()
    try:
        with torch.inference_mode():
            out = torch.cat([model(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)])
            loss = float(loss_fn(out, y))
    finally:
        model.train()
    return loss, out


def _quick_metrics(model: TabularNet, y: torch.Tensor, out: torch.Tensor) -> dict[str, float]:
    pred = outputs_to_predictions(model, out)
    if model.task == "regression":
        return M.regression_metrics(y, pred)
    return {
        "roc_auc": M.roc_auc(y, pred),
        "brier": M.brier_score(y, pred),
        "log_loss": M.log_loss(y, pred),
    }


def _diverged(what: str, value: float, epoch: int, lr: float) -> TrainingError:
    return TrainingError(
        f"training diverged: {what} loss is {value} at epoch {epoch} (learning rate {lr:g}); "
        "try a smaller learning rate or check the data; no model was saved and any "
        "previously saved model is unchanged"
    )


# ------------------------------------------------------------------------------ result


def _restore_best(p: Prepared, st: _LoopState) -> None:
    """Load the best weights; after a cancel, mid-epoch weights count if they are better."""
    if st.cancelled:
        # Mid-epoch weights may beat the best epoch (or there is no epoch yet).
        val_loss, _ = _evaluate(p.model, p.x_va, p.y_va, p.loss_fn)
        if st.best_state is None or (math.isfinite(val_loss) and val_loss < st.best_val):
            st.best_val = val_loss if math.isfinite(val_loss) else st.best_val
            st.best_state = _snapshot(p.model)
    if st.best_state is not None:
        p.model.load_state_dict(st.best_state)


def _make_result(
    p: Prepared, cfg: TrainConfig, data: TrainingData, st: _LoopState, t0: float
) -> TrainResult:
    _, test_out = _evaluate(p.model, p.x_te, p.y_te, p.loss_fn)
    test_metrics, reliability, intervals, warnings = test_report(
        p.model, p.y_te, test_out, cfg.seed
    )
    p.model.to("cpu")
    features = tuple(data.features)
    coefficients = p.model.linear_coefficients(features) if p.model.is_linear else None
    return TrainResult(
        role=cfg.role,
        kind=p.kind,
        features=features,
        target=data.target,
        model=p.model,
        config=cfg,
        device=str(p.device),
        epochs_run=st.epochs_run,
        best_epoch=st.best_epoch,
        best_val_loss=st.best_val,
        cancelled=st.cancelled,
        stopped_early=st.stopped_early,
        test_metrics=test_metrics,
        reliability=reliability,
        coefficients=coefficients,
        history=st.history,
        seconds=time.monotonic() - t0,
        n_train=p.n_train,
        n_val=int(p.split[1].numel()),
        n_test=int(p.split[2].numel()),
        pos_weight=p.pos_weight,
        lr=p.lr,
        split=p.split,
        data=data,
        test_intervals=intervals,
        warnings=warnings,
    )
