"""Migration of older session files to the current schema (:data:`session.SCHEMA_VERSION`).

Each step ``_v{n}_to_v{n+1}`` takes a parsed document of version ``n`` and returns a new
document of version ``n + 1`` (the input is not modified). Steps only reshape; the
current schema's validation (:func:`stratsim.engine.session.parse_session`) runs after
the last step, so errors name the keys of the current schema.

Schema version 1 (stratsim before 0.1.0's session format was settled):

* ``[meta]`` had no ``app_version``;
* ``[run]`` called the number of Monte-Carlo paths ``paths`` (now ``n_paths``) and had
  no ``next_decision`` (the held allocation was the last decision taken);
* each ``[[decisions]]`` table held its splits flattened: ``c_split_product``,
  ``c_split_ux``, ``c_split_service``, ``c_split_acquisition`` and the same for
  ``b_split_*`` (now the sub-tables ``c_split`` and ``b_split``).

Schema version 2 (stratsim 0.1.0) holds a scenario of the economic model v1: the keys in
:data:`V1_MODEL_KEYS` are dropped (the rest keep their values; new keys take their
defaults), and loading warns that the replay's results differ from the stored history.

Schema version 3 lacks only the optional ``[[model_switches]]`` and ``[[branches]]``.
"""

from __future__ import annotations

import copy
from typing import Any

from .decisions import SPLIT_KEYS
from .errors import SessionError

#: ``[meta].app_version`` given to files migrated from version 1, which did not record it.
V1_APP_VERSION = "unknown (schema 1)"


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    meta = out.get("meta")
    if isinstance(meta, dict):
        meta.setdefault("app_version", V1_APP_VERSION)
    run = out.get("run")
    if isinstance(run, dict) and "paths" in run and "n_paths" not in run:
        run["n_paths"] = run.pop("paths")
    decisions = out.get("decisions")
    if isinstance(decisions, list):
        for d in decisions:
            if not isinstance(d, dict):
                continue  # reported by the validation of the current schema
            for seg in ("c_split", "b_split"):
                flat = [f"{seg}_{k}" for k in SPLIT_KEYS]
                if seg not in d and any(k in d for k in flat):
                    d[seg] = {k: d.pop(f"{seg}_{k}") for k in SPLIT_KEYS if f"{seg}_{k}" in d}
    out["schema_version"] = 2
    return out


#: Scenario keys of the economic model v1 that model v2 no longer has (schema 3): the
#: satisfaction reference level now follows the model, the To B lead cost became sales
#: capacity (reps), and the To C price acts through perceived value.
V1_MODEL_KEYS = {
    "to_c": ("satisfaction_ref", "price_elasticity"),
    "to_b": ("satisfaction_ref", "cost_per_lead"),
}


def _v2_to_v3(doc: dict[str, Any]) -> dict[str, Any]:
    """Economic model v2: drop the v1-only scenario keys; a sales cycle below the three
    stages of the Erlang pipeline becomes 3 months."""
    out = copy.deepcopy(doc)
    scenario = out.get("scenario")
    if isinstance(scenario, dict):
        for section, keys in V1_MODEL_KEYS.items():
            sec = scenario.get(section)
            if isinstance(sec, dict):
                for k in keys:
                    sec.pop(k, None)
        to_b = scenario.get("to_b")
        if (
            isinstance(to_b, dict)
            and isinstance(to_b.get("sales_cycle_months"), int | float)
            and to_b["sales_cycle_months"] < 3
        ):
            to_b["sales_cycle_months"] = 3.0
    out["schema_version"] = 3
    return out


def _v3_to_v4(doc: dict[str, Any]) -> dict[str, Any]:
    """Schema 4 only adds the optional ``[[model_switches]]`` and ``[[branches]]``."""
    out = copy.deepcopy(doc)
    out["schema_version"] = 4
    return out


_STEPS = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


def migrate(doc: dict[str, Any], version: int, source: str) -> dict[str, Any]:
    """Bring a parsed session document from ``version`` to the current schema.

    Raises:
        SessionError: no migration is known from ``version``.
    """
    from .session import SCHEMA_VERSION

    while version < SCHEMA_VERSION:
        step = _STEPS.get(version)
        if step is None:
            raise SessionError(
                f"{source}: key schema_version: value {version}: no migration from this version (expected 1..{SCHEMA_VERSION})"
            )
        doc = step(doc)
        version += 1
    return doc
