"""One trainer for the satisfaction and privacy models, with progress events.

Entry point: :func:`train_model` (``TrainingData`` + :class:`TrainConfig` -> :class:`TrainResult`).

What it does, in order:

1. Seeded split into train / validation / test (``torch.Generator`` seeded from
   ``config.seed``; stratified by label for the privacy role so every split holds
   positives).
2. Standardization statistics from the train split only, stored in the module's
   buffers (so they travel in the state dict).
3. Mini-batches by ``randperm`` + slicing (no DataLoader: 3-7x slower at this size,
   see FIELD-NOTES), Adam, an LR schedule (ReduceLROnPlateau on the validation loss by
   default, or cosine), float32, on ``config.device`` (``auto``: cuda, then mps, then cpu).
4. Loss: MSE in satisfaction points² (regression); ``BCEWithLogitsLoss`` with
   ``pos_weight = n_neg / n_pos`` of the train split (classification), the probability
   then corrected by ``logit_offset = -log(pos_weight)`` (see :mod:`.nets`).
5. Early stopping on the validation loss (``patience`` epochs without a relative
   improvement of ``min_delta``), best weights restored.
6. Test-split metrics (:mod:`.metrics`).

Progress goes to an optional ``listener`` (a callable receiving :data:`TrainEvent`
dataclasses, called on the training thread): :class:`TrainStart`, :class:`BatchProgress`
throttled to one per ``progress_interval_s`` (0.1 s: ~10/s; a ``time.monotonic`` check
per batch), :class:`EpochEnd` per epoch, :class:`TrainEnd` with the result.

Cancellation: ``should_stop`` (a ``threading.Event`` or a zero-argument callable) is
checked before every batch; training then stops, keeps the best weights so far and
returns a result with ``cancelled=True``.

A NaN or infinite loss raises :class:`~stratsim.engine.errors.TrainingError`. This
module never writes files: saving (``stratsim.engine.trained.save_model``) happens only
after a successful training, so a diverged run leaves the saved model untouched.

Calling from a UI thread (e.g. a Textual thread worker)::

    stop = threading.Event()
    def work():
        return train_model(data, TrainConfig(role="privacy"),
                           listener=lambda ev: app.post_message(TrainProgress(ev)),
                           should_stop=stop)
    # cancel: stop.set()
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from . import metrics as M
from .device import resolve_device
from .errors import TrainingError
from .nets import DEFAULT_HIDDEN, TabularNet, build_net, normalize_kind

if TYPE_CHECKING:
    from .data import TrainingData

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
        from .errors import ModelError

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


# ------------------------------------------------------------------------------ events


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


# ----------------------------------------------------------------------------- helpers


def split_indices(
    n: int,
    seed: int,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    labels: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded ``(train, val, test)`` row indices (CPU int64), disjoint, covering 0..n-1.

    With ``labels`` ``[n]`` (0/1) the split is stratified: each class is split with the
    same fractions, so every split keeps the class balance, and every split holds at
    least one row of each class (so the test ROC-AUC is defined).

    Raises:
        TrainingError: a split would be empty, or a class has fewer than 3 rows.
    """
    gen = torch.Generator().manual_seed(_derive_seed(seed, 0))
    groups = [torch.arange(n)]
    if labels is not None:
        lab = labels.detach().cpu().reshape(-1) > 0.5
        groups = [torch.nonzero(~lab).reshape(-1), torch.nonzero(lab).reshape(-1)]
    parts: list[list[torch.Tensor]] = [[], [], []]
    for g in groups:
        perm = g[torch.randperm(g.numel(), generator=gen)]
        n_test = round(g.numel() * test_fraction)
        n_val = round(g.numel() * val_fraction)
        if labels is not None:
            if g.numel() < 3:
                raise TrainingError(
                    f"only {g.numel()} row(s) of one class: each of the train, validation and "
                    "test splits needs one of each class; at least 3 are needed"
                )
            n_test, n_val = max(1, n_test), max(1, n_val)
        parts[2].append(perm[:n_test])
        parts[1].append(perm[n_test : n_test + n_val])
        parts[0].append(perm[n_test + n_val :])
    train, val, test = (torch.cat(p) for p in parts)
    for name, t in (("train", train), ("validation", val), ("test", test)):
        if t.numel() == 0:
            raise TrainingError(f"{n} rows are too few: the {name} split is empty")
    return train, val, test


def _derive_seed(seed: int, purpose: int) -> int:
    """Independent seeds per purpose (0 split, 1 init, 2 shuffle) from one run seed."""
    return (int(seed) * 1_000_003 + purpose * 7_919) % (2**63 - 1)


def _as_stop_check(should_stop) -> Callable[[], bool] | None:
    if should_stop is None:
        return None
    is_set = getattr(should_stop, "is_set", None)
    if callable(is_set):
        return is_set
    if callable(should_stop):
        return should_stop
    raise TypeError("should_stop must be a threading.Event or a callable returning bool")


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


def _outputs_to_predictions(model: TabularNet, out: torch.Tensor) -> torch.Tensor:
    """Raw outputs ``[n]`` -> what the simulation sees: clipped 0..10 or probability."""
    if model.task == "regression":
        return out.clamp(0.0, 10.0)
    return torch.sigmoid(out + model.logit_offset)


def _quick_metrics(model: TabularNet, y: torch.Tensor, out: torch.Tensor) -> dict[str, float]:
    pred = _outputs_to_predictions(model, out)
    if model.task == "regression":
        return M.regression_metrics(y, pred)
    return {
        "roc_auc": M.roc_auc(y, pred),
        "brier": M.brier_score(y, pred),
        "log_loss": M.log_loss(y, pred),
    }


def _make_adam(params, lr: float, weight_decay: float, device: torch.device):
    # fused Adam is faster for small models on CPU and CUDA; fall back if unsupported.
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def _diverged(what: str, value: float, epoch: int, lr: float) -> TrainingError:
    return TrainingError(
        f"training diverged: {what} loss is {value} at epoch {epoch} (learning rate {lr:g}); "
        "try a smaller --lr or check the data; no model was saved and any previously saved "
        "model is unchanged"
    )


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


# ----------------------------------------------------------------------------- trainer


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


def _train(
    data: TrainingData,
    cfg: TrainConfig,
    listener: Listener | None,
    stop: Callable[[], bool] | None,
) -> TrainResult:
    t0 = time.monotonic()
    kind = cfg.resolved_kind()
    lr = cfg.resolved_lr()
    device = resolve_device(cfg.device)
    is_clf = cfg.role == "privacy"

    x_all = torch.as_tensor(data.x, dtype=torch.float32)
    y_all = torch.as_tensor(data.y, dtype=torch.float32)
    stratify = is_clf or bool(getattr(data, "binary_target", False))
    train_idx, val_idx, test_idx = split_indices(
        x_all.shape[0], cfg.seed, cfg.val_fraction, cfg.test_fraction, y_all if stratify else None
    )
    x_tr, y_tr = x_all[train_idx], y_all[train_idx]
    n_train = x_tr.shape[0]

    model = build_net(
        cfg.role,
        kind,
        x_all.shape[1],
        cfg.hidden,
        generator=torch.Generator().manual_seed(_derive_seed(cfg.seed, 1)),
    )
    xd = x_tr.double()
    y_mean, y_std = (
        (0.0, 1.0)
        if is_clf
        else (float(y_tr.double().mean()), float(y_tr.double().std(correction=0)))
    )
    x_std = xd.std(0, correction=0).float()
    constant = [j for j, f in enumerate(data.features) if f in getattr(data, "constant_features", ())]
    flat = [f for j, f in enumerate(data.features) if j not in constant and float(x_std[j]) == 0.0]
    if flat:
        raise TrainingError(
            f"feature(s) {', '.join(flat)} are constant in the train split ({n_train} rows): "
            "the model cannot learn their effect; use more varied data"
        )
    for j in constant:
        x_std[j] = 1.0
    model.set_normalization(xd.mean(0).float(), x_std, y_mean, y_std)
    if constant:
        # A feature set to a constant (--set) is standardized to exactly 0 in every row, so
        # its first-layer weights get zero gradients: zeroed here, they stay zero and the
        # model gives the feature no effect, instead of a random one.
        first = next(m for m in model.body if isinstance(m, nn.Linear))
        with torch.no_grad():
            first.weight[:, constant] = 0.0
    pos_weight = None
    if is_clf:
        n_pos = float(y_tr.sum())
        if n_pos == 0 or n_pos == n_train:
            raise TrainingError("the train split holds one class only; need both labels")
        pos_weight = (n_train - n_pos) / n_pos
        model.logit_offset.fill_(-math.log(pos_weight))
        loss_fn: nn.Module = nn.BCEWithLogitsLoss(
            pos_weight=torch.tensor(pos_weight, dtype=torch.float32, device=device)
        )
    else:
        loss_fn = nn.MSELoss()
    model.to(device)
    x_tr, y_tr = x_tr.to(device), y_tr.to(device)
    x_va, y_va = x_all[val_idx].to(device), y_all[val_idx].to(device)
    x_te, y_te = x_all[test_idx].to(device), y_all[test_idx].to(device)

    opt = _make_adam(model.parameters(), lr, cfg.weight_decay, device)
    if cfg.lr_schedule == "plateau":
        sched: Any = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=0.5, patience=max(1, cfg.patience // 3)
        )
    elif cfg.lr_schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    else:
        sched = None

    bs = cfg.batch_size
    nb = (n_train + bs - 1) // bs
    total_steps = cfg.epochs * nb
    shuffle_gen = torch.Generator().manual_seed(_derive_seed(cfg.seed, 2))
    if listener is not None:
        listener(
            TrainStart(
                role=cfg.role,
                kind=kind,
                device=str(device),
                features=tuple(data.features),
                n_train=n_train,
                n_val=int(val_idx.numel()),
                n_test=int(test_idx.numel()),
                epochs=cfg.epochs,
                batch_size=bs,
                batches_per_epoch=nb,
                lr=lr,
                pos_weight=pos_weight,
            )
        )

    best_state: dict[str, torch.Tensor] | None = None
    best_val = math.inf
    best_epoch = 0
    bad_epochs = 0
    history: list[EpochEnd] = []
    cancelled = stopped_early = False
    epochs_run = 0
    step = 0
    interval = cfg.progress_interval_s
    t_train = time.monotonic()
    next_emit = t_train + interval
    model.train()
    with torch.no_grad():  # standardized once, not in every batch (bit-identical: elementwise)
        xn_tr = model.normalize(x_tr)
    for epoch in range(1, cfg.epochs + 1):
        t_epoch = time.monotonic()
        perm = torch.randperm(n_train, generator=shuffle_gen).to(device)
        xs, ys = xn_tr[perm], y_tr[perm]
        loss_sum = torch.zeros((), device=device)
        seen = 0
        for b in range(nb):
            if stop is not None and stop():
                cancelled = True
                break
            lo = b * bs
            xb, yb = xs[lo : lo + bs], ys[lo : lo + bs]
            loss = loss_fn(model.forward_normalized(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n_b = xb.shape[0]
            loss_sum.add_(loss.detach(), alpha=n_b)
            seen += n_b
            step += 1
            if listener is not None:
                now = time.monotonic()
                if now >= next_emit:
                    next_emit = now + interval
                    running = float(loss_sum) / seen
                    if not math.isfinite(running):
                        raise _diverged("training", running, epoch, lr)
                    elapsed = now - t_train
                    listener(
                        BatchProgress(
                            epoch=epoch,
                            epochs=cfg.epochs,
                            batch=b + 1,
                            batches_per_epoch=nb,
                            step=step,
                            total_steps=total_steps,
                            loss=running,
                            samples_per_s=((epoch - 1) * n_train + seen) / max(elapsed, 1e-9),
                            elapsed_s=elapsed,
                            eta_s=elapsed * (total_steps / step - 1.0),
                        )
                    )
        if cancelled:
            break
        epochs_run = epoch
        train_loss = float(loss_sum) / max(seen, 1)
        if not math.isfinite(train_loss):
            raise _diverged("training", train_loss, epoch, lr)
        t_fit = time.monotonic() - t_epoch
        val_loss, val_out = _evaluate(model, x_va, y_va, loss_fn)
        if not math.isfinite(val_loss):
            raise _diverged("validation", val_loss, epoch, lr)
        improved = (
            val_loss < best_val - cfg.min_delta * abs(best_val) if best_state is not None else True
        )
        if improved:
            best_val, best_epoch, bad_epochs = val_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
        cur_lr = float(opt.param_groups[0]["lr"])
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(val_loss)
        elif sched is not None:
            sched.step()
        now = time.monotonic()
        elapsed = now - t_train
        ev = EpochEnd(
            epoch=epoch,
            epochs=cfg.epochs,
            train_loss=train_loss,
            val_loss=val_loss,
            val_metrics=_quick_metrics(model, y_va, val_out),
            lr=cur_lr,
            samples_per_s=n_train / max(t_fit, 1e-9),
            elapsed_s=elapsed,
            eta_s=elapsed / epoch * (cfg.epochs - epoch),
            best_epoch=best_epoch,
            best_val_loss=best_val,
            bad_epochs=bad_epochs,
            patience=cfg.patience,
            improved=improved,
        )
        history.append(ev)
        if listener is not None:
            listener(ev)
        if bad_epochs >= cfg.patience:
            stopped_early = True
            break

    if cancelled:
        # Mid-epoch weights may beat the best epoch (or there is no epoch yet).
        val_loss, _ = _evaluate(model, x_va, y_va, loss_fn)
        if best_state is None or (math.isfinite(val_loss) and val_loss < best_val):
            best_val = val_loss if math.isfinite(val_loss) else best_val
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)

    _, test_out = _evaluate(model, x_te, y_te, loss_fn)
    test_pred = _outputs_to_predictions(model, test_out)
    reliability = None
    if is_clf:
        test_metrics, reliability = M.classification_metrics(y_te, test_pred)
    else:
        test_metrics = M.regression_metrics(y_te, test_pred)
    intervals: dict[str, tuple[float, float]] = {}
    warnings: list[str] = []
    n_te = int(test_idx.numel())
    if n_te < SMALL_TEST_ROWS:
        intervals = bootstrap_intervals(y_te, test_pred, is_clf, _derive_seed(cfg.seed, 3))
        shown = ", ".join(f"{k} {test_metrics[k]:.3f} [{lo:.3f}, {hi:.3f}]" for k, (lo, hi) in intervals.items())
        warnings.append(
            f"the test split holds only {n_te} rows (fewer than {SMALL_TEST_ROWS}): its metrics "
            f"are uncertain; 95% bootstrap intervals: {shown}"
        )
    model.to("cpu")
    coefficients = model.linear_coefficients(tuple(data.features)) if model.is_linear else None
    result = TrainResult(
        role=cfg.role,
        kind=kind,
        features=tuple(data.features),
        target=data.target,
        model=model,
        config=cfg,
        device=str(device),
        epochs_run=epochs_run,
        best_epoch=best_epoch,
        best_val_loss=best_val,
        cancelled=cancelled,
        stopped_early=stopped_early,
        test_metrics=test_metrics,
        reliability=reliability,
        coefficients=coefficients,
        history=history,
        seconds=time.monotonic() - t0,
        n_train=n_train,
        n_val=int(val_idx.numel()),
        n_test=int(test_idx.numel()),
        pos_weight=pos_weight,
        lr=lr,
        split=(train_idx, val_idx, test_idx),
        data=data,
        test_intervals=intervals,
        warnings=tuple(warnings),
    )
    if listener is not None:
        listener(TrainEnd(result))
    return result
