"""Trained models on disk: safe save/load and the simulation-facing wrapper.

Layout of a model directory (one pair of files per role)::

    DIR/satisfaction.pt    DIR/satisfaction.toml
    DIR/privacy.pt         DIR/privacy.toml

``ROLE.pt`` holds only a state dict (``torch.save({name: tensor})``); it is loaded with
``torch.load(..., weights_only=True)`` and never unpickled otherwise. ``ROLE.toml``
(written with ``tomli_w``, read with :func:`stratsim.engine.fileio.read_toml`) holds what is needed to rebuild and
trust it: kind, role, features, target, input scale, column mapping, normalization,
hyperparameters, test metrics (finite floats only: TOML has no NaN), the sha256 of
the training data and of the weights file, the torch version, the UTC creation
time (ISO 8601), and ``metadata_sha256``: a checksum over every other key, so an edit of
anything that changes results (the ``features`` order, the kind, ...) is refused.

Loading checks the metadata's checksum, then the weights' sha256 against the metadata *before* unpickling (the
bytes verified are the bytes loaded), then that the file is a state dict with exactly
the expected keys and shapes; any failure is a :class:`~stratsim.engine.errors.ModelError`.
``weights_only=True`` is a defence, not a guarantee (CVE-2025-32434, CVE-2026-24747):
the sha256 recorded at save time is the trust anchor.

Saving writes the folder completely or not at all (:mod:`.modelfolder`: a temporary
sibling folder swapped in); where that is not possible (a folder holding sub-folders),
each file is replaced atomically, weights first, so a crash in between leaves a pair
that fails the sha256 check (refused, never silently mixed).
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import stat
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .errors import ModelError
from .fileio import printable, read_toml
from .models import ROLES  # in the order load_models looks for them
from .nets import KINDS, TabularNet, build_net
from .outputs import document_sha256, stat_path, toml_kind

if TYPE_CHECKING:
    from .training import TrainResult

#: Metadata schema version written by this module (newer ones are refused).
SCHEMA_VERSION = 1
#: Metadata key of the checksum over every other key (:func:`metadata_checksum`).
CHECKSUM_KEY = "metadata_sha256"
#: Output kind of ``ROLE.toml``: replaced without ``force`` only when it is model metadata.
MODEL_METADATA = toml_kind(
    "model metadata file",
    lambda d: all(k in d for k in ("schema_version", "role", "weights_sha256")),
)


def weights_path(directory: str | Path, role: str) -> Path:
    """``DIR/ROLE.pt``."""
    return Path(directory) / f"{role}.pt"


def metadata_path(directory: str | Path, role: str) -> Path:
    """``DIR/ROLE.toml``."""
    return Path(directory) / f"{role}.toml"


class TrainedModel:
    """A trained satisfaction or privacy model implementing ``ResponseModel``.

    Attributes:
        features: input names, in the order the network reads them.
        description: short label, e.g. ``"mlp 64x64 (trained 2025-01-02, R² 0.88)"``.
        role, kind: ``satisfaction``/``privacy``; ``linear``/``logistic``/``mlp``.
        net: the :class:`~stratsim.engine.nets.TabularNet` (CPU, float32).
        metadata: the metadata dict (as saved/loaded).
        path: the weights file it was loaded from (absolute), None if built in memory.
        sha256: hex sha256 of that weights file (verified at load), None if in memory.
    """

    def __init__(
        self,
        net: TabularNet,
        role: str,
        kind: str,
        features: tuple[str, ...],
        metadata: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        self.net = net.eval()
        self.role = role
        self.kind = kind
        self.features = tuple(features)
        self.metadata = metadata or {}
        self.description = description or _describe(role, kind, net, self.metadata)
        self.path: Path | None = None
        self.sha256: str | None = None
        self._cache: dict[tuple[torch.device, torch.dtype], TabularNet] = {}

    @classmethod
    def from_result(cls, result: TrainResult) -> TrainedModel:
        """Wrap a fresh :class:`~stratsim.engine.training.TrainResult` (no file needed)."""
        from .modelsave import build_metadata

        meta = build_metadata(result, weights_sha256="")
        return cls(copy.deepcopy(result.model), result.role, result.kind, result.features, meta)

    @property
    def metrics(self) -> dict[str, float]:
        """Test metrics recorded at training time."""
        return dict(self.metadata.get("metrics", {}))

    @property
    def coefficients(self) -> dict[str, float] | None:
        """Original-unit coefficients (linear/logistic kinds), else None."""
        c = self.metadata.get("coefficients")
        return dict(c) if c else None

    def _net_for(self, device: torch.device, dtype: torch.dtype) -> TabularNet:
        key = (device, dtype)
        net = self._cache.get(key)
        if net is None:
            net = copy.deepcopy(self.net).to(device=device, dtype=dtype).eval()
            for p in net.parameters():
                p.requires_grad_(False)  # gradients may flow to the inputs, not the weights
            self._cache[key] = net
        return net

    def predict(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Predict ``[n_paths]`` from feature tensors ``[n_paths]`` (or broadcastable).

        Satisfaction is clipped to 0..10; privacy returns a probability 0..1. Runs on the
        inputs' device, in their floating dtype (float32/float64; others -> float32),
        returning that dtype. Differentiable with respect to the inputs.

        Raises:
            ModelError: a feature the model needs is not in ``features``.
        """
        missing = [f for f in self.features if f not in features]
        if missing:
            raise ModelError(
                f"{self.role} model {self.description!r} needs feature(s) {', '.join(missing)}"
            )
        cols = [torch.as_tensor(features[f]) for f in self.features]
        dtype = cols[0].dtype
        for c in cols[1:]:
            dtype = torch.promote_types(dtype, c.dtype)
        if not dtype.is_floating_point:
            dtype = torch.float32
        device = cols[0].device
        cols = torch.broadcast_tensors(*[c.to(device=device, dtype=dtype) for c in cols])
        x = torch.stack(cols, dim=-1)
        out = self._net_for(device, dtype).predict_output(x)
        if self.role == "satisfaction":
            out = out.clamp(0.0, 10.0)
        return out

    def __repr__(self) -> str:
        return f"TrainedModel({self.role!r}, {self.kind!r}, features={self.features})"


def _describe(role: str, kind: str, net: TabularNet, meta: Mapping[str, Any]) -> str:
    shape = "x".join(map(str, net.hidden))
    label = f"{kind} {shape}".strip()
    m = meta.get("metrics", {})
    if role == "satisfaction" and "r2" in m:
        score = f"R² {m['r2']:.3f}"
    elif "roc_auc" in m:
        score = f"AUC {m['roc_auc']:.3f}"
    else:
        score = ""
    when = str(meta.get("created", ""))[:10]
    extra = ", ".join(s for s in (f"trained {when}" if when else "", score) if s)
    return f"{label} ({extra})" if extra else label


# ------------------------------------------------------------------------------- load


def _expect(cond: bool, path: Path, msg: str) -> None:
    if not cond:
        raise ModelError(f"{path}: {msg}")


def metadata_checksum(meta: Mapping[str, Any]) -> str:
    """SHA-256 over every metadata key but :data:`CHECKSUM_KEY` itself
    (:func:`stratsim.engine.fileio.document_sha256`): the ``features`` order, kind,
    hidden sizes, normalization, input scale, weights sha256, ... An edit of any of them
    is caught at load time, so nothing that changes results can change silently."""
    return document_sha256(dict(meta), exclude=(CHECKSUM_KEY,))


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Read and validate a metadata TOML file (:func:`stratsim.engine.fileio.read_toml`).

    Raises:
        ModelError: unreadable, not TOML, newer schema, a checksum that does not match
            (the file was edited), or a key missing/of the wrong type (the message names
            the key).
    """
    p = Path(path)
    meta = read_toml(p, ModelError, "model metadata file")
    ver = meta.get("schema_version")
    _expect(isinstance(ver, int), p, "key 'schema_version' missing or not an integer")
    _expect(
        ver <= SCHEMA_VERSION,
        p,
        f"schema_version {ver} is newer than this stratsim supports ({SCHEMA_VERSION}); upgrade",
    )
    recorded = meta.get(CHECKSUM_KEY)
    _expect(
        isinstance(recorded, str),
        p,
        f"key {CHECKSUM_KEY} missing: the metadata cannot be verified (written by stratsim 0.1.0, "
        "or edited); retrain the model into a new model folder",
    )
    _expect(
        recorded == metadata_checksum(meta),
        p,
        f"key {CHECKSUM_KEY}: the metadata was edited since it was saved (features order, "
        "normalization, kind, ... no longer match its checksum); refusing it: retrain or restore the file",
    )
    role = meta.get("role")
    _expect(role in ROLES, p, f"key 'role' is {role!r}; expected one of {', '.join(ROLES)}")
    kind = meta.get("kind")
    _expect(
        kind in KINDS[role], p, f"key 'kind' is {kind!r}; expected one of {', '.join(KINDS[role])}"
    )
    feats = meta.get("features")
    _expect(
        isinstance(feats, list) and feats and all(isinstance(f, str) for f in feats),
        p,
        "key 'features' must be a non-empty list of names",
    )
    sha = meta.get("weights_sha256")
    _expect(
        isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha),
        p,
        "key 'weights_sha256' must be 64 lowercase hex digits",
    )
    hidden = meta.get("hyperparameters", {}).get("hidden", [])
    _expect(
        isinstance(hidden, list) and all(isinstance(h, int) and h > 0 for h in hidden),
        p,
        "key 'hyperparameters.hidden' must be a list of positive integers",
    )
    return meta


def load_model(directory: str | Path, role: str) -> TrainedModel:
    """Load and verify ``DIR/ROLE.pt`` against ``DIR/ROLE.toml``.

    Raises:
        ModelError: a file missing, metadata invalid, role mismatch, sha256 mismatch,
            not a state dict (or not loadable with ``weights_only=True``), wrong keys or
            shapes.
    """
    if role not in ROLES:
        raise ModelError(f"unknown model role {role!r}; expected one of {', '.join(ROLES)}")
    wp, mp = weights_path(directory, role), metadata_path(directory, role)
    if not os.path.exists(mp):
        raise ModelError(f"{mp}: metadata file missing; weights without it cannot be verified")
    meta = read_metadata(mp)
    _expect(meta["role"] == role, mp, f"key 'role' is {meta['role']!r}, expected {role!r}")
    try:
        blob = wp.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{wp}: weights file missing (metadata {mp.name} is present)") from None
    except OSError as exc:
        raise ModelError(f"{wp}: cannot read: {exc.strerror or exc}") from None
    actual = hashlib.sha256(blob).hexdigest()
    if actual != meta["weights_sha256"]:
        raise ModelError(
            f"{wp}: sha256 {actual[:16]}... does not match {meta['weights_sha256'][:16]}... "
            f"recorded in {mp.name}; the file was modified or corrupted, refusing to load it"
        )
    state = _read_state_dict(wp, blob)
    hidden = tuple(meta.get("hyperparameters", {}).get("hidden", []))
    net = build_net(role, meta["kind"], len(meta["features"]), hidden)
    _check_state_dict(wp, state, net.state_dict(), meta["kind"])
    net.load_state_dict(state)
    model = TrainedModel(net, role, meta["kind"], tuple(meta["features"]), meta)
    model.path = wp.resolve()
    model.sha256 = actual
    return model


def _read_state_dict(wp: Path, blob: bytes) -> dict[str, torch.Tensor]:
    """The state dict in ``blob`` (``torch.load`` with ``weights_only=True``), or refuse."""
    try:
        with warnings.catch_warnings():  # the refusal below says it in one line
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError, EOFError, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if len(first) > 160:
            first = first[:160].rsplit(" ", 1)[0] + " ..."
        raise ModelError(
            f"{wp}: not a weights-only state dict ({type(exc).__name__}: {first}); refusing it"
        ) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ModelError(
            f"{wp}: not a state dict (a mapping of names to tensors): {type(state).__name__}"
        )
    return state


def _check_state_dict(
    wp: Path, state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], kind: str
) -> None:
    """Refuse keys, shapes or dtypes unlike the ``expected`` model's, and non-finite values."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelError(
            f"{wp}: state dict keys do not match a {kind} model "
            f"(missing: {', '.join(missing) or '-'}; unexpected: {', '.join(unexpected) or '-'})"
        )
    for k, v in expected.items():
        if state[k].shape != v.shape or not state[k].dtype.is_floating_point:
            raise ModelError(
                f"{wp}: tensor {k!r} has shape {tuple(state[k].shape)} {state[k].dtype}, "
                f"expected {tuple(v.shape)} floating point"
            )
        if not bool(torch.isfinite(state[k]).all()):
            raise ModelError(f"{wp}: tensor {k!r} holds NaN or infinite values; refusing it")


def load_models(directory: str | Path) -> dict[str, TrainedModel]:
    """Load every model present in ``directory``: ``{"satisfaction": ..., "privacy": ...}``.

    A role whose two files are both absent is simply absent from the result.

    Raises:
        ModelError: ``directory`` does not exist or holds no model at all, or a present
            model fails :func:`load_model`.
    """
    d = Path(directory)
    st = stat_path(d, ModelError, "model folder")
    if st is None:
        raise ModelError(f"{printable(d)}: model directory not found")
    if not stat.S_ISDIR(st.st_mode):
        raise ModelError(
            f"{printable(d)}: is a file, not a folder: expected the model folder a training wrote"
        )
    out: dict[str, TrainedModel] = {}
    for role in ROLES:
        if os.path.lexists(weights_path(d, role)) or os.path.lexists(metadata_path(d, role)):
            out[role] = load_model(d, role)
    if not out:
        names = ", ".join(f"{r}.pt" for r in ROLES)
        raise ModelError(
            f"{d}: no trained model in this folder (expected {names}, the files a training writes)"
        )
    return out
