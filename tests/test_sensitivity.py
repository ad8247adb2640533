"""stratsim sensitivity: Sobol' on Ishigami (known indices) and Morris on a linear function
through the same functions the simulation uses; sane indices and tornado on the scenario."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stratsim.cli import main
from stratsim.engine.analysis import sensitivity as sa
from stratsim.engine.analysis import sweep as sw
from stratsim.engine.errors import StratsimError
from stratsim.engine.scenario import Scenario, scenario_from_dict
from stratsim.engine.simulation import Simulation


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_recovers_ishigami_indices():
    # Analytic indices for a = 7, b = 0.1 (Ishigami & Homma 1990; Sobol' & Levitan 1999).
    s1 = [0.3139, 0.4424, 0.0]
    st = [0.5576, 0.4424, 0.2437]
    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-math.pi, math.pi]] * 3}
    ind = sa.sobol(problem, ishigami, 1024, seed=1)
    got = {r.key: r.values for r in ind.rows}
    for i, name in enumerate(["x1", "x2", "x3"]):
        assert got[name]["S1"] == pytest.approx(s1[i], abs=0.05), name
        assert got[name]["ST"] == pytest.approx(st[i], abs=0.05), name
    assert [r.key for r in ind.rows] == ["x1", "x2", "x3"]  # ranked by ST
    assert ind.n_points == 1024 * 5


def test_morris_ranks_a_linear_function_exactly():
    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 1], [0, 2], [0, 1]]}
    ind = sa.morris(problem, lambda x: 1.0 * x[:, 0] + 5.0 * x[:, 1] + 0.0 * x[:, 2], 8, seed=0)
    got = {r.key: r.values for r in ind.rows}
    # elementary effect of a linear term: its coefficient times the range
    assert got["a"]["mu_star"] == pytest.approx(1.0)
    assert got["b"]["mu_star"] == pytest.approx(10.0)
    assert got["c"]["mu_star"] == pytest.approx(0.0, abs=1e-12)
    assert [r.key for r in ind.rows] == ["b", "a", "c"]


def _evaluator(scenario=None, steps=8, paths=32):
    scenario = scenario or Scenario()
    spec = sw.RunSpec(steps=steps, paths=paths, seed=0, device="cpu")
    return scenario, spec


def test_sobol_indices_on_the_scenario_are_sane():
    scenario, spec = _evaluator()
    ranges = sa.parameter_ranges(
        scenario, ["to_b.win_rate", "to_c.bass_q", "privacy.cost_per_record"]
    )
    ev = sa.Evaluator(scenario, [r.key for r in ranges], spec)
    ind = sa.sobol(sa.salib_problem(ranges), ev, 32, seed=0, kpi="npv", stat="mean")
    assert ev.points_run == 32 * 5
    for r in ind.rows:
        v = r.values
        assert all(math.isfinite(x) for x in v.values())
        assert v["ST"] >= -v["ST_conf"]
        assert v["S1"] <= v["ST"] + v["S1_conf"] + v["ST_conf"]
    assert sum(r.values["S1"] for r in ind.rows) <= 1.0 + sum(r.values["S1_conf"] for r in ind.rows)
    # the KPI depends on these assumptions, mostly additively over +-20% (total indices sum
    # to about 1, not to D as they would for outputs unrelated to the inputs), and the least
    # important of the three matters far less than the top one
    total = sum(r.values["ST"] for r in ind.rows)
    assert 0.5 < total < 1.5
    assert ind.rows[-1].values["ST"] < 0.2 * ind.rows[0].values["ST"]


def test_tornado_points_equal_single_runs_and_are_ranked():
    fixed = Scenario().to_dict()
    fixed["to_b"]["win_rate"] = 0.22  # certain here, so its range is +-50%
    scenario, spec = _evaluator(scenario_from_dict(fixed), steps=6, paths=32)
    ranges = sa.parameter_ranges(scenario, ["to_b.win_rate", "to_c.bass_q"], 0.5)
    ev = sa.Evaluator(scenario, [r.key for r in ranges], spec)
    t = sa.tornado(ev, ranges, shares=[0.0, 0.5, 1.0])
    assert [r.swing for r in t.rows] == sorted((r.swing for r in t.rows), reverse=True)
    assert t.best_share_base in (0.0, 0.5, 1.0)
    row = next(r for r in t.rows if r.key == "to_b.win_rate")
    assert (row.low, row.high) == pytest.approx((0.11, 0.33))
    data = scenario.to_dict()
    data["to_b"]["win_rate"] = 0.33
    data["to_c"]["bass_q"] = next(
        r.base for r in ranges if r.key == "to_c.bass_q"
    )  # held at its base
    sim = Simulation(scenario_from_dict(data), seed=0, n_paths=32, device="cpu")
    sim.run(6)
    assert row.kpi_high == pytest.approx(sim.last_summary()["npv"]["mean"], rel=1e-6)
    # minimizing picks the share with the lowest KPI instead
    ev_min = sa.Evaluator(scenario, [r.key for r in ranges], spec, "npv", "mean", maximize=False)
    worst = sa.tornado(ev_min, ranges, shares=[0.0, 0.5, 1.0])
    y = ev(
        np.array([[r.base for r in ranges] + [s] for s in (0.0, 0.5, 1.0)]),
        [*(r.key for r in ranges), "allocation.c_share"],
    )
    assert (t.best_share_base, worst.best_share_base) == (
        (0.0, 0.5, 1.0)[int(np.argmax(y))],
        (0.0, 0.5, 1.0)[int(np.argmin(y))],
    )
    # share_changes is True exactly when an end's best share differs from the base's
    for r in t.rows:
        assert t.share_changes(r) == (
            r.best_share_low != t.best_share_base or r.best_share_high != t.best_share_base
        )


def test_ranges_clip_to_bounds_and_use_percentiles_of_uncertain_parameters():
    data = Scenario().to_dict()
    data["to_b"]["win_rate"] = 0.9
    data["to_c"]["bass_q"] = {"dist": "uniform", "low": 0.02, "high": 0.04}
    scenario = scenario_from_dict(data)
    by_key = {
        r.key: r for r in sa.parameter_ranges(scenario, ["to_b.win_rate", "to_c.bass_q"], 0.2)
    }
    assert by_key["to_b.win_rate"].high == 1.0 and by_key["to_b.win_rate"].low == pytest.approx(
        0.72
    )
    q = by_key["to_c.bass_q"]
    assert (
        q.uncertain
        and q.low == pytest.approx(0.022, abs=5e-4)
        and q.high == pytest.approx(0.038, abs=5e-4)
    )
    uncertain = [f"{sec}.{k}" for sec, v in data.items() if isinstance(v, dict) and sec != "allocation"
                 for k, x in v.items() if isinstance(x, dict)]  # fmt: skip
    assert "to_c.bass_q" in uncertain and "to_b.win_rate" not in uncertain
    assert sorted(sa.default_keys(scenario)) == sorted(uncertain)  # the uncertain ones
    with pytest.raises(StratsimError, match="allocation.c_share"):
        sa.parameter_ranges(scenario, ["allocation.c_share"])


def test_cli_tornado_and_errors(capsys):
    rc = main(["sensitivity", "--params", "to_b.win_rate,to_c.bass_q", "--horizon", "4", "--paths", "16",
               "--shares", "3", "--device", "cpu"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    assert "Tornado" in out and "to_b.win_rate" in out and "c_share" in out and "│" in out
    assert (
        main(["sensitivity", "--method", "sobol", "--samples", "3", "--params", "to_b.win_rate"])
        == 2
    )
    assert "power of 2" in capsys.readouterr().err
    assert main(["sensitivity", "--params", "to_b.nope"]) == 2
    assert "to_b.nope" in capsys.readouterr().err


def test_cli_sobol_prints_ranked_indices(capsys, tmp_path):
    out_csv = tmp_path / "s.csv"
    rc = main(["sensitivity", "--method", "sobol", "--samples", "8", "--params", "to_b.win_rate,to_c.bass_q",
               "--horizon", "4", "--paths", "16", "--device", "cpu", "--csv", str(out_csv)])  # fmt: skip
    assert rc == 0
    assert "Sobol" in capsys.readouterr().out
    import pandas as pd

    frame = pd.read_csv(out_csv)
    assert list(frame["parameter"]) and {"S1", "ST"} <= set(frame.columns)
    assert frame["ST"].is_monotonic_decreasing
