"""Typed reading of a parsed session document: each problem is one line naming the
file, the key path, the value and the expectation (:class:`~stratsim.engine.errors.SessionError`)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import fileio, outputs
from ..decisions import DECISION_KEYS, SPLIT_KEYS, Decision
from ..errors import ScenarioError, SessionError, StratsimError
from ..kpi import KPIS, OPTIONAL_KPIS, PROBABILITY_KPIS, STATS, Summary
from ..scenario import Scenario, scenario_from_dict
from ..terms import term
from .schema import _MODEL_KEYS, MODEL_ROLES, ModelRef


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return f"an array of {len(value)} item(s)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Validator:
    """Typed access to a parsed TOML document; errors name file, key path, value, expectation."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.warnings: list[str] = []

    def error(self, key: str, value: Any, expected: str) -> SessionError:
        return SessionError(f"{self.source}: key {key}: value {_show(value)}: expected {expected}")

    def missing(self, key: str, expected: str) -> SessionError:
        return SessionError(f"{self.source}: key {key} is missing: expected {expected}")

    def unknown(
        self, table: dict[str, Any], known: tuple[str, ...] | set[str], prefix: str
    ) -> None:
        for k in table:
            if k not in known:
                where = f"{prefix}.{k}" if prefix else k
                self.warnings.append(f"{self.source}: unknown key {where} ignored")

    def get(
        self, table: dict[str, Any], key: str, prefix: str, expected: str, required: bool = True
    ) -> Any:
        full = f"{prefix}.{key}" if prefix else key
        if key not in table:
            if required:
                raise self.missing(full, expected)
            return None
        return table[key]

    def table(
        self, table: dict[str, Any], key: str, prefix: str, required: bool = True
    ) -> dict[str, Any] | None:
        value = self.get(table, key, prefix, "a table", required)
        if value is None and not required:
            return None
        if not isinstance(value, dict):
            raise self.error(f"{prefix}.{key}" if prefix else key, value, "a table")
        return value

    def int_(self, table: dict[str, Any], key: str, prefix: str, lo: int, hi: int) -> int:
        full = f"{prefix}.{key}" if prefix else key
        expected = f"an integer in {lo}..{hi}"
        value = self.get(table, key, prefix, expected)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.error(full, value, expected)
        return value

    def str_(
        self, table: dict[str, Any], key: str, prefix: str, choices: tuple[str, ...] | None = None
    ) -> str:
        full = f"{prefix}.{key}" if prefix else key
        expected = f"one of {', '.join(repr(c) for c in choices)}" if choices else "a string"
        value = self.get(table, key, prefix, expected)
        if not isinstance(value, str) or (choices is not None and value not in choices):
            raise self.error(full, value, expected)
        return value

    def number(self, value: Any, key: str) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.error(key, value, "a finite number")
        return float(value)

    def time(self, table: dict[str, Any], key: str, prefix: str) -> datetime:
        full = f"{prefix}.{key}"
        expected = "a date-time with a UTC offset, e.g. 2025-01-31T09:00:00Z"
        value = self.get(table, key, prefix, expected)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise self.error(full, value, expected) from None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise self.error(full, value, expected)
        return value


def _parse_toml(path: Path) -> dict[str, Any]:
    return fileio.read_toml(path, SessionError, "session file")


def _strip_unknown_scenario_keys(data: dict[str, Any], v: _Validator) -> dict[str, Any]:
    """Copy of the scenario table without unknown keys (each one a warning)."""
    out: dict[str, Any] = {}
    fields = Scenario.model_fields
    for key, value in data.items():
        if key not in fields:
            v.warnings.append(f"{v.source}: unknown key scenario.{key} ignored")
            continue
        annotation = fields[key].annotation
        sub_fields = getattr(annotation, "model_fields", None)
        if isinstance(value, dict) and sub_fields is not None:
            kept = {}
            for k, x in value.items():
                if k in sub_fields:
                    kept[k] = x
                else:
                    v.warnings.append(f"{v.source}: unknown key scenario.{key}.{k} ignored")
            out[key] = kept
        else:
            out[key] = value
    return out


def _scenario(data: dict[str, Any], v: _Validator) -> Scenario:
    table = v.table(data, "scenario", "")
    assert table is not None
    cleaned = _strip_unknown_scenario_keys(table, v)
    try:
        return scenario_from_dict(cleaned, v.source)
    except ScenarioError as exc:
        raise SessionError(
            str(exc).replace(f"{v.source}: key ", f"{v.source}: key scenario.")
        ) from None


def _decision(table: Any, key: str, v: _Validator, extra_keys: tuple[str, ...] = ()) -> Decision:
    if not isinstance(table, dict):
        raise v.error(key, table, "a table of decision values")
    known = (*DECISION_KEYS, *extra_keys)
    v.unknown(table, known, key)
    values = {}
    for k in DECISION_KEYS:
        if k not in table:
            raise v.missing(
                f"{key}.{k}",
                "a number" if not k.endswith("split") else f"a table of {', '.join(SPLIT_KEYS)}",
            )
        x = table[k]
        if k.endswith("split"):
            if not isinstance(x, dict):
                raise v.error(f"{key}.{k}", x, f"a table of {', '.join(SPLIT_KEYS)}")
            v.unknown(x, SPLIT_KEYS, f"{key}.{k}")
            for sk in SPLIT_KEYS:
                if sk not in x:
                    raise v.missing(f"{key}.{k}.{sk}", "a fraction in 0..1")
                v.number(x[sk], f"{key}.{k}.{sk}")
            x = {sk: x[sk] for sk in SPLIT_KEYS}
        else:
            v.number(x, f"{key}.{k}")
        values[k] = x
    try:
        return Decision.from_dict(values, f"{v.source}: key {key}")
    except StratsimError as exc:
        raise SessionError(str(exc)) from None


def _history_entry(entry: Any, key: str, period: int, v: _Validator) -> Summary:
    if not isinstance(entry, dict):
        raise v.error(key, entry, "a table with period and one table per KPI")
    v.int_(entry, "period", key, period, period)
    summary: Summary = {}
    for kpi, stats in entry.items():
        if kpi == "period":
            continue
        if kpi not in KPIS:
            v.warnings.append(
                f"{v.source}: unknown key {key}.{kpi} ignored (not a KPI of this version)"
            )
            continue
        if not isinstance(stats, dict):
            raise v.error(f"{key}.{kpi}", stats, f"a table of {', '.join(STATS)}")
        v.unknown(stats, STATS, f"{key}.{kpi}")
        row = {}
        for s in STATS:
            if s not in stats and (kpi in PROBABILITY_KPIS or kpi in OPTIONAL_KPIS):
                row[s] = math.nan  # n/a: not written (see save_session)
                continue
            if s not in stats:
                raise v.missing(f"{key}.{kpi}.{s}", "a finite number")
            row[s] = v.number(stats[s], f"{key}.{kpi}.{s}")
        summary[kpi] = row
    return summary


def _model_refs(
    data: dict[str, Any], v: _Validator, base: Path, allow_external: bool
) -> dict[str, ModelRef]:
    table = v.table(data, "models", "", required=False)
    if table is None:
        return {}
    v.unknown(table, tuple(MODEL_ROLES), "models")
    refs: dict[str, ModelRef] = {}
    for role in MODEL_ROLES:
        t = v.table(table, role, "models", required=False)
        if t is not None:
            refs[role] = _model_ref(t, role, f"models.{role}", v, base, allow_external)
    return refs


def _model_ref(
    t: dict[str, Any],
    role: str,
    prefix: str,
    v: _Validator,
    base: Path,
    allow_external: bool,
    extra_keys: tuple[str, ...] = (),
) -> ModelRef:
    """One model reference table (``[models.ROLE]`` or a ``[[model_switches]]`` entry)."""
    v.unknown(t, (*_MODEL_KEYS, *extra_keys), prefix)
    rel = v.str_(t, "path", prefix)
    sha = v.str_(t, "sha256", prefix)
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha.lower()):
        raise v.error(f"{prefix}.sha256", sha, "64 hexadecimal digits (the file's SHA-256)")
    kind = v.str_(t, "kind", prefix)
    metrics: dict[str, float] = {}
    mt = v.table(t, "metrics", prefix, required=False) or {}
    for k, x in mt.items():
        metrics[k] = v.number(x, f"{prefix}.metrics.{k}")
    undefined = t.get("undefined_metrics", [])
    if not isinstance(undefined, list) or not all(isinstance(u, str) for u in undefined):
        raise v.error(f"{prefix}.undefined_metrics", undefined, "an array of metric names")
    recipe = v.table(t, "recipe", prefix, required=False)
    if recipe is not None:
        from ..errors import DataError
        from ..recipefile import recipe_from_dict

        try:
            recipe_from_dict(recipe, f"{v.source}: key {prefix}.recipe")
        except DataError as exc:
            raise SessionError(str(exc)) from None
    p = Path(rel)
    file = (base / p).resolve()  # symbolic links followed: containment is judged on the real place
    inside = not p.is_absolute() and not p.drive and file.is_relative_to(base.resolve())
    if not inside and not allow_external:
        where = "" if p.is_absolute() else f" (it resolves to {file})"
        raise SessionError(
            f"{v.source}: key {prefix}.path: value {rel!r}{where}: expected a model file inside the "
            f"session's folder {base}; copy the model folder next to the session file, or, to trust "
            f"it where it is, allow external models ({term('allow_external_models')} on stratsim run "
            "or stratsim check; the TUI opens only sessions whose models lie in their folder)"
        )
    return ModelRef(role, rel, file, sha.lower(), kind, metrics, tuple(undefined))


def _model_switches(
    data: dict[str, Any], v: _Validator, base: Path, allow_external: bool, period: int
) -> list[ModelRef]:
    """``[[model_switches]]``: each a model reference plus ``role`` and ``period`` (the
    first period simulated with it, 2..run.period + 1), in order of period."""
    raw = data.get("model_switches", [])
    if not isinstance(raw, list):
        raise v.error("model_switches", raw, "an array of [[model_switches]] tables")
    out: list[ModelRef] = []
    last = 0
    for i, t in enumerate(raw, start=1):
        key = f"model_switches[{i}]"
        if not isinstance(t, dict):
            raise v.error(key, t, "a table with role, period, path, sha256, kind")
        role = v.str_(t, "role", key, tuple(MODEL_ROLES))
        at = v.int_(t, "period", key, max(2, last), period + 1)
        last = at
        ref = _model_ref(t, role, key, v, base, allow_external, ("role", "period"))
        out.append(replace(ref, period=at, key=key))
    return out


def _check_model_file(ref: ModelRef, source: str) -> None:
    try:
        digest = outputs.file_sha256(ref.file)
    except OSError as exc:
        raise SessionError(
            f"{source}: key {ref.table_key}.path: value {ref.path!r}: cannot read model file {ref.file}: {exc.strerror or exc}"
        ) from None
    if digest != ref.sha256:
        raise SessionError(
            f"{source}: key {ref.table_key}.sha256: model file {ref.file} has SHA-256 {digest}, "
            f"the session expects {ref.sha256}: the file changed since the session was saved; refusing to load it"
        )
