"""The simulation driver: a scenario, a seed, paths, a policy, models, and the history.

A run is fully determined by scenario + seed + n_paths + dtype + device + decisions +
model weights: :meth:`Simulation.replay` re-simulates stored decisions and arrives at
the same state bit for bit (on the same device and dtype). Undo and model changes are
implemented as replays, so the history always reads as one consistent run.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from . import market
from .decisions import Decision, DecisionTensors, decision_from_allocation
from .device import resolve_device, resolve_dtype
from .errors import StratsimError
from .kpi import QUANTILE_SAMPLE, QUANTILE_SAMPLE_FROM, Summary, summarize, tidy_frame
from .models import (
    MODEL_ATTRS,
    PRIVACY_FEATURES,
    SATISFACTION_FEATURES,
    LinearSatisfaction,
    LogisticPrivacy,
    ResponseModel,
    check_features,
    label_period_months,
    model_noise_sd,
    model_warnings,
    renamed_keyword,
)
from .params import Params, draw_params
from .policies import Policy, make_policy
from .scenario import Scenario
from .seeds import derive_seed

MAX_PATHS = 5_000_000


@dataclass(frozen=True)
class ModelSwitch:
    """A model adopted "from the next period": ``model`` replaces the ``role`` model
    (``"satisfaction"`` or ``"privacy"``) for every period from ``period`` (1-based, the
    first period simulated with it); the periods before keep the model used then."""

    role: str
    period: int
    model: ResponseModel


class Simulation:
    """A Monte-Carlo run over ``n_paths`` paths, stepped one month at a time.

    Args:
        scenario: the parameters (default: ``Scenario()``, the shipped defaults).
        seed: integer >= 0; with the other arguments it determines the run.
        n_paths: Monte-Carlo paths, 1..5,000,000.
        dtype: ``"float32"`` or ``"float64"``.
        device: ``"auto"`` (cuda, then mps, then cpu), ``"cpu"``, ``"cuda"``, ``"mps"``.
        policy: ``"fixed"``, ``"manual"`` or ``"feedback"`` (:mod:`.policies`).
        satisfaction_model, privacy_model: :class:`~.models.ResponseModel`; default to
            the shipped linear/logistic models. ``incident_model`` is the deprecated former
            name of ``privacy_model``.
        overrides: per-path (or common) values of scenario keys,
            ``{"to_b.win_rate": Tensor[n_paths]}`` (:func:`~.params.draw_params`): a sweep
            over scenario keys runs its points as paths of one simulation.

    Raises:
        StratsimError: invalid seed, n_paths, dtype, device or policy; ModelError when a
            model needs a feature the simulation cannot supply.
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        seed: int = 0,
        n_paths: int = 1000,
        dtype: str = "float32",
        device: str = "auto",
        policy: str = "fixed",
        satisfaction_model: ResponseModel | None = None,
        privacy_model: ResponseModel | None = None,
        overrides: Mapping[str, Any] | None = None,
        incident_model: ResponseModel | None = None,
    ) -> None:
        privacy_model = renamed_keyword(
            privacy_model, incident_model, "incident_model", "privacy_model"
        )
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise StratsimError(f"seed {seed!r}: expected an integer in 0..2^63-1")
        if (
            isinstance(n_paths, bool)
            or not isinstance(n_paths, int)
            or not 1 <= n_paths <= MAX_PATHS
        ):
            raise StratsimError(f"paths {n_paths!r}: expected an integer in 1..{MAX_PATHS}")
        self.scenario = scenario if scenario is not None else Scenario()
        self.seed = seed
        self.n_paths = n_paths
        self.device = resolve_device(device)
        self.dtype_name = dtype
        self.dtype = resolve_dtype(dtype, self.device)
        self.allocation = decision_from_allocation(self.scenario.allocation)
        self.decision = self.allocation
        self.policy: Policy = make_policy(policy, self.allocation, self)
        self.satisfaction_model: ResponseModel = satisfaction_model or LinearSatisfaction()
        self.privacy_model: ResponseModel = privacy_model or LogisticPrivacy()
        self.overrides = dict(overrides or {})
        check_features(self.satisfaction_model, SATISFACTION_FEATURES, "satisfaction")
        check_features(self.privacy_model, PRIVACY_FEATURES, "privacy")
        label_period_months(self.privacy_model)
        #: The models used from period 1 (a replay starts from them).
        self.base_models: dict[str, ResponseModel] = {
            "satisfaction": self.satisfaction_model, "privacy": self.privacy_model,
        }  # fmt: skip
        #: Models adopted later, in order (:meth:`switch_model`); a replay applies them.
        self.model_switches: list[ModelSwitch] = []
        self._reset()

    # ----------------------------------------------------------------- state
    def _reset(self) -> None:
        pgen = torch.Generator().manual_seed(derive_seed(self.seed, "params"))
        overrides = dict(self.overrides)
        rmse = model_noise_sd(self.satisfaction_model)
        if (
            self.scenario.simulation.satisfaction_noise == "model"
            and rmse is not None
            and "satisfaction.noise_sd" not in overrides
        ):
            overrides["satisfaction.noise_sd"] = rmse
        self.params: Params = draw_params(
            self.scenario, self.n_paths, pgen, self.dtype, self.device, overrides=overrides
        )
        self._gen = torch.Generator().manual_seed(derive_seed(self.seed, "shocks"))
        self.state = market.initial_state(self.params, self.satisfaction_model)
        self.decisions: list[Decision] = []
        self.history: list[Summary] = []

    @property
    def period(self) -> int:
        """Months simulated so far (0 before the first step)."""
        return self.state.period

    @property
    def horizon(self) -> int:
        return self.scenario.simulation.horizon_months

    @property
    def policy_name(self) -> str:
        return self.policy.name

    def model_warnings(self) -> list[str]:
        """Warnings about the models in use (weak fit, a lever whose effect changes sign):
        :func:`~.models.model_warnings`; the CLI prints them, the TUI notifies them."""
        return model_warnings(self.satisfaction_model, self.privacy_model)

    def model_warnings_with(
        self, satisfaction: ResponseModel | None = None, privacy: ResponseModel | None = None
    ) -> list[str]:
        """:meth:`model_warnings` as they would be with ``satisfaction``/``privacy`` in use."""
        return model_warnings(
            satisfaction or self.satisfaction_model, privacy or self.privacy_model
        )

    @property
    def satisfaction_noise_sd(self) -> float | None:
        """The satisfaction noise in use (survey points), when path-invariant."""
        v = self.params.satisfaction.noise_sd
        return v if isinstance(v, float) else None

    @property
    def quantile_sample(self) -> int | None:
        """Paths the percentiles are taken from (:func:`~.kpi.summarize`): None (all) below
        :data:`~.kpi.QUANTILE_SAMPLE_FROM` paths or with per-path overrides (their paths are
        not exchangeable), else :data:`~.kpi.QUANTILE_SAMPLE`. The mean is always over all."""
        per_path = any(not isinstance(v, (int, float)) for v in self.overrides.values())
        return QUANTILE_SAMPLE if self.n_paths >= QUANTILE_SAMPLE_FROM and not per_path else None

    # ------------------------------------------------------------- decisions
    def next_decision(self) -> Decision:
        """The decision the current policy would take for the next period."""
        return self.policy.decide(self.decision, self.decisions, self.history)

    def set_decision(self, decision: Decision) -> None:
        """Hold ``decision`` for the next periods and switch to the ``manual`` policy.

        Raises:
            DecisionError: invalid decision; nothing changes.
        """
        decision.validate()
        self.decision = decision
        if self.policy.name != "manual":
            self.policy = make_policy("manual", self.allocation)

    def set_policy(self, name: str) -> None:
        """Switch policy (``manual``, ``fixed``, ``feedback``, ``optimize``); history is kept."""
        self.policy = make_policy(name, self.allocation, self)

    @property
    def incident_model(self) -> ResponseModel:
        """Deprecated former name of :attr:`privacy_model` (read-only)."""
        warnings.warn(
            "incident_model is deprecated: read privacy_model", DeprecationWarning, stacklevel=2
        )
        return self.privacy_model

    def set_models(
        self,
        satisfaction: ResponseModel | None = None,
        privacy: ResponseModel | None = None,
        *,
        incident: ResponseModel | None = None,
    ) -> None:
        """Use new models and re-simulate the stored decisions with them (``incident`` is
        the deprecated former name of ``privacy``).

        Raises:
            ModelError: a model needs a feature the simulation cannot supply; nothing changes.
        """
        privacy = renamed_keyword(privacy, incident, "incident", "privacy")
        if satisfaction is not None:
            check_features(satisfaction, SATISFACTION_FEATURES, "satisfaction")
        if privacy is not None:
            check_features(privacy, PRIVACY_FEATURES, "privacy")
            label_period_months(privacy)
        for role, model in (("satisfaction", satisfaction), ("privacy", privacy)):
            if model is not None:
                self.base_models[role] = model
                self.model_switches = [s for s in self.model_switches if s.role != role]
        self.replay(list(self.decisions))

    def switch_model(self, role: str, model: ResponseModel) -> ModelSwitch | None:
        """Use ``model`` for the ``role`` model from the next period on; the periods
        already simulated are untouched (a replay reproduces them with the earlier model).

        At period 0 there is no past: the model becomes the base model (as
        :meth:`set_models`; returns None). Otherwise the switch is recorded in
        :attr:`model_switches` (replacing one of the same role pending for the same or a
        later period) and returned. The satisfaction noise drawn at the start
        (``satisfaction_noise = "model"``: the base model's RMSE) is kept.

        Raises:
            ModelError: the model needs a feature the simulation cannot supply.
            StratsimError: an unknown role.
        """
        if role not in MODEL_ATTRS:
            raise StratsimError(f"model role {role!r}: expected one of {', '.join(MODEL_ATTRS)}")
        check_features(
            model, SATISFACTION_FEATURES if role == "satisfaction" else PRIVACY_FEATURES, role
        )
        if role == "privacy":
            label_period_months(model)
        if self.period == 0:
            self.set_models(**{role: model})
            return None
        switch = ModelSwitch(role, self.period + 1, model)
        self.model_switches = [
            s for s in self.model_switches if s.role != role or s.period < switch.period
        ]
        self.model_switches.append(switch)
        setattr(self, MODEL_ATTRS[role], model)
        return switch

    def _use_models_at(self, period: int) -> None:
        """Set the models in use for simulating ``period``: the base models, then every
        switch from that period or earlier, in order."""
        for role, attr in MODEL_ATTRS.items():
            setattr(self, attr, self.base_models[role])
        for s in self.model_switches:
            if s.period <= period:
                setattr(self, MODEL_ATTRS[s.role], s.model)

    # ------------------------------------------------------------------ step
    def decision_tensors(self, decision: Decision) -> DecisionTensors:
        """``decision`` as 0-d tensors of the run's dtype and device (cached for the last one)."""
        cached = getattr(self, "_dt_cache", None)
        if cached is None or cached[0] is not decision:
            cached = (decision, DecisionTensors.from_decision(decision, self.dtype, self.device))
            self._dt_cache = cached
        return cached[1]

    def _advance(self, decision: Decision) -> tuple[market.State, Summary]:
        dt = self.decision_tensors(decision)
        state, outputs = market.step(
            self.params, self.state, dt, self._gen, self.satisfaction_model, self.privacy_model
        )
        return state, summarize(outputs, self.quantile_sample)

    def step(self, decision: Decision | None = None) -> Summary:
        """Simulate one month with ``decision`` (default: the policy's) and record it.

        Returns:
            the period's KPI summary (see :func:`~.kpi.summarize`).

        Raises:
            DecisionError: invalid decision, refused before any state changes.
        """
        d = (decision if decision is not None else self.next_decision()).validate()
        if self.model_switches:
            self._use_models_at(self.period + 1)
        state, summary = self._advance(d)
        self.state = state
        self.decisions.append(d)
        self.history.append(summary)
        self.decision = d
        return summary

    def preview(self, decision: Decision | None = None) -> Summary:
        """The next period's KPIs under ``decision`` without committing anything.

        Uses the same random draws the next :meth:`step` will use (common random
        numbers), so two previews differ only by the decision.
        """
        d = (decision if decision is not None else self.next_decision()).validate()
        saved = self._gen.get_state()
        try:
            return self._advance(d)[1]
        finally:
            self._gen.set_state(saved)

    def run(
        self,
        steps: int,
        on_step: Callable[[int, Summary], Any] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> int:
        """Step ``steps`` months with the policy; returns the number actually stepped.

        ``on_step(period, summary)`` is called after each; ``should_stop()`` is checked
        before each (cancellation).
        """
        done = 0
        for _ in range(steps):
            if should_stop is not None and should_stop():
                break
            summary = self.step()
            done += 1
            if on_step is not None:
                on_step(self.period, summary)
        return done

    def replay(self, decisions: list[Decision]) -> None:
        """Reset to period 0 and re-simulate ``decisions`` (validated first, so an
        invalid list leaves the simulation as it was)."""
        for d in decisions:
            d.validate()
        held = self.decision
        self._use_models_at(1)
        self._reset()
        for d in decisions:
            self.step(d)
        self._use_models_at(self.period + 1)
        self.decision = decisions[-1] if decisions else held

    def undo(self, periods: int = 1) -> None:
        """Remove the last ``periods`` months by replaying the earlier decisions.

        Raises:
            StratsimError: nothing to undo or ``periods`` out of range.
        """
        if not 1 <= periods <= len(self.decisions):
            raise StratsimError(f"undo {periods} period(s): only {len(self.decisions)} simulated")
        keep = self.decisions[: len(self.decisions) - periods]
        self.replay(keep)
        if not keep:
            self.decision = self.allocation if self.policy.name != "manual" else self.decision

    # --------------------------------------------------------------- outputs
    def kpi_frame(self) -> pd.DataFrame:
        """The history as the tidy table ``period, kpi, mean, p10, p50, p90``."""
        return tidy_frame(self.history)

    def last_summary(self) -> Summary | None:
        return self.history[-1] if self.history else None
