"""Saving a trained model: its metadata (what rebuilds and audits it), the checks on the
model folder before anything is written, and the atomic write of ``ROLE.pt`` + ``ROLE.toml``
(loading is :mod:`stratsim.engine.trained`)."""

from __future__ import annotations

import hashlib
import io
import math
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .. import __version__
from .errors import ModelError
from .fileio import OutputError, printable
from .modelfolder import write_model_files
from .nets import TabularNet
from .outputs import TORCH_WEIGHTS, check_output, temp_prefix

if TYPE_CHECKING:
    from .training import TrainResult
from .trained import (
    CHECKSUM_KEY,
    MODEL_METADATA,
    SCHEMA_VERSION,
    metadata_checksum,
    metadata_path,
    weights_path,
)

# -------------------------------------------------------------------------- metadata


def _finite_floats(d: Mapping[str, Any]) -> dict[str, float]:
    """Keep entries whose value is a finite number, as Python floats (TOML has no NaN)."""
    out = {}
    for k, v in d.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out[str(k)] = f
    return out


def build_metadata(result: TrainResult, weights_sha256: str) -> dict[str, Any]:
    """The metadata dict saved beside the weights (TOML-ready: no None, no NaN)."""
    meta: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "role": result.role,
        "kind": result.kind,
        "features": list(result.features),
        "target": result.target,
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "torch_version": torch.__version__,
        "stratsim_version": __version__,
        "weights_file": f"{result.role}.pt",
        "weights_sha256": weights_sha256,
    }
    data = result.data
    if data is not None:
        if data.recipe is not None and result.role == "privacy":
            meta["label_period"] = data.recipe.label_period or "month"
        meta["data"] = _data_section(data)
    net = result.model
    meta["normalization"] = {
        "x_mean": [float(v) for v in net.x_mean.tolist()],
        "x_std": [float(v) for v in net.x_std.tolist()],
        "y_mean": float(net.y_mean),
        "y_std": float(net.y_std),
        "logit_offset": float(net.logit_offset),
    }
    meta["hyperparameters"] = _hyperparameters(result)
    meta["training"] = _training_section(result)
    meta["metrics"] = _finite_floats(result.test_metrics)
    if result.coefficients:
        meta["coefficients"] = _finite_floats(result.coefficients)
    if result.reliability:
        meta["reliability"] = [
            {
                "lower": float(b.lower),
                "upper": float(b.upper),
                "mean_predicted": float(b.mean_predicted),
                "observed": float(b.observed),
                "count": int(b.count),
            }
            for b in result.reliability
        ]
    meta[CHECKSUM_KEY] = metadata_checksum(meta)
    return meta


def _data_section(data: Any) -> dict[str, Any]:
    """``[data]``: where the rows came from and how they were prepared."""
    d: dict[str, Any] = {
        "source": printable(data.source),
        "sha256": data.sha256,
        "rows_read": int(data.rows_read),
        "rows_used": int(data.n),
        "rows_dropped": len(data.dropped_rows),
        "mapping": {k: list(v) for k, v in data.mapping.items()},
        "missing_values": list(data.missing_values),
    }
    if data.input_scale is not None:
        d["input_scale"] = [float(data.input_scale[0]), float(data.input_scale[1])]
    if data.format:
        d["format"] = data.format
    if data.target_note:
        d["target_note"] = data.target_note
    if data.constant_features:
        d["constant_features"] = list(data.constant_features)
    if data.skipped_rows:
        d["rows_skipped"] = len(data.skipped_rows)
    if data.recipe is not None:
        d["recipe"] = data.recipe.to_dict()
    return d


def _hyperparameters(result: TrainResult) -> dict[str, Any]:
    cfg = result.config
    hp: dict[str, Any] = {
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "lr": float(result.lr),
        "weight_decay": float(cfg.weight_decay),
        "hidden": list(result.model.hidden),
        "patience": cfg.patience,
        "min_delta": float(cfg.min_delta),
        "val_fraction": float(cfg.val_fraction),
        "test_fraction": float(cfg.test_fraction),
        "seed": int(cfg.seed),
        "lr_schedule": cfg.lr_schedule,
        "device": result.device,
    }
    if result.pos_weight is not None:
        hp["pos_weight"] = float(result.pos_weight)
    return hp


def _training_section(result: TrainResult) -> dict[str, Any]:
    training: dict[str, Any] = {
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "cancelled": bool(result.cancelled),
        "stopped_early": bool(result.stopped_early),
        "seconds": float(result.seconds),
        "n_train": result.n_train,
        "n_val": result.n_val,
        "n_test": result.n_test,
    }
    if math.isfinite(result.best_val_loss):
        training["best_val_loss"] = float(result.best_val_loss)
    return training


# ------------------------------------------------------------------------------- save


def state_dict_bytes(net: TabularNet) -> bytes:
    """``torch.save`` of the CPU state dict of ``net`` (tensors only), as bytes."""
    state = {k: v.detach().to("cpu").clone().contiguous() for k, v in net.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


@dataclass(frozen=True)
class SavedModel:
    """Paths and digest of a saved model."""

    weights: Path
    metadata: Path
    sha256: str


def check_model_folder(directory: str | Path, role: str, *, force: bool = False) -> Path:
    """Refuse, before any data is read or any epoch trained, a model folder that
    :func:`save_model` could not or must not write ``ROLE.pt`` + ``ROLE.toml`` into.

    Refused: a path that cannot be probed (a name too long for the file system, a parent
    without permission), a file or a symbolic link in place of the folder, a folder (or,
    for a new folder, its nearest existing parent) that does not take a new file, a
    ``ROLE.pt``/``ROLE.toml`` that is a link or not a model file; and, unless ``force``,
    a folder that already holds a ``ROLE`` model: a saved session that references it
    records its sha256 and would stop loading once it is replaced.

    Raises:
        OutputError: one line naming the path and the expectation; ``overridable`` when
            ``force`` would accept it.
    """
    d = Path(directory)
    shown = printable(d)
    if not str(directory).strip():
        raise OutputError("empty model folder path: expected a folder path", d, False)
    try:
        st = os.lstat(d)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise OutputError(
            f"{shown}: cannot use this path: {reason}: expected a model folder", d, False
        ) from None
    if st is None:
        _check_new_folder(d)
        return d
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(
            f"{shown}: is a symbolic link to {printable(os.path.realpath(d))}; stratsim does not "
            "write a model through links: expected a folder",
            d,
            False,
        )
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{shown}: exists and is not a folder: expected a model folder", d, False)
    wp, mp = weights_path(d, role), metadata_path(d, role)
    check_output(wp, TORCH_WEIGHTS, force=force)  # a link, or a file that is no model
    check_output(mp, MODEL_METADATA, force=force, probe=False)
    present = [p.name for p in (wp, mp) if os.path.lexists(p)]
    if present and not force:
        raise OutputError(
            f"{shown}: already holds a {role} model ({', '.join(present)}); replacing it makes "
            "every saved session that references it stop loading (its sha256 no longer "
            "matches): choose another folder",
            d,
            True,
        )
    return d


def _check_new_folder(d: Path) -> None:
    """A new folder: every missing level must be a valid name, the nearest existing parent
    a folder that takes a new entry (save_model creates the levels)."""
    shown = printable(d)
    missing: list[Path] = []
    anc = Path(os.path.abspath(d))
    try:
        while not os.path.lexists(anc):
            missing.append(anc)
            anc = anc.parent
        for level in missing:
            size = len(os.fsencode(level.name))
            if size > 255:
                raise OutputError(
                    f"{shown}: the folder name {printable(level.name[:40])}... is {size} bytes "
                    "long: expected at most 255 (the file system's limit)",
                    d,
                    False,
                )
        if not anc.is_dir():
            raise OutputError(
                f"{shown}: {printable(anc)} is not a folder: expected a model folder path", d, False
            )
        os.rmdir(tempfile.mkdtemp(dir=anc, prefix=temp_prefix(d.name), suffix=".probe"))
    except OutputError:
        raise
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, FileNotFoundError):  # an existing folder that takes no entries: /proc
            reason = "the folder does not take new files (a system or virtual folder)"
        raise OutputError(
            f"{shown}: cannot create the folder in {printable(anc)}: {reason}", d, False
        ) from None


def save_model(result: TrainResult, directory: str | Path, *, force: bool = False) -> SavedModel:
    """Save ``result`` as ``DIR/ROLE.pt`` + ``DIR/ROLE.toml`` (creating ``DIR``).

    Call only after a successful training: a diverged run raises before reaching here,
    which is what keeps the previously saved model intact. Both files are checked before
    either is written: an existing ``ROLE.pt`` that is not a torch archive, a ``ROLE.toml``
    that is not model metadata, or a symbolic link, is not replaced unless ``force``
    (:func:`stratsim.engine.outputs.output_problem`).

    Raises:
        OutputError: a file in the way is not a model file (or a link), and not ``force``.
        ModelError: the directory or files cannot be written.
    """
    import tomli_w

    d = Path(directory)
    blob = state_dict_bytes(result.model)
    sha = hashlib.sha256(blob).hexdigest()
    meta = build_metadata(result, sha)
    try:
        data = tomli_w.dumps(meta).encode("utf-8")
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError: a non-UTF-8 name in the metadata
        raise ModelError(f"cannot encode model metadata as TOML: {exc}") from None
    wp, mp = weights_path(d, result.role), metadata_path(d, result.role)
    try:
        d.mkdir(parents=True, exist_ok=True)
        check_output(wp, TORCH_WEIGHTS, force=force, probe=False)
        check_output(mp, MODEL_METADATA, force=force, probe=False)
        write_model_files(d, {wp.name: blob, mp.name: data})  # the pair whole, or nothing
    except OSError as exc:
        raise ModelError(f"{d}: cannot write the model: {exc.strerror or exc}") from None
    return SavedModel(wp, mp, sha)
