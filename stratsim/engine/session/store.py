"""The session document: built from a simulation, saved atomically, read and validated.

:func:`session_document` / :func:`save_session` write; :func:`parse_session` /
:func:`read_session` read without building a simulation.
"""

from __future__ import annotations

import math
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ... import __version__
from .. import fileio, outputs
from ..device import DTYPES
from ..errors import SessionError
from ..policies import POLICIES
from .schema import (
    _INT64,
    _META_KEYS,
    _NA_KPIS,
    _RUN_KEYS,
    _SAVED_DEVICES,
    _TOP_KEYS,
    MODEL_ROLES,
    SCHEMA_VERSION,
    SESSION_FILE,
    SessionData,
    SessionMeta,
    _base_name,
    _now,
)
from .validate import (
    _check_model_file,
    _decision,
    _history_entry,
    _model_refs,
    _model_switches,
    _parse_toml,
    _scenario,
    _Validator,
)

if TYPE_CHECKING:
    from ..decisions import Decision
    from ..kpi import Summary
    from ..simulation import Simulation


def _check_toml_values(value: Any, key: str, target: Path) -> None:
    """Refuse what TOML cannot hold (NaN, inf, ints beyond 64 bits), naming the key path."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_toml_values(v, f"{key}.{k}" if key else str(k), target)
    elif isinstance(value, list):
        for i, v in enumerate(value, start=1):
            _check_toml_values(v, f"{key}[{i}]", target)
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SessionError(
                f"{fileio.printable(target)}: cannot save: key {key}: value {fileio.printable(value)!r}: "
                "not valid UTF-8 text (a file name with non-UTF-8 bytes? rename it)"
            ) from None
    elif isinstance(value, bool | datetime):
        return
    elif isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise SessionError(
                f"{target}: cannot save: key {key}: value {value!r}: TOML integers hold 64 bits"
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise SessionError(
                f"{target}: cannot save: key {key}: value {value!r}: TOML files hold only finite numbers here"
            )
    else:
        raise SessionError(
            f"{target}: cannot save: key {key}: value {value!r} of type {type(value).__name__}: not a TOML value"
        )


def _is_default_model(model: Any, role: str) -> bool:
    from ..models import LinearSatisfaction, LogisticPrivacy

    return model == (LinearSatisfaction() if role == "satisfaction" else LogisticPrivacy())


def _model_file_info(model: Any, role: str) -> tuple[Path, str, str, dict[str, Any]]:
    """(weights file, sha256, kind, metrics) of a trained model loaded from a file.

    Reads what :class:`stratsim.engine.trained.TrainedModel` carries: ``path`` (the
    weights file ``DIR/ROLE.pt``, set by ``trained``
    itself), ``sha256`` or ``metadata["weights_sha256"]``, ``kind``, ``metrics``.

    Raises:
        SessionError: the model has no file to reference (trained in memory, not saved).
    """
    meta = getattr(model, "metadata", None) or {}
    path = getattr(model, "path", None) or getattr(model, "weights_path", None)
    sha = getattr(model, "sha256", None) or meta.get("weights_sha256")
    if not path or not isinstance(sha, str) or not sha:
        desc = getattr(model, "description", type(model).__name__)
        raise SessionError(
            f"cannot save the {role} model {desc!r} in a session: it was not loaded from a "
            "model file (save it to a model folder and load it from there: the TUI saves what it trains, "
            "as do stratsim train and trained.save_model)"
        )
    kind = str(getattr(model, "kind", "") or type(model).__name__)
    metrics = getattr(model, "metrics", None) or {}
    return Path(path), sha, kind, dict(metrics)


def _models_table(sim: Simulation, target: Path) -> dict[str, Any]:
    """``[models]``: the trained models used from period 1 (the base models when ``sim``
    has switched models later; the shipped defaults are omitted)."""
    out: dict[str, Any] = {}
    base_models = getattr(sim, "base_models", None) or {}
    for role, attr in MODEL_ROLES.items():
        model = base_models.get(role, getattr(sim, attr))
        if _is_default_model(model, role):
            continue
        out[role] = _model_table(model, role, target)
    return out


def _model_table(model: Any, role: str, target: Path) -> dict[str, Any]:
    """One model reference: path relative to the session's folder, sha256, kind, metrics."""
    base = target.resolve().parent
    file, sha, kind, metrics = _model_file_info(model, role)
    try:
        rel = os.path.relpath(file.resolve(), base)
    except ValueError:  # another drive (Windows): keep the absolute path
        rel = str(file.resolve())
    good, undefined = {}, []
    for k, v in metrics.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue  # tables such as a reliability table stay in the model's own metadata
        if math.isfinite(v):
            good[str(k)] = float(v) if isinstance(v, float) else v
        else:
            undefined.append(str(k))
    table: dict[str, Any] = {
        "path": Path(rel).as_posix(),
        "sha256": sha,
        "kind": kind,
        "metrics": good,
    }
    if undefined:
        table["undefined_metrics"] = undefined
    recipe = ((getattr(model, "metadata", None) or {}).get("data") or {}).get("recipe")
    if isinstance(recipe, dict) and recipe:
        table["recipe"] = recipe  # the model's data preparation, for review (data.py)
    return table


def _switches_table(sim: Simulation, target: Path, n: int) -> list[dict[str, Any]]:
    """``[[model_switches]]``: each model adopted from a later period (role, period, and
    its reference); switches pending beyond period ``n + 1`` are kept too."""
    return [
        {"role": s.role, "period": s.period, **_model_table(s.model, s.role, target)}
        for s in getattr(sim, "model_switches", ()) or ()
    ]


def session_document(
    sim: Simulation,
    path: str | Path,
    *,
    name: str | None = None,
    created: datetime | None = None,
    saved: datetime | None = None,
) -> dict[str, Any]:
    """The TOML document (a plain dict) of ``sim`` saved at ``path``.

    ``name`` defaults to the file's stem, ``created`` and ``saved`` to now (UTC).
    Decisions and history are cut to the shorter of the two (a signal can arrive between
    the two appends of a step).

    Raises:
        SessionError: a value TOML cannot hold (NaN, inf), naming the key path; a model
            that was not loaded from a file; per-path scenario overrides (a sweep, not a
            session: the file could not replay them).
    """
    target = Path(path)
    if getattr(sim, "overrides", None):
        raise SessionError(
            f"{target}: cannot save: the simulation has per-path overrides of {', '.join(sorted(sim.overrides))}; a session replays the scenario alone"
        )
    n = min(len(sim.decisions), len(sim.history))
    saved = saved or _now()
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "meta": {
            "name": name if name is not None else _base_name(target),
            "created": created or saved,
            "saved": saved,
            "app_version": __version__,
        },
        "run": {
            "seed": sim.seed,
            "n_paths": sim.n_paths,
            "dtype": sim.dtype_name,
            "device": sim.device.type,
            "policy": sim.policy_name,
            "period": n,
            "next_decision": sim.decision.to_dict(),
        },
    }
    models = _models_table(sim, target)
    if models:
        doc["models"] = models
    doc["scenario"] = sim.scenario.to_dict()
    doc["decisions"] = [{"period": i + 1, **d.to_dict()} for i, d in enumerate(sim.decisions[:n])]
    # n/a statistics (NaN: quantiles of a probability, a CAC without acquisitions) are omitted.
    doc["history"] = [
        {
            "period": i + 1,
            **{
                k: {s: x for s, x in v.items() if not (math.isnan(x) and k in _NA_KPIS)}
                for k, v in h.items()
            },
        }
        for i, h in enumerate(sim.history[:n])
    ]
    if getattr(sim, "optimizations", None):
        doc["optimizations"] = list(sim.optimizations)
    switches = _switches_table(sim, target, n)
    if switches:
        doc["model_switches"] = switches
    branches = getattr(sim, "branches", None) or {}
    if branches:
        doc["branches"] = [b.to_dict() for b in branches.values()]
    _check_toml_values(doc, "", target)
    return doc


def atomic_write_bytes(path: str | Path, data: bytes, *, force: bool = False) -> None:
    """:func:`stratsim.engine.outputs.write_bytes` of a :data:`SESSION_FILE`, with OS
    errors as SessionError.

    Raises:
        OutputError: ``path`` is a symbolic link or an existing file that is not a
            session, and not ``force`` (nothing written).
        SessionError: the folder does not exist or is not writable, disk full, ... (the
            target is then unchanged).
    """
    try:
        outputs.write_bytes(path, data, SESSION_FILE, force=force)
    except OSError as exc:
        raise SessionError(
            f"{fileio.printable(path)}: cannot save: {exc.strerror or exc}"
        ) from None


def save_session(
    sim: Simulation,
    path: str | Path,
    *,
    name: str | None = None,
    created: datetime | None = None,
    force: bool = False,
) -> Path:
    """Save ``sim`` to ``path`` atomically (see :func:`atomic_write_bytes`).

    Args:
        sim: the simulation (its scenario, seed, decisions, history, models).
        path: the session file; trained model paths are stored relative to its folder.
        name: ``[meta].name`` (default: the file's stem without ``.autosave``).
        created: ``[meta].created`` (default: now); pass the loaded session's to keep it.
        force: replace ``path`` even when it is a symbolic link (the link itself is
            replaced, never its target) or a file that is not a stratsim session (ask
            the user first: :func:`stratsim.engine.outputs.output_problem`).

    Returns:
        the path written.

    Raises:
        OutputError: ``path`` is a link or a foreign file and not ``force``.
        SessionError: a value TOML cannot hold (nothing is written), a model with no
            file, or an OS error (the previous file is kept).
    """
    import tomli_w

    target = Path(path)
    doc = session_document(sim, target, name=name, created=created)
    atomic_write_bytes(target, tomli_w.dumps(doc).encode("utf-8"), force=force)
    return target


def parse_session(
    data: dict[str, Any],
    source: str | Path,
    *,
    base_dir: str | Path | None = None,
    allow_external_models: bool = False,
) -> SessionData:
    """Validate (and migrate) a parsed session document; reads no file.

    Args:
        data: the document as returned by :func:`stratsim.engine.fileio.read_toml`.
        source: the file name used in messages (and the path recorded in the result).
        base_dir: folder that model paths are relative to (default: the source's folder).
        allow_external_models: accept model paths outside ``base_dir``.

    Raises:
        SessionError: the first problem, naming file, key path, value and expectation.
    """
    from .branches import parse_branches

    path = Path(source)
    base = Path(base_dir) if base_dir is not None else path.resolve().parent
    v = _Validator(str(source))
    if not isinstance(data, dict):
        raise SessionError(f"{source}: expected a TOML document")
    data, version = _migrated(data, v, source)
    v.unknown(data, _TOP_KEYS, "")
    meta = _meta(data, v, version)
    run = _run(data, v)
    period = run["period"]
    models = _model_refs(data, v, base, allow_external_models)
    switches = _model_switches(data, v, base, allow_external_models, period)
    scenario = _scenario(data, v)
    decisions, history = _decisions_and_history(data, v, period)
    if "next_decision" in run:
        next_decision = _decision(run.pop("next_decision"), "run.next_decision", v)
    else:
        next_decision = (
            decisions[-1]
            if decisions
            else _decision(scenario.allocation.model_dump(), "scenario.allocation", v)
        )
    optimizations = data.get("optimizations", [])
    if not isinstance(optimizations, list) or not all(isinstance(o, dict) for o in optimizations):
        raise v.error("optimizations", optimizations, "an array of [[optimizations]] tables")
    return SessionData(
        path=path, meta=meta, scenario=scenario, **run, decisions=decisions, next_decision=next_decision,
        history=history, models=models, warnings=v.warnings, optimizations=optimizations,
        switches=switches, branches=parse_branches(data, v),
    )  # fmt: skip


def _migrated(
    data: dict[str, Any], v: _Validator, source: str | Path
) -> tuple[dict[str, Any], int]:
    """Check ``schema_version`` and migrate an older document (with its warnings)."""
    from ..session_migrate import migrate

    version = data.get("schema_version")
    if "schema_version" not in data:
        raise v.missing("schema_version", f"an integer in 1..{SCHEMA_VERSION}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise v.error("schema_version", version, f"an integer in 1..{SCHEMA_VERSION}")
    if version > SCHEMA_VERSION:
        raise SessionError(
            f"{source}: key schema_version: value {version}: this file was written by a newer stratsim "
            f"(this version {__version__} reads schema versions 1..{SCHEMA_VERSION}); upgrade stratsim to open it"
        )
    if version < SCHEMA_VERSION:
        data = migrate(data, version, str(source))
        v.source = f"{source} (schema {version}, migrated to {SCHEMA_VERSION})"
        v.warnings.append(
            f"{source}: schema version {version} migrated to {SCHEMA_VERSION}; saving writes version {SCHEMA_VERSION}"
        )
        if version < 3:
            v.warnings.append(
                f"{source}: saved with the economic model v1 (stratsim 0.1): replayed with model v2 (price response, "
                "sales capacity, terminal value, recalibrated incidents), so its results differ from the stored history"
            )
    return data, version


def _meta(data: dict[str, Any], v: _Validator, version: int) -> SessionMeta:
    meta_t = v.table(data, "meta", "")
    assert meta_t is not None
    v.unknown(meta_t, _META_KEYS, "meta")
    return SessionMeta(
        name=v.str_(meta_t, "name", "meta"),
        created=v.time(meta_t, "created", "meta"),
        saved=v.time(meta_t, "saved", "meta"),
        app_version=v.str_(meta_t, "app_version", "meta"),
        schema_version=version,
    )


def _run(data: dict[str, Any], v: _Validator) -> dict[str, Any]:
    """``[run]`` as keyword arguments of :class:`SessionData` (plus the raw
    ``next_decision`` when present, validated by the caller)."""
    from ..simulation import MAX_PATHS

    run = v.table(data, "run", "")
    assert run is not None
    v.unknown(run, _RUN_KEYS, "run")
    out: dict[str, Any] = {
        "seed": v.int_(run, "seed", "run", 0, 2**63 - 1),
        "n_paths": v.int_(run, "n_paths", "run", 1, MAX_PATHS),
        "dtype": v.str_(run, "dtype", "run", DTYPES),
        "device": v.str_(run, "device", "run", _SAVED_DEVICES),
    }
    if out["dtype"] == "float64" and out["device"] == "mps":
        raise v.error("run.dtype", out["dtype"], "'float32' on the mps device (it has no float64)")
    out["policy"] = v.str_(run, "policy", "run", POLICIES)
    out["period"] = v.int_(run, "period", "run", 0, 10**6)
    if "next_decision" in run:
        out["next_decision"] = run["next_decision"]
    return out


def _decisions_and_history(
    data: dict[str, Any], v: _Validator, period: int
) -> tuple[list[Decision], list[Summary]]:
    decisions_raw = v.get(data, "decisions", "", "an array of [[decisions]] tables")
    if not isinstance(decisions_raw, list):
        raise v.error("decisions", decisions_raw, "an array of [[decisions]] tables")
    history_raw = v.get(data, "history", "", "an array of [[history]] tables")
    if not isinstance(history_raw, list):
        raise v.error("history", history_raw, "an array of [[history]] tables")
    if len(decisions_raw) != period:
        raise v.error(
            "decisions", decisions_raw, f"one table per period simulated (run.period = {period})"
        )
    if len(history_raw) != period:
        raise v.error(
            "history", history_raw, f"one table per period simulated (run.period = {period})"
        )
    decisions = []
    for i, d in enumerate(decisions_raw, start=1):
        key = f"decisions[{i}]"
        if isinstance(d, dict):
            v.int_(d, "period", key, i, i)
        decisions.append(_decision(d, key, v, extra_keys=("period",)))
    history = [_history_entry(h, f"history[{i}]", i, v) for i, h in enumerate(history_raw, start=1)]
    return decisions, history


def read_session(
    path: str | Path, *, allow_external_models: bool = False, check_models: bool = True
) -> SessionData:
    """Read and validate a session file without building the simulation.

    Args:
        path: the session file.
        allow_external_models: accept model paths that leave the session's folder.
        check_models: verify that each referenced model file exists and has the recorded
            SHA-256 (``stratsim export`` skips it: it needs no model).

    Raises:
        SessionError: unreadable file, not UTF-8, invalid TOML, a newer schema version,
            a missing/ill-typed/out-of-range key, a model file missing or changed.
    """
    p = Path(path)
    data = parse_session(_parse_toml(p), p, allow_external_models=allow_external_models)
    if check_models:
        for ref in [*data.models.values(), *data.switches]:
            _check_model_file(ref, str(p))
    return data
