"""The vectorized engine against the scalar, per-path reference (``tests/reference_model.py``).

Float64 engine, a few hundred paths, 24 periods, uncertain parameters drawn per path
(all four distributions), a high-incident model so many paths have incidents, and a
decision schedule that moves every lever (including corners: all budget to one
segment, zero budget, zero price). Every state variable and every KPI of every path
must agree to 1e-5 relative; the Simulation's KPI summaries must agree with the mean
and P10/P50/P90 computed from the reference's per-path values.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from stratsim.engine import market
from stratsim.engine.decisions import Decision
from stratsim.engine.kpi import KPIS, STATS
from stratsim.engine.models import LinearSatisfaction, LogisticPrivacy
from stratsim.engine.scenario import Scenario, scenario_from_dict
from stratsim.engine.scenario_draw import draw_parameters
from stratsim.engine.simulation import Simulation, derive_seed

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_model as ref  # noqa: E402

N_PATHS = 300
PERIODS = 24
RTOL = 1e-5
ATOL = 1e-9
F64 = torch.float64
CPU = torch.device("cpu")

#: Incident model with a high base rate (intercept -5 -> -1.5): 20-50% a month.
RISKY = LogisticPrivacy(intercept=-1.5)
#: Satisfaction model with non-default coefficients (the reference reads them).
SAT = LinearSatisfaction(alpha=0.5, beta=0.25, gamma=0.2, intercept=0.6)


def uncertain_scenario() -> Scenario:
    """Default scenario with uncertain parameters of each distribution, some wide
    enough that paths hit the market-potential caps (M_c, M_b)."""
    d = Scenario().to_dict()
    d["to_c"]["bass_p"] = {"dist": "lognormal", "median": 0.0025, "sigma": 0.5}
    d["to_c"]["bass_q"] = {"dist": "uniform", "low": 0.02, "high": 0.3}
    d["to_c"]["market_potential"] = {"dist": "uniform", "low": 25_000.0, "high": 2_000_000.0}
    d["to_b"]["market_potential"] = {
        "dist": "triangular",
        "low": 22.0,
        "mode": 60.0,
        "high": 5_000.0,
    }
    d["to_b"]["win_rate"] = {"dist": "triangular", "low": 0.1, "mode": 0.22, "high": 0.6}
    d["capability"]["eta"] = {"dist": "normal", "mean": 0.6, "sd": 0.2}
    d["privacy"]["brand_hit"] = {"dist": "normal", "mean": 1.0, "sd": 0.5}
    d["satisfaction"]["noise_sd"] = 1.0  # pushes some paths against the 0..10 clamps
    return scenario_from_dict(d, "uncertain")


def schedule() -> list[Decision]:
    """24 decisions that move every lever, corners included."""
    base = Decision()
    variants = [
        base,
        base.with_changes(c_share=0.9, budget=800_000.0),
        base.with_changes(c_share=0.1, privacy_share=0.4),
        base.with_changes(c_share=1.0, c_price=0.0),
        base.with_changes(c_share=0.0, b_seat_price=80.0, budget=2_000_000.0),
        base.with_changes(budget=0.0),
        base.with_changes(
            c_split={"product": 0.0, "ux": 0.0, "service": 0.0, "acquisition": 1.0},
            b_split={"product": 0.25, "ux": 0.25, "service": 0.25, "acquisition": 0.25},
            c_price=30.0,
        ),
        base.with_changes(privacy_share=1.0, budget=500_000.0),
    ]
    return [variants[t % len(variants)].validate() for t in range(PERIODS)]


def mismatches(what: str, engine: torch.Tensor, reference: list[float]) -> list[str]:
    got = engine.tolist()
    assert len(got) == len(reference), what
    bad = []
    for i, (a, b) in enumerate(zip(got, reference, strict=True)):
        if math.isnan(a) and math.isnan(b):
            continue
        if not (abs(a - b) <= RTOL * max(abs(a), abs(b)) + ATOL):
            bad.append(f"{what} path {i}: engine {a!r} reference {b!r}")
    return bad


def state_mismatches(what: str, state, ref_states: list[dict]) -> list[str]:
    """Every state variable, the trailing-12-month rows included."""
    bad = []
    for k in ref.STATE_KEYS:
        bad += mismatches(f"{what} state {k}", getattr(state, k), [st[k] for st in ref_states])
    for r, row in enumerate(ref.TRAIL_ROWS):
        for m in range(12):
            bad += mismatches(
                f"{what} trail {row}[{m}]",
                state.trail[m][r],
                [st["trail"][r][m] for st in ref_states],
            )
        bad += mismatches(
            f"{what} trail_sum {row}",
            state.trail_sum[r],
            [math.fsum(st["trail"][r]) for st in ref_states],
        )
    return bad


def compare_market(
    scenario: Scenario, periods: int = PERIODS, seed: int = 11, inc=RISKY
) -> tuple[list[str], dict]:
    """Run market.step (engine) and the reference side by side from the same params and
    shocks (a twin CPU generator in the same state); return mismatches and counts."""
    params = draw_parameters(scenario, N_PATHS, torch.Generator().manual_seed(seed), F64, CPU)
    ref_params = ref.split_paths(params)
    g_engine = torch.Generator().manual_seed(seed + 1)
    g_ref = torch.Generator().manual_seed(seed + 1)
    state = market.initial_state(params, SAT)
    ref_states = [ref.initial_state(p, SAT) for p in ref_params]
    bad = []
    for k in ref.STATE_KEYS:
        bad += mismatches(f"initial {k}", getattr(state, k), [s[k] for s in ref_states])
    incidents = [0] * N_PATHS
    for t, decision in enumerate(schedule()[:periods]):
        s = market.draw_shocks(g_ref, N_PATHS, F64, CPU)
        ref_shocks = ref.split_paths({k: getattr(s, k) for k in ref.SHOCK_KEYS})
        state, out = market.step(params, state, decision, g_engine, SAT, inc)
        ref_states, ref_kpis = ref.run_paths(
            ref_params, ref_states, t, decision, ref_shocks, SAT, inc
        )
        assert state.period == t + 1
        bad += state_mismatches(f"period {t + 1}", state, ref_states)
        assert set(out) == set(KPIS)
        for k in KPIS:
            bad += mismatches(f"period {t + 1} kpi {k}", out[k], [kp[k] for kp in ref_kpis])
        incidents = [n + int(kp["incidents"]) for n, kp in zip(incidents, ref_kpis, strict=True)]
    return bad, {"incidents": incidents, "params": params}


def test_engine_matches_scalar_reference_per_path():
    bad, info = compare_market(uncertain_scenario())
    assert not bad, f"{len(bad)} mismatches, first: " + "; ".join(bad[:5])
    # The comparison covered what it should: many paths with incidents (some with
    # several), uncertain parameters that really differ per path, capped markets.
    inc = info["incidents"]
    assert sum(1 for n in inc if n > 0) > 100
    assert sum(1 for n in inc if n >= 3) > 20
    assert float(info["params"]["to_c.bass_q"].std()) > 0.05
    assert float(info["params"]["to_b.market_potential"].min()) < 100.0


def test_engine_matches_reference_with_a_yearly_label_privacy_model():
    """A privacy model trained on yearly labels: both convert p_m = 1 - (1 - p)^(1/12)."""
    from dataclasses import replace

    bad, info = compare_market(
        uncertain_scenario(), periods=8, inc=replace(RISKY, label_period="year")
    )
    assert not bad, f"{len(bad)} mismatches, first: " + "; ".join(bad[:5])
    assert sum(1 for n in info["incidents"] if n > 0) > 20


def test_reference_catches_a_changed_equation(monkeypatch):
    """The oracle has teeth: a 1% change of one coefficient in the engine is caught."""
    original = market._grow

    def perturbed(x, spend, p):
        return original(x, spend, p) * 1.01

    monkeypatch.setattr(market.stocks, "_grow", perturbed)  # where capabilities() looks it up
    bad, _ = compare_market(uncertain_scenario(), periods=2)
    assert any("state F_c" in b for b in bad)
    assert any("kpi satisfaction_c" in b for b in bad)


def test_reference_catches_a_changed_parameter():
    """Feeding the engine a scenario whose one parameter differs by 0.1% is caught."""
    scn = uncertain_scenario()
    d = scn.to_dict()
    d["to_b"]["seat_expansion_max"] = d["to_b"]["seat_expansion_max"] * 1.001
    other = scenario_from_dict(d)
    params_a = draw_parameters(scn, N_PATHS, torch.Generator().manual_seed(3), F64, CPU)
    params_b = draw_parameters(other, N_PATHS, torch.Generator().manual_seed(3), F64, CPU)
    state_a, _ = market.step(
        params_a,
        market.initial_state(params_a, SAT),
        Decision(),
        torch.Generator().manual_seed(4),
        SAT,
        RISKY,
    )
    ref_states, _ = ref.run_paths(
        ref.split_paths(params_b),
        [ref.initial_state(p, SAT) for p in ref.split_paths(params_b)],
        0,
        Decision(),
        ref.split_paths(
            {
                k: getattr(
                    market.draw_shocks(torch.Generator().manual_seed(4), N_PATHS, F64, CPU), k
                )
                for k in ref.SHOCK_KEYS
            }
        ),
        SAT,
        RISKY,
    )
    assert mismatches("seats_b", state_a.seats_b, [s["seats_b"] for s in ref_states])


@pytest.mark.parametrize("seed", [5])
def test_simulation_summaries_match_reference(seed):
    """Simulation (float64) history == mean/P10/P50/P90 of the reference's per-path KPIs,
    and its state == the reference state, period by period."""
    scn = uncertain_scenario()
    sim = Simulation(
        scn,
        seed=seed,
        n_paths=N_PATHS,
        dtype="float64",
        device="cpu",
        satisfaction_model=SAT,
        privacy_model=RISKY,
    )
    ref_params = ref.split_paths(sim.params.as_tensors())
    ref_states = [ref.initial_state(p, SAT) for p in ref_params]
    gen = torch.Generator().manual_seed(derive_seed(seed, "shocks"))
    bad = []
    total_incidents = 0.0
    for t, decision in enumerate(schedule()):
        s = market.draw_shocks(gen, N_PATHS, F64, CPU)
        shocks = ref.split_paths({k: getattr(s, k) for k in ref.SHOCK_KEYS})
        ref_states, ref_kpis = ref.run_paths(
            ref_params, ref_states, t, decision, shocks, SAT, RISKY
        )
        summary = sim.step(decision)
        assert list(summary) == list(KPIS)
        for k in KPIS:
            expected = ref.summary([kp[k] for kp in ref_kpis], k)
            for stat in STATS:
                a, b = summary[k][stat], expected[stat]
                if math.isnan(a) and math.isnan(b):
                    continue
                if not abs(a - b) <= RTOL * max(abs(a), abs(b)) + ATOL:
                    bad.append(f"period {t + 1} {k}.{stat}: engine {a!r} reference {b!r}")
        bad += state_mismatches(f"period {t + 1}", sim.state, ref_states)
        total_incidents += summary["incidents"]["mean"] * N_PATHS
    assert not bad, f"{len(bad)} mismatches, first: " + "; ".join(bad[:5])
    assert sim.period == PERIODS and len(sim.history) == PERIODS
    assert total_incidents > 200
    assert math.isclose(
        sim.history[-1]["incidents"]["mean"] * N_PATHS,
        round(sim.history[-1]["incidents"]["mean"] * N_PATHS),
        abs_tol=1e-9,
    )


def test_reference_quantile_is_numpy_linear():
    """The reference's quantile is the documented linear interpolation (guards the oracle)."""
    xs = [4.0, 1.0, 3.0, 2.0, 10.0]
    assert ref.quantile(xs, 0.5) == 3.0
    assert ref.quantile(xs, 0.1) == pytest.approx(1.4)
    assert ref.quantile(xs, 0.9) == pytest.approx(7.6)
    assert ref.quantile([7.0], 0.9) == 7.0
