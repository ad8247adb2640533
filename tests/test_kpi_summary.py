"""kpi.summarize (reused buffers, no sort of the 0/1 indicators, optional quantile subsample)
gives the numbers of its definition: NumPy's mean over paths in float64 and NumPy's
default (linear) quantiles; probabilities without quantiles; optional ratios over their
defined paths; NaN quantiles for any other KPI with a NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stratsim.engine import market
from stratsim.engine.chunked import ChunkedRun
from stratsim.engine.kpi import KPIS, OPTIONAL_KPIS, PROBABILITY_KPIS, SummaryAccumulator, summarize
from stratsim.engine.simulation import Simulation

Q = (0.1, 0.5, 0.9)


def reference(
    outputs: dict[str, torch.Tensor], sample_stride: int = 1
) -> dict[str, dict[str, float]]:
    """The definition, one KPI at a time, with plain NumPy."""
    out = {}
    for k in KPIS:
        if k not in outputs:
            continue
        v = outputs[k].detach().double().numpy()
        s = v[::sample_stride]
        if k in OPTIONAL_KPIS and np.isnan(v).any():
            ok, oks = v[~np.isnan(v)], s[~np.isnan(s)]
            mean = ok.mean() if ok.size else math.nan
            q = np.quantile(oks, Q) if oks.size else [math.nan] * 3
        else:
            mean = v.mean()
            q = [math.nan] * 3 if k in PROBABILITY_KPIS or np.isnan(v).any() else np.quantile(s, Q)
        out[k] = {"mean": float(mean), "p10": float(q[0]), "p50": float(q[1]), "p90": float(q[2])}
    return out


def assert_same(got, want):
    assert list(got) == list(want)  # same KPIs in the display order
    for k in want:
        for stat, w in want[k].items():
            g = got[k][stat]
            if math.isnan(w):
                assert g is math.nan, (k, stat, g)
            else:
                assert math.isclose(g, w, rel_tol=1e-12, abs_tol=1e-300), (k, stat, g, w)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_summary_of_a_simulated_period_matches_numpy(dtype):
    sim = Simulation(seed=3, n_paths=2001, dtype=dtype, device="cpu")
    for _ in range(3):
        dt = sim.decision_tensors(sim.next_decision())
        sim.state, outputs = market.step(
            sim.params, sim.state, dt, sim._gen, sim.satisfaction_model, sim.privacy_model
        )
        assert_same(summarize(outputs), reference(outputs))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nan_inf_optional_probability_and_mixed_dtypes():
    n = 1001
    g = torch.Generator().manual_seed(1)
    x = {k: torch.randn(n, generator=g) * 100 for k in KPIS}
    x["cac_c_blended"][::3] = math.nan  # optional: over the defined paths
    x["cac_b"][:] = math.nan  # optional, nowhere defined: n/a
    x["users_c"][7] = math.nan  # any other KPI: NaN quantiles, NaN mean
    x["arr"][0], x["arr"][1] = math.inf, -math.inf  # NaN mean, quantiles still defined
    x["incidents"] = (x["incidents"] > 0).float()  # probability: mean only
    got = summarize(x)
    assert_same(got, reference(x))
    assert got["incidents"]["p50"] is math.nan and 0 < got["incidents"]["mean"] < 1
    assert got["users_c"]["p10"] is math.nan and got["cac_b"]["mean"] is math.nan
    mixed = dict(x, mrr=x["mrr"].double())  # mixed dtypes: float64 throughout
    assert_same(summarize(mixed), reference(mixed))


def test_reused_buffer_holds_no_stale_values():
    g = torch.Generator().manual_seed(2)
    a = {k: torch.rand(500, generator=g) for k in ("users_c", "mrr", "incidents")}
    b = {k: torch.rand(300, generator=g) + 5 for k in ("users_c", "mrr")}
    for outputs in (a, b, a, {k: v[:500] for k, v in a.items()}):
        assert_same(summarize(outputs), reference(outputs))
    assert a["users_c"].min() >= 0 and a["users_c"].max() < 1  # the inputs are not sorted in place
    assert not torch.equal(a["users_c"], a["users_c"].sort().values)


def test_quantile_subsample_exact_mean():
    n, m = 10_007, 1000
    g = torch.Generator().manual_seed(4)
    x = {k: torch.randn(n, generator=g) for k in ("users_c", "cac_c_paid", "incidents")}
    x["cac_c_paid"][::5] = math.nan
    got = summarize(x, quantile_sample=m)
    stride = -(-n // m)
    assert_same(got, reference(x, sample_stride=stride))
    assert got["users_c"]["p50"] != summarize(x)["users_c"]["p50"]
    assert got["users_c"]["mean"] == summarize(x)["users_c"]["mean"]
    # A NaN outside the subsample still makes the KPI's quantiles n/a; mixed dtypes.
    y = dict(x, mrr=torch.randn(n, generator=g).double(), arr=torch.randn(n, generator=g))
    y["arr"][1] = math.nan
    assert_same(summarize(y, quantile_sample=m), reference(y, sample_stride=stride))
    assert summarize(y, quantile_sample=m)["arr"]["p50"] is math.nan


@pytest.mark.parametrize(("n", "chunk", "m"), [(1000, 300, 5000), (10_007, 999, 1000)])
def test_accumulated_chunks_equal_one_summary(n, chunk, m):
    g = torch.Generator().manual_seed(5)
    x = {k: torch.randn(n, generator=g) * 10 + 3 for k in ("users_c", "cac_b", "mrr", "incidents")}
    x["cac_b"][::7] = math.nan
    x["incidents"] = (x["incidents"] > 3).float()
    acc = SummaryAccumulator(n, quantile_sample=m)
    for start in range(0, n, chunk):
        acc.add({k: v[start : start + chunk] for k, v in x.items()})
    got, want = acc.result(), summarize(x, quantile_sample=m)
    for k in want:
        for stat in ("p10", "p50", "p90"):  # the same (sub)sample: identical
            assert got[k][stat] == want[k][stat] or (
                got[k][stat] is math.nan and want[k][stat] is math.nan
            )
        assert math.isclose(got[k]["mean"], want[k]["mean"], rel_tol=1e-12)


def test_chunked_run_of_one_chunk_is_the_simulation_and_chunks_merge():
    sim = Simulation(seed=7, n_paths=3000, device="cpu")
    sim.run(3)
    one = ChunkedRun(seed=7, n_paths=3000, chunk_paths=5000, device="cpu")
    one.run(3)
    for s_got, s_want in zip(one.history, sim.history, strict=True):
        for k in s_want:
            for stat, w in s_want[k].items():
                g = s_got[k][stat]
                assert (g is math.nan and w is math.nan) or math.isclose(g, w, rel_tol=1e-9), (
                    k,
                    stat,
                )
    three = ChunkedRun(seed=7, n_paths=3000, chunk_paths=1000, device="cpu")
    assert three.run(3) == 3 and three.n_chunks == 3 and len(three.history) == 3
    # other chunks draw other shocks: close to the one-chunk run, not equal
    a, b = three.history[-1]["users_c"], one.history[-1]["users_c"]
    assert a["mean"] != b["mean"] and math.isclose(a["mean"], b["mean"], rel_tol=0.05)
    assert list(three.kpi_frame().columns) == ["period", "kpi", "mean", "p10", "p50", "p90"]
