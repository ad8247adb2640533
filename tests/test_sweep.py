"""stratsim sweep: points on common random numbers equal their single runs; chunks and
backends give identical numbers; bad grids are refused before anything runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import tomli_w

from stratsim.cli import main
from stratsim.engine.analysis import sweep as sw
from stratsim.engine.errors import DecisionError, StratsimError
from stratsim.engine.scenario import Scenario

STEPS, P, SEED = 4, 48, 3


def _scenario_file(path, changes: dict) -> str:
    """The default scenario with ``{"section.key": value}`` changed, written as TOML."""
    data = Scenario().to_dict()
    for key, value in changes.items():
        section, _, name = key.partition(".")
        data[section][name] = value
    path.write_bytes(tomli_w.dumps(data).encode())
    return str(path)


def test_grid_points_equal_single_runs(tmp_path):
    out = tmp_path / "sweep.csv"
    rc = main([
        "sweep", "--grid", "allocation.c_share=0.2:0.8:2", "--grid", "to_c.churn_paid=0.03,0.06",
        "--sample", "to_b.win_rate=uniform:0.1:0.3", "--horizon", str(STEPS), "--paths", str(P),
        "--seed", str(SEED), "--device", "cpu", "--max-memory", "1M", "--csv", str(out),
    ])  # fmt: skip
    assert rc == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == [
        "point",
        "allocation.c_share",
        "to_c.churn_paid",
        "kpi",
        "mean",
        "p10",
        "p50",
        "p90",
    ]
    assert frame["point"].nunique() == 4
    for point, rows in frame.groupby("point"):
        share, churn = rows["allocation.c_share"].iloc[0], rows["to_c.churn_paid"].iloc[0]
        data = Scenario().to_dict()
        data["allocation"]["c_share"] = float(share)
        data["to_c"]["churn_paid"] = float(churn)
        data["to_b"]["win_rate"] = {"dist": "uniform", "low": 0.1, "high": 0.3}
        scen = tmp_path / f"p{point}.toml"
        scen.write_bytes(tomli_w.dumps(data).encode())
        single = tmp_path / f"p{point}.csv"
        assert main(["run", "--scenario", str(scen), "--steps", str(STEPS), "--paths", str(P), "--seed", str(SEED),
                     "--device", "cpu", "--csv", str(single)]) == 0  # fmt: skip
        want = pd.read_csv(single).query(f"period == {STEPS}").set_index("kpi")
        got = rows.set_index("kpi")
        assert set(got.index) == set(want.index)
        for stat in ("mean", "p10", "p50", "p90"):
            np.testing.assert_allclose(
                got.loc[want.index, stat],
                want[stat],
                rtol=1e-6,
                atol=1e-6,
                err_msg=f"point {point} {stat}",
            )
    # the points differ (the grid moved something), so equality above is not vacuous
    npv = frame.query("kpi == 'npv'")["mean"]
    assert npv.nunique() == 4


def test_feedback_policy_point_equals_single_run(tmp_path):
    scen = Scenario()
    prepared = sw.prepare(scen, sw.grid_design([("allocation.c_share", [0.3, 0.7])]))
    spec = sw.RunSpec(steps=6, paths=32, seed=1, policy="feedback", device="cpu", every_period=True)
    res = sw.evaluate(prepared, spec)
    for i, share in enumerate([0.3, 0.7]):
        path = tmp_path / f"s{i}.toml"
        data = scen.to_dict()
        data["allocation"]["c_share"] = share
        path.write_bytes(tomli_w.dumps(data).encode())
        csv = tmp_path / f"s{i}.csv"
        assert main(["run", "--scenario", str(path), "--steps", "6", "--paths", "32", "--seed", "1", "--policy", "feedback",
                     "--device", "cpu", "--csv", str(csv)]) == 0  # fmt: skip
        want = pd.read_csv(csv)
        for period in (4, 6):  # the policy moves c_share from month 4 on
            w = want.query(f"period == {period} and kpi == 'mrr_c'")["mean"].iloc[0]
            assert res.results[i][period - 1]["mrr_c"]["mean"] == pytest.approx(w, rel=1e-6)


def test_chunking_keeps_common_random_numbers():
    scen = Scenario()
    prepared = sw.prepare(
        scen,
        sw.grid_design([("allocation.c_share", [0.1, 0.5, 0.9]), ("to_b.win_rate", [0.15, 0.3])]),
    )
    spec = sw.RunSpec(steps=3, paths=16, seed=2, device="cpu")
    one = sw.evaluate(prepared, spec)
    per_point = sw.evaluate(prepared, spec, max_memory=16 * sw.bytes_per_path("float32"))
    pairs = sw.evaluate(prepared, spec, chunk_paths=40)
    assert (one.n_chunks, per_point.n_chunks, pairs.n_chunks) == (1, 6, 3)
    # the same random numbers whatever the chunks (torch may round an element differently
    # at another offset of a tensor: float32 rounding, not noise)
    pd.testing.assert_frame_equal(one.frame(), per_point.frame(), check_exact=False, rtol=1e-6)
    pd.testing.assert_frame_equal(one.frame(), pairs.frame(), check_exact=False, rtol=1e-6)


def test_chunk_plan_is_balanced_and_bounded():
    assert sw.plan_chunks(100, 1000) == [(0, 50), (50, 100)]  # 65,536 paths at most
    assert sw.plan_chunks(7, 10, chunk_paths=30) == [(0, 3), (3, 6), (6, 7)]
    assert sw.plan_chunks(3, 100_000) == [(0, 1), (1, 2), (2, 3)]  # at least one point
    assert sw.plan_chunks(10, 1000, max_memory=3 * 1000 * sw.bytes_per_path("float32")) == [
        (0, 3),
        (3, 6),
        (6, 9),
        (9, 10),
    ]


def test_ray_backend_equals_local():
    ray = pytest.importorskip(
        "ray", reason="Ray is not installed (pip install 'stratsim[scale]'); CI installs it"
    )
    scen = Scenario()
    prepared = sw.prepare(
        scen,
        sw.grid_design([("allocation.c_share", [0.2, 0.5, 0.8]), ("to_b.win_rate", [0.15, 0.3])]),
    )
    spec = sw.RunSpec(steps=3, paths=16, seed=5, device="cpu", every_period=True)
    local = sw.evaluate(prepared, spec, chunk_paths=32)  # 3 chunks of 2 points
    events = []
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = sw.evaluate(
            prepared,
            spec,
            backend="ray",
            chunk_paths=32,
            on_progress=lambda p: events.append((p.done, p.chunks_done)),
        )
        import torch

        if not torch.cuda.is_available():  # an error inside a task comes back as the one-line error
            with pytest.raises(StratsimError, match="cuda") as info:
                sw.evaluate(prepared, sw.RunSpec(steps=1, paths=4, device="cuda"), backend="ray")
            assert "\n" not in str(info.value)
    finally:
        ray.shutdown()
    assert remote.backend == "ray" and remote.n_chunks == local.n_chunks == 3
    pd.testing.assert_frame_equal(local.frame(), remote.frame(), check_exact=True)  # bit for bit
    # progress streamed back month by month, before the chunks were done
    assert any(chunks == 0 and done > 0 for done, chunks in events)
    assert events[-1][0] == 6 * 3


def test_ray_missing_says_how_to_install(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    rc = main(
        [
            "sweep",
            "--grid",
            "allocation.c_share=0:1:2",
            "--horizon",
            "1",
            "--paths",
            "4",
            "--backend",
            "ray",
        ]
    )
    assert rc == 2
    assert 'pip install "stratsim[scale]"' in capsys.readouterr().err


@pytest.mark.parametrize(
    ("grid", "named", "why"),
    [
        ("to_b.no_such=0:1:3", "to_b.no_such", "unknown"),
        ("allocation.c_share=0.8:0.2:3", "allocation.c_share", "empty range"),
        ("allocation.c_share=0.5:0.5:3", "allocation.c_share", "empty range"),
        ("allocation.c_share=0:1:0", "allocation.c_share", "empty range"),
        ("allocation.c_share=0:1.5:4", "c_share", "1.5"),
        ("to_b.win_rate=0:2:3", "to_b.win_rate", "expected <= 1"),
        ("allocation.c_split.ux=0:1.2:2", "c_split", "c_split"),
        ("allocation.budget=-1:1:2", "budget", ">= 0"),
        ("to_c.bass_q=a:1:2", "to_c.bass_q", "number"),
    ],
)
def test_bad_grids_refused_before_anything_runs(monkeypatch, capsys, grid, named, why):
    from stratsim.engine.analysis import batch

    def boom(*a, **k):
        raise AssertionError("a simulation started")

    monkeypatch.setattr(batch, "make_batch", boom)
    rc = main(
        [
            "sweep",
            "--grid",
            grid,
            "--grid",
            "to_c.bass_p=0.001:0.004:2",
            "--horizon",
            "2",
            "--paths",
            "4",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2, err
    assert named in err and why in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_huge_grid_refused_before_it_is_built():
    axes = [
        (k, list(range(101))) for k in ("allocation.c_share", "allocation.budget", "to_b.win_rate")
    ]
    with pytest.raises(StratsimError, match=r"1,030,301 points"):
        sw.grid_design(axes)


def test_split_share_rescales_the_others():
    base = sw.Decision()
    d = sw.point_decision(base, {"c_split.ux": 0.6}).validate()
    assert d.c_split["ux"] == 0.6
    assert math.fsum(d.c_split.values()) == pytest.approx(1.0)
    others = {k: v for k, v in d.c_split.items() if k != "ux"}
    old = {k: v for k, v in base.c_split.items() if k != "ux"}
    for k in others:  # ratios kept
        assert others[k] / others["product"] == pytest.approx(old[k] / old["product"])
    with pytest.raises(DecisionError, match="c_split"):
        sw.point_decision(base, {"c_split.ux": 0.7, "c_split.product": 0.6}).validate()


def test_lhs_is_a_latin_hypercube():
    d = sw.lhs_design([("allocation.c_share", 0.0, 1.0), ("to_b.win_rate", 0.1, 0.3)], 20, seed=4)
    assert d.values.shape == (20, 2)
    for j, (lo, hi) in enumerate([(0.0, 1.0), (0.1, 0.3)]):
        strata = np.floor((d.values[:, j] - lo) / (hi - lo) * 20).astype(int)
        assert sorted(strata.tolist()) == list(range(20))  # one point per stratum


def test_every_period_parquet_and_best(tmp_path, capsys):
    out = tmp_path / "s.parquet"
    rc = main(["sweep", "--grid", "allocation.c_share=0:1:3", "--horizon", "3", "--paths", "8", "--every-period",
               "--objective", "p_cash_negative.mean", "--minimize", "--parquet", str(out), "--device", "cpu"])  # fmt: skip
    assert rc == 0
    frame = pd.read_parquet(out)
    assert list(frame.columns[:3]) == ["point", "allocation.c_share", "period"]
    assert sorted(frame["period"].unique()) == [1, 2, 3]
    assert "best point" in capsys.readouterr().out
    with pytest.raises(StratsimError, match="kpi"):
        sw.check_objective("nope", "mean")


def test_unreachable_ray_address_is_one_line(capsys):
    pytest.importorskip(
        "ray", reason="Ray is not installed (pip install 'stratsim[scale]'); CI installs it"
    )
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = main(["sweep", "--grid", "allocation.c_share=0:1:2", "--horizon", "1", "--paths", "4", "--backend", "ray",
               "--ray-address", f"127.0.0.1:{port}"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and f"127.0.0.1:{port}" in err and "no Ray head" in err and err.count("\n") == 1


def test_analysis_engine_imports_no_ui():
    """The engine's sweep and sensitivity run without importing textual, rich or the CLI/TUI."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from stratsim.engine.analysis import sweep as sw, sensitivity as sa\n"
        "from stratsim.engine.scenario import Scenario\n"
        "s = Scenario(); spec = sw.RunSpec(steps=1, paths=4, device='cpu')\n"
        "r = sa.parameter_ranges(s, ['to_b.win_rate', 'to_c.bass_q'])\n"
        "sa.tornado(sa.Evaluator(s, [x.key for x in r], spec), r, [0.0, 1.0])\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich') or m.startswith(('stratsim.tui', 'stratsim.cli'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
