"""Points batched as paths of one simulation equal the single runs of those points."""

import math

import pytest
import torch

from stratsim.engine.analysis.batch import decisions_with, make_batch, summarize_points
from stratsim.engine.errors import ScenarioError, StratsimError
from stratsim.engine.scenario import Scenario, scenario_from_dict
from stratsim.engine.simulation import Simulation

STEPS, P = 6, 64


def _single(scenario, decision, seed=3):
    sim = Simulation(scenario, seed=seed, n_paths=P, device="cpu", policy="manual")
    sim.set_decision(decision)
    for _ in range(STEPS):
        summary = sim.step()
    return summary


def test_decision_points_equal_single_runs():
    scenario = Scenario()
    sim0 = Simulation(scenario, seed=3, n_paths=P, device="cpu")
    base = sim0.allocation
    shares = [0.1, 0.5, 0.9]
    batch = make_batch(scenario, n_points=3, paths_per_point=P, seed=3)
    out = batch.rollout(
        decisions_with(base, {"c_share": shares, "budget": [2e5, 3e5, 4e5]}, torch.float32), STEPS
    )
    got = summarize_points(out)
    for k, (share, budget) in enumerate(zip(shares, [2e5, 3e5, 4e5], strict=True)):
        want = _single(scenario, base.with_changes(c_share=share, budget=budget))
        for kpi, stats in want.items():
            for stat, v in stats.items():
                g = got[k][kpi][stat]
                assert (math.isnan(g) and math.isnan(v)) or g == pytest.approx(
                    v, rel=1e-6, abs=1e-6
                ), (k, kpi, stat)


def test_scenario_override_points_equal_single_runs():
    scenario = Scenario()
    base = Simulation(scenario, seed=3, n_paths=P, device="cpu").allocation
    values = [0.1, 0.3]
    batch = make_batch(
        scenario, n_points=2, paths_per_point=P, seed=3, overrides={"to_b.win_rate": values}
    )
    got = summarize_points(batch.rollout(decisions_with(base, {}, torch.float32), STEPS))
    for k, v in enumerate(values):
        data = scenario.to_dict()
        data["to_b"]["win_rate"] = v
        want = _single(scenario_from_dict(data), base)
        assert got[k]["npv"]["mean"] == pytest.approx(want["npv"]["mean"], rel=1e-6)
        assert got[k]["accounts_b"]["p90"] == pytest.approx(want["accounts_b"]["p90"], rel=1e-6)
    assert got[0]["accounts_b"]["mean"] != got[1]["accounts_b"]["mean"]


def test_bad_points_refused_naming_the_key():
    with pytest.raises(ScenarioError, match="to_b.win_rate"):
        make_batch(
            Scenario(), n_points=2, paths_per_point=4, overrides={"to_b.win_rate": [0.2, 7.0]}
        )
    with pytest.raises(ScenarioError, match="no_such"):
        make_batch(Scenario(), n_points=1, paths_per_point=4, overrides={"to_b.no_such": 1.0})
    with pytest.raises(StratsimError, match="one per point"):
        make_batch(
            Scenario(), n_points=3, paths_per_point=4, overrides={"to_b.win_rate": [0.2, 0.3]}
        )
    with pytest.raises(StratsimError, match="lever"):
        decisions_with(Simulation(n_paths=1, device="cpu").allocation, {"nope": 1.0}, torch.float32)


def test_gradient_reaches_per_point_levers():
    scenario = Scenario()
    base = Simulation(scenario, n_paths=1, device="cpu").allocation
    share = torch.tensor([0.3, 0.6], requires_grad=True)
    batch = make_batch(scenario, n_points=2, paths_per_point=16, seed=1)
    out = batch.rollout(decisions_with(base, {"c_share": share}, torch.float32), 4, relaxed=True)
    out["npv"].mean(dim=1).sum().backward()
    assert share.grad is not None and torch.isfinite(share.grad).all() and (share.grad != 0).all()
