"""The vectorized market model (v2): state, random shocks and the one-period step.

Every state variable is a tensor of shape ``[n_paths]``; one call of :func:`advance`
moves every Monte-Carlo path one month. :func:`advance` is the composition of pure
sub-steps, one per section of the model (every equation, parameter, unit, default and
source: ``docs/MODEL.md``):

* :func:`capabilities`: goodwill stocks with diminishing returns and depreciation
  (Nerlove & Arrow 1962), ``X' = clamp(X + eta*ln(1 + s/scale)*(1 - X/10) - delta*X, 0, 10)``,
  including the shared core K built by both segments' product spend;
* :func:`satisfaction`: the satisfaction model at ``F_eff = (1-w)*F + w*K``, U, R plus noise
  (the model's test RMSE by default); the reference level is the model's own prediction at
  the initial stocks;
* :func:`consumer`: perceived value ``V = S - w*(price/ref - 1)``; Bass diffusion (Bass 1969)
  from the untapped market (minus a lapsed pool); conversion and paid churn driven by V, a
  one-month churn shock on a price rise;
* :func:`enterprise`: sales reps (hiring lag, ramp) with bounded opportunities a month, leads
  from the open market and from consumers (bottom-up), a k=3 Erlang pipeline, win rate, logo
  churn and seat growth responding to satisfaction and to the seat price;
* :func:`incidents`: Bernoulli incident with the model's monthly probability (a yearly-label
  model converted, ``p_m = 1 - (1 - p)^(1/12)``), cost = response + per-record remediation +
  a fraction of the GDPR cap ``max(EUR 20M, 4% of trailing-12-month revenue)``; churn shock and
  one brand penalty on acquisition;
* :func:`finance`: MRR, costs, cash, NPV at the monthly rate of the annual discount rate, and
  the terminal values (Gordon growth on the steady-state cash flow, with the spend that holds
  each capability stock charged (:func:`maintenance_spend`) and each segment's margin growing
  at most at its installed base's own rate; ARR multiple).

The step is pure: :func:`advance` is a deterministic function of (params, state,
decision, shocks, models); :func:`step` draws the shocks from a ``torch.Generator`` on
the CPU (so a run replays identically on any device) and calls :func:`advance`.
``relaxed=True`` is the differentiable path (incidents as expected values, smooth caps).

Modules: :mod:`.state` (State, Shocks, initial_state, the trailing window's rows),
:mod:`.smooth` (caps and ReLUs smooth on the relaxed path), :mod:`.stocks` (capabilities,
maintenance_spend, satisfaction), :mod:`.demand` (consumer, enterprise), :mod:`.incident`,
:mod:`.cashflow` (finance, clock, terminal_growth), :mod:`.month` (the month as one tensor
function), :mod:`.compiled` (use_compile), :mod:`.transition` (advance, step, rollout).
"""

from __future__ import annotations

from .cashflow import Clock, Finance, clock, finance, terminal_growth
from .compiled import _COMPILED, compile_unavailable, use_compile
from .demand import Consumer, Enterprise, consumer, enterprise
from .incident import Incidents, incidents
from .month import _advance_tensors
from .smooth import _cap, _clamp_fresh, _col, _max, _relu
from .state import (
    PIPELINE_STAGES,
    TRAIL_MONTHS,
    TRAIL_ROWS,
    VOLUME_ROWS,
    Shocks,
    State,
    Tensor,
    draw_shocks,
    initial_state,
    reference_satisfaction,
)
from .stocks import (
    MAINTENANCE_EXP_MAX,
    Capabilities,
    _grow,
    _stock_spend,
    _stocks,
    capabilities,
    maintenance_spend,
    satisfaction,
)
from .transition import advance, as_decision_tensors, rollout, step

__all__ = [
    "MAINTENANCE_EXP_MAX", "PIPELINE_STAGES", "TRAIL_MONTHS", "TRAIL_ROWS", "VOLUME_ROWS",
    "Capabilities", "Clock", "Consumer", "Enterprise", "Finance", "Incidents", "Shocks", "State",
    "Tensor", "_COMPILED", "_advance_tensors", "_cap", "_clamp_fresh", "_col", "_grow", "_max",
    "_relu", "_stock_spend", "_stocks", "advance", "as_decision_tensors", "capabilities", "clock",
    "compile_unavailable", "consumer", "draw_shocks", "enterprise", "finance", "incidents",
    "initial_state", "maintenance_spend", "reference_satisfaction", "rollout", "satisfaction",
    "step", "terminal_growth", "use_compile",
]  # fmt: skip
