"""The public step: :func:`advance` (one month from given shocks), :func:`step` (draws
them) and :func:`rollout` (many months)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..decisions import Decision, DecisionTensors
from ..models import ResponseModel
from ..params import Params, as_params
from .cashflow import clock
from .compiled import _COMPILED, _compile_failed, _is_compile_failure
from .month import _advance_tensors
from .state import Shocks, State, Tensor, draw_shocks


def as_decision_tensors(
    decision: Decision | DecisionTensors, dtype: torch.dtype, device: Any
) -> DecisionTensors:
    """``decision`` as :class:`~.decisions.DecisionTensors` (a :class:`Decision` is converted)."""
    return (
        decision
        if isinstance(decision, DecisionTensors)
        else DecisionTensors.from_decision(decision, dtype, device)
    )


def advance(
    params: Params | Mapping[str, Any],
    state: State,
    decision: Decision | DecisionTensors,
    shocks: Shocks,
    satisfaction_model: ResponseModel,
    privacy_model: ResponseModel,
    relaxed: bool = False,
) -> tuple[State, dict[str, Tensor]]:
    """Move every path one month. Pure: inputs are not modified.

    A composition of the sub-steps :func:`capabilities`, :func:`satisfaction`,
    :func:`consumer`, :func:`enterprise`, :func:`incidents`, :func:`finance`.

    Args:
        params: :class:`~.params.Params` (or a flat ``{"section.name": [n_paths]}`` dict).
        state: the state after ``state.period`` months.
        decision: a *validated* :class:`Decision` (every path) or
            :class:`~.decisions.DecisionTensors` (fields 0-d or ``[n_paths]``).
        shocks: this period's random draws.
        satisfaction_model, privacy_model: see :mod:`.models`.
        relaxed: the differentiable path: an incident enters as its probability (expected
            cost, churn and brand) instead of a Bernoulli draw, and the caps that would
            stop a lever's gradient are smooth minima. No in-place operation and no
            ``.item()``: autograd flows to decision tensors that require grad. The
            exact simulation (``relaxed=False``) is the default.

    Returns:
        ``(new_state, outputs)`` where outputs maps each KPI name of
        :data:`~.kpi.KPIS` to a ``[n_paths]`` tensor for this period.
    """
    p = as_params(params)
    d = as_decision_tensors(decision, state.F_c.dtype, state.F_c.device)
    # The spend is cached on the decision (held for many months): taken here, outside
    # what is compiled, so the cache's state is not a guard of the compiled step.
    args = (
        p,
        state,
        d,
        d.spend(),
        shocks,
        satisfaction_model,
        privacy_model,
        relaxed,
        clock(state),
    )
    fn = _COMPILED.fn
    if fn is None:
        tensors, outputs = _advance_tensors(*args)
    else:
        try:
            tensors, outputs = fn(*args)
        except Exception as exc:
            if not _is_compile_failure(exc):
                raise
            _compile_failed(exc)
            tensors, outputs = _advance_tensors(*args)
    return State(state.period + 1, *tensors), outputs


def step(
    params: Params | Mapping[str, Any],
    state: State,
    decision: Decision | DecisionTensors,
    generator: torch.Generator,
    satisfaction_model: ResponseModel,
    privacy_model: ResponseModel,
    relaxed: bool = False,
) -> tuple[State, dict[str, Tensor]]:
    """Draw this period's shocks from ``generator`` and :func:`advance`."""
    ref = state.F_c
    shocks = draw_shocks(generator, ref.shape[0], ref.dtype, ref.device)
    return advance(params, state, decision, shocks, satisfaction_model, privacy_model, relaxed)


def rollout(
    params: Params | Mapping[str, Any],
    state: State,
    decisions: Decision | DecisionTensors | list[Decision | DecisionTensors],
    generator: torch.Generator,
    satisfaction_model: ResponseModel,
    privacy_model: ResponseModel,
    steps: int,
    relaxed: bool = False,
) -> tuple[State, list[dict[str, Tensor]]]:
    """:func:`step` ``steps`` months from ``state``; ``decisions`` is one decision held
    throughout or one per month. Returns the final state and each month's outputs.

    With per-path :class:`~.decisions.DecisionTensors` this evaluates many candidate
    allocations as paths of one simulation; with the same ``generator`` state two
    rollouts share their random numbers (common random numbers).
    """
    outs = []
    for t in range(steps):
        d = decisions[t] if isinstance(decisions, list) else decisions
        state, out = step(params, state, d, generator, satisfaction_model, privacy_model, relaxed)
        outs.append(out)
    return state, outs
