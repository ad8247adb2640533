"""One trainer for the satisfaction and privacy models, with progress events.

Entry point: :func:`train_model` (``TrainingData`` + :class:`TrainConfig` -> :class:`TrainResult`).

Modules: :mod:`.config` (hyperparameters and their checks), :mod:`.events` (progress
events), :mod:`.split` (train / validation / test rows), :mod:`.setup` (model, loss,
optimizer), :mod:`.loop` (the epochs),
:mod:`.result` (the result and its test metrics), :mod:`.job` (load data -> train ->
save the model folder, shared by the CLI and the TUI).

What it does, in order:

1. Seeded split into train / validation / test (``torch.Generator`` seeded from
   ``config.seed`` through :func:`stratsim.engine.seeds.derive_seed`; stratified by label
   for the privacy role so every split holds positives).
2. Standardization statistics from the train split only, stored in the module's
   buffers (so they travel in the state dict).
3. Mini-batches by ``randperm`` + slicing (no DataLoader: 3-7x slower at this size,
   measured), Adam, an LR schedule (ReduceLROnPlateau on the validation loss by default,
   or cosine), float32, on ``config.device`` (``auto``: cuda, then mps, then cpu).
4. Loss: MSE in satisfaction points² (regression); ``BCEWithLogitsLoss`` with
   ``pos_weight = n_neg / n_pos`` of the train split (classification), the probability
   then corrected by ``logit_offset = -log(pos_weight)`` (see :mod:`stratsim.engine.nets`).
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
module never writes files: saving (``stratsim.engine.modelsave.save_model``) happens only
after a successful training, so a diverged run leaves the saved model untouched.

Calling from a UI thread (e.g. a Textual thread worker)::

    stop = threading.Event()
    def work():
        return train_model(data, TrainConfig(role="privacy"),
                           listener=lambda ev: app.post_message(TrainProgress(ev)),
                           should_stop=stop)
    # cancel: stop.set()
"""

from ..device import resolve_device
from .config import (
    BOOTSTRAP_RESAMPLES,
    DEFAULT_LR,
    MAX_PARAMETERS,
    SMALL_TEST_ROWS,
    TrainConfig,
    mlp_parameters,
)
from .events import BatchProgress, EpochEnd, Listener, TrainEnd, TrainEvent, TrainStart
from .loop import train_model
from .result import TrainResult, bootstrap_intervals, outputs_to_predictions, test_report
from .split import split_indices

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "DEFAULT_LR",
    "MAX_PARAMETERS",
    "SMALL_TEST_ROWS",
    "BatchProgress",
    "EpochEnd",
    "Listener",
    "TrainConfig",
    "TrainEnd",
    "TrainEvent",
    "TrainResult",
    "TrainStart",
    "bootstrap_intervals",
    "mlp_parameters",
    "outputs_to_predictions",
    "resolve_device",
    "split_indices",
    "test_report",
    "train_model",
]
