"""stratsim optimize: gradients, optimum, bounds, constraints, methods, policy, CLI.

The assertions hold for any sound model (they compare the optimizer with finite
differences, a grid and the current allocation on the same or on fresh paths), not this
version's levels.
"""

import json
import math

import pytest
import torch

from stratsim.cli import main
from stratsim.engine.analysis import optimize as O
from stratsim.engine.analysis import recommend as R
from stratsim.engine.decisions import SPLIT_KEYS, decision_from_allocation
from stratsim.engine.errors import StratsimError
from stratsim.engine.scenario import Scenario, load_scenario, scenario_from_dict
from stratsim.engine.simulation import Simulation


def _scenario(**changes):
    data = Scenario().to_dict()
    for key, value in changes.items():
        section, _, name = key.partition(".")
        data[section][name] = value
    return scenario_from_dict(data)


def _objective(start, space, theta):
    return O.risk_objective(O.simulate(start, space, theta, relaxed=True).value, O.Risk())[0]


def test_relaxed_gradient_matches_central_finite_differences():
    """Autograd through 12 months of the relaxed simulation (incidents as expected cost)
    agrees with central differences of the same simulation on the same random numbers."""
    scenario = Scenario()
    base = decision_from_allocation(scenario.allocation)
    start = O.start_from_scenario(scenario, paths=64, seed=2, steps=12, dtype="float64")
    space = O.LeverSpace.build(base, O.LEVERS, start.steps)
    theta = torch.tensor([space.encode(base)], dtype=torch.float64, requires_grad=True)
    _objective(start, space, theta).backward()
    grad = theta.grad[0]
    h = 1e-5
    fd = []
    for i in range(space.size):
        e = torch.zeros_like(theta)
        e[0, i] = h
        with torch.no_grad():
            fd.append(
                float(_objective(start, space, theta + e) - _objective(start, space, theta - e))
                / (2 * h)
            )
    fd = torch.tensor(fd, dtype=torch.float64)
    assert grad.abs().max() > 0
    # Stated tolerance: 1e-4 of the gradient's norm on every coordinate.
    assert torch.allclose(grad, fd, rtol=1e-4, atol=1e-4 * float(fd.norm()))


def test_relaxed_gradient_points_like_exact_differences():
    """The relaxed gradient agrees in sign with central differences of the *exact*
    simulation (Bernoulli incidents, hard caps) on the same random numbers, for levers
    whose exact effect is clearly away from 0."""
    scenario = Scenario()
    base = decision_from_allocation(scenario.allocation)
    start = O.start_from_scenario(scenario, paths=400, seed=4, steps=12, dtype="float64")
    space = O.LeverSpace.build(base, ("budget", "c_share", "c_price", "b_seat_price"), start.steps)
    theta = torch.tensor([space.encode(base)], dtype=torch.float64, requires_grad=True)
    _objective(start, space, theta).backward()
    grad = theta.grad[0]
    h = 0.05
    checked = 0
    for i in range(space.size):
        e = torch.zeros_like(theta)
        e[0, i] = h
        with torch.no_grad():
            th = torch.cat([theta + e, theta - e])
            v = O.simulate(start, space, th, relaxed=False).value.mean(-1)
        fd = float(v[0] - v[1]) / (2 * h)
        if abs(fd) > 0.05 * float(grad.abs().max()):
            checked += 1
            assert math.copysign(1, fd) == math.copysign(1, float(grad[i])), (i, fd, float(grad[i]))
            assert abs(fd - float(grad[i])) <= 0.25 * abs(fd), (i, fd, float(grad[i]))
    assert checked >= 2


def test_gradient_optimum_within_one_step_of_a_51_point_grid():
    """Only privacy_share varies: the gradient optimum lies within one grid step of the
    best of 51 evenly spaced values evaluated (exactly) on the same paths."""
    scenario = Scenario()
    base = decision_from_allocation(scenario.allocation)
    start = O.start_from_scenario(scenario, paths=200, seed=5, steps=12)
    space = O.LeverSpace.build(base, ("privacy_share",), start.steps)
    found = O.Optimizer(start, space).run("gradient", 36, lr=0.2)
    best = space.decisions(found.theta)[0].privacy_share
    grid = torch.linspace(0.0, 1.0, 51, dtype=torch.float64)
    thetas = [[O._logit(float(g))] for g in grid]
    values = [obj for obj, _ in O.Optimizer(start, space).evaluate(thetas)]
    g_best = float(grid[max(range(51), key=values.__getitem__)])
    assert abs(best - g_best) <= 1 / 50 + 1e-9, (best, g_best)


def _rec(scenario, settings, steps=24, eval_paths=800):
    base = decision_from_allocation(scenario.allocation)
    start = O.start_from_scenario(scenario, paths=settings.paths, seed=settings.seed, steps=steps)
    eval_start = O.start_from_scenario(
        scenario, paths=eval_paths, seed=settings.seed + 1, steps=steps
    )
    return base, R.optimize(base, start, eval_start, settings)


@pytest.mark.slow
def test_recommendation_beats_current_on_fresh_paths_within_bounds():
    settings = R.OptimizeSettings(paths=300, seed=0, budget_evals=30, lr=0.15)
    base, rec = _rec(Scenario(), settings, steps=12)
    obj = rec.stat("objective")
    half_ci = (obj.ci_high - obj.ci_low) / 2
    assert obj.diff > half_ci and obj.ci_low > 0, obj
    space = O.LeverSpace.build(base, O.LEVERS, 12)
    for d in rec.recommended:
        d.validate()
        for split in ("c_split", "b_split"):
            assert math.fsum(getattr(d, split).values()) == pytest.approx(1.0, abs=1e-9)
            assert all(0 <= getattr(d, split)[k] <= 1 for k in SPLIT_KEYS)
        for name, (lo, hi) in space.bounds.items():
            assert lo - 1e-9 <= getattr(d, name) <= hi + 1e-9, name


def test_quarterly_schedule_has_one_allocation_per_quarter():
    scenario = Scenario()
    base = decision_from_allocation(scenario.allocation)
    space = O.LeverSpace.build(base, ("c_share",), steps=12, schedule="quarterly")
    assert space.blocks == 4 and [space.block_of(t) for t in (0, 2, 3, 11)] == [0, 0, 1, 3]
    theta = torch.tensor([[-2.0, -1.0, 1.0, 2.0]], dtype=torch.float64)
    shares = [d.c_share for d in space.decisions(theta[0].tolist())]
    assert shares == sorted(shares) and len(set(shares)) == 4


def _tight_cash():
    # Little cash: the current allocation runs out of cash on many paths.
    return _scenario(**{"finance.initial_cash": 3_000_000.0})


@pytest.mark.parametrize("text", ["p_cash_negative_ever<=0.05", "satisfaction_c>=7"])
def test_constraint_is_honoured_on_the_evaluation_paths(text):
    """The current allocation violates each constraint; the recommendation meets it on
    fresh paths (satisfaction_c>=7 binds: the unconstrained optimum leaves To C)."""
    scenario = _tight_cash()
    c = O.parse_constraint(text)
    settings = R.OptimizeSettings(paths=300, seed=1, budget_evals=30, constraints=(c,))
    _, rec = _rec(scenario, settings, steps=12)
    status = rec.constraints[0]
    assert status.constraint.violation(status.current) > 0, (
        "the scenario must make the constraint bind"
    )
    assert status.met and status.constraint.violation(status.recommended) == 0
    assert rec.stat(c.metric).recommended == status.recommended


def test_infeasible_constraint_is_reported_not_violated_silently():
    # Fixed costs no allocation can cover: cash goes negative on every path.
    scenario = _scenario(**{"finance.initial_cash": 100_000.0, "finance.fixed_costs": 5_000_000.0})
    c = O.parse_constraint("p_cash_negative_ever<=0.05")
    settings = R.OptimizeSettings(paths=100, seed=0, budget_evals=12, constraints=(c,))
    _, rec = _rec(scenario, settings, steps=6, eval_paths=100)
    assert not rec.feasible and not rec.constraints[0].met
    assert rec.to_dict()["feasible"] is False


@pytest.mark.parametrize("method", ["cmaes", "random"])
def test_gradient_free_baselines_evaluate_candidates_as_points(method, monkeypatch):
    scenario = Scenario()
    base = decision_from_allocation(scenario.allocation)
    start = O.start_from_scenario(scenario, paths=50, seed=0, steps=6)
    space = O.LeverSpace.build(base, ("c_share", "c_split"), start.steps)
    calls = []
    real = O.simulate
    monkeypatch.setattr(O, "simulate", lambda *a, **k: calls.append(a[2].shape[0]) or real(*a, **k))
    opt = O.Optimizer(start, space)
    found = opt.run(method, 30, seed=3)
    assert found.evals >= 28 and found.path_periods == found.evals * 50 * 6
    assert max(calls) > 1  # many candidates in one simulation
    current = opt.evaluate([space.encode(base)])[0][0]
    assert found.objective >= current
    assert len(calls) < found.evals


def test_frontier_trades_mean_for_tail():
    scenario = Scenario()
    base = decision_from_allocation(scenario.allocation)
    start = O.start_from_scenario(scenario, paths=200, seed=0, steps=12)
    eval_start = O.start_from_scenario(scenario, paths=400, seed=1, steps=12)
    settings = R.OptimizeSettings(
        levers=("c_share", "privacy_share", "budget"),
        risk=O.Risk(0.1, 0.0),
        budget_evals=15,
        paths=200,
    )
    points, current = R.frontier(base, start, eval_start, settings, 3)
    assert [p.lam for p in points] == [0.0, 0.5, 1.0]
    assert all(math.isfinite(p.mean) and math.isfinite(p.cvar) and p.cvar <= p.mean for p in points)
    assert points[0].mean >= points[-1].mean - 0.02 * abs(points[0].mean)
    assert points[-1].cvar >= points[0].cvar - 0.02 * abs(points[0].cvar)


def test_optimize_policy_reoptimizes_from_the_current_state():
    def run():
        sim = Simulation(Scenario(), seed=3, n_paths=200, device="cpu", policy="optimize")
        sim.policy.iterations = 4
        sim.policy.lookahead = 6
        for _ in range(4):
            sim.step()
        return sim

    a, b = run(), run()
    assert [d.to_dict() for d in a.decisions] == [d.to_dict() for d in b.decisions]  # deterministic
    assert a.decisions[0] != a.allocation
    assert a.decisions[0] == a.decisions[1] == a.decisions[2]  # held between re-optimizations
    assert a.decisions[3] != a.decisions[2]  # re-optimized at period 3
    for d in a.decisions:
        d.validate()


def test_parse_errors_name_the_value():
    with pytest.raises(StratsimError, match="cvar:ALPHA:LAMBDA"):
        O.parse_risk("cvar:2:0.5")
    with pytest.raises(StratsimError, match="metric 'nope'"):
        O.parse_constraint("nope<=1")
    with pytest.raises(StratsimError, match="METRIC<=LIMIT"):
        O.parse_constraint("p_cash_negative=0.05")
    with pytest.raises(StratsimError, match="probability"):
        O.parse_constraint("p_cash_negative_ever<=5")
    with pytest.raises(StratsimError, match="unknown \\['x'\\]"):
        O.parse_levers("c_share,x")
    with pytest.raises(StratsimError, match="0 <= LO < HI"):
        O.parse_bound("c_share=0.5:2")


def test_cli_optimize_json_and_out_scenario(tmp_path, capsys):
    out = tmp_path / "opt.toml"
    rc = main(["optimize", "--horizon", "6", "--paths", "60", "--eval-paths", "80", "--budget-evals", "8",
               "--levers", "c_share,c_price", "--risk", "cvar:0.1:0.3", "--json", "--out", str(out)])  # fmt: skip
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["settings"]["levers"] == "c_share,c_price" and data["settings"]["eval_seed"] == 1
    names = {row["name"] for row in data["evaluation"]}
    assert {"npv_mean", "npv_p10", "npv_cvar", "p_cash_negative_ever", "mrr"} <= names
    written = load_scenario(out)
    rec = data["recommended"][0]
    assert written.allocation.c_share == pytest.approx(rec["c_share"])
    assert written.allocation.budget == Scenario().allocation.budget  # not optimized: unchanged


def test_cli_table_and_infeasible_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    data = Scenario().to_dict()
    data["finance"]["fixed_costs"] = 5_000_000.0
    data["finance"]["initial_cash"] = 100_000.0
    import tomli_w

    bad.write_text(tomli_w.dumps(data))
    rc = main(
        [
            "optimize",
            "--scenario",
            str(bad),
            "--horizon",
            "4",
            "--paths",
            "40",
            "--budget-evals",
            "6",
            "--constraint",
            "p_cash_negative_ever<=0.05",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 1
    assert "NOT MET" in out and "95% CI" in out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--risk", "cvar:0.1"], "risk 'cvar:0.1'"),
        (["--constraint", "cash<<3"], "constraint 'cash<<3'"),
        (["--levers", "budget,nope"], "levers 'budget,nope'"),
        (["--bound", "budget=5:1"], "bound 'budget=5:1'"),
        (["--frontier", "1"], "--frontier 1"),
    ],
)
def test_cli_bad_input_one_line_exit_2(argv, needle, capsys):
    rc = main(["optimize", "--horizon", "2", "--paths", "10", *argv])
    err = capsys.readouterr().err
    assert rc == 2
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_session_records_optimization_runs(tmp_path, capsys):
    from stratsim.engine.session import load_session, save_session

    sim = Simulation(Scenario(), seed=1, n_paths=50, device="cpu")
    sim.step()
    path = tmp_path / "s.toml"
    save_session(sim, path)
    out = tmp_path / "s2.toml"
    rc = main(
        [
            "optimize",
            "--session",
            str(path),
            "--horizon",
            "3",
            "--budget-evals",
            "6",
            "--levers",
            "c_share",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    loaded = load_session(out)
    assert len(loaded.simulation.optimizations) == 1
    rec = loaded.simulation.optimizations[0]
    assert (
        rec["period"] == 1
        and rec["settings"]["seed"] == 1
        and rec["settings"]["levers"] == "c_share"
    )
    assert loaded.simulation.decision.c_share == pytest.approx(rec["recommended"]["c_share"])
    assert loaded.simulation.policy_name == "manual"
    # A session without the section loads unchanged (no optimizations).
    assert load_session(path).simulation.optimizations == []


def test_run_with_the_optimize_policy(tmp_path):
    out = tmp_path / "s.toml"
    assert (
        main(
            [
                "run",
                "--steps",
                "2",
                "--paths",
                "60",
                "--device",
                "cpu",
                "--policy",
                "optimize",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    from stratsim.engine.session import load_session

    sim = load_session(out).simulation
    assert sim.policy_name == "optimize" and sim.period == 2
    assert sim.decisions[0] != sim.allocation


def test_cli_frontier_table_chart_and_json(capsys):
    argv = [
        "optimize",
        "--horizon",
        "4",
        "--paths",
        "40",
        "--budget-evals",
        "6",
        "--levers",
        "budget,c_share",
        "--frontier",
        "3",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (
        "Efficient frontier" in out and "CVaR10" in out and "mean NPV" in out and "\x1b[" not in out
    )
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["lambda"] for p in data["points"]] == [0.0, 0.5, 1.0]
    assert all(set(p["allocation"][0]) >= {"budget", "c_share", "c_split"} for p in data["points"])
