"""``--compile``: torch.compile of the step (market.use_compile). One compilation serves
every period (the month enters as a tensor, the trailing window holds distinct tensors),
results match the eager step to float tolerance, and where compiling is unavailable or
fails the step runs uncompiled after a one-line warning."""

from __future__ import annotations

import math

import pytest
import torch
import torch._dynamo
from torch._dynamo.utils import counters

from stratsim.cli import main
from stratsim.engine import market
from stratsim.engine.simulation import Simulation


@pytest.fixture(autouse=True)
def _eager_afterwards():
    torch._dynamo.reset()
    counters.clear()
    yield
    market.use_compile(False)
    torch._dynamo.reset()


def _close(a: dict, b: dict, rtol: float) -> list[str]:
    bad = []
    for k, stats in a.items():
        for s, x in stats.items():
            y = b[k][s]
            if not (
                (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=rtol, abs_tol=1e-6)
            ):
                bad.append(f"{k}.{s}: {x} != {y}")
    return bad


def test_one_compilation_serves_every_period():
    """14 periods (across the 12-month window) trace the step once: no guard on the
    month, on aliasing trail tensors, on the decision's spend cache or on strides."""
    eager = Simulation(seed=2, n_paths=64, device="cpu")
    eager.run(14)
    assert market.use_compile(True, backend="eager") is None
    sim = Simulation(seed=2, n_paths=64, device="cpu")
    sim.run(14)
    assert counters["stats"]["unique_graphs"] == 1, dict(counters["stats"])
    assert sim.history == eager.history  # the eager backend runs the same ops


@pytest.mark.slow
def test_compiled_run_matches_the_eager_run():
    """Inductor (generated code, fused kernels) on a tiny run: one compilation, and every
    KPI of every period within float32 tolerance of the eager step."""
    eager = Simulation(seed=5, n_paths=32, device="cpu")
    eager.run(13)
    assert market.use_compile(True) is None
    sim = Simulation(seed=5, n_paths=32, device="cpu")
    sim.run(13)
    assert counters["stats"]["unique_graphs"] == 1, dict(counters["stats"])
    for t, (a, b) in enumerate(zip(eager.history, sim.history, strict=True)):
        assert not _close(a, b, 1e-4), (t, _close(a, b, 1e-4)[:5])


def test_cli_compile_unavailable_warns_in_one_line_and_runs(monkeypatch, capsys):
    monkeypatch.setattr(
        market.compiled, "compile_unavailable", lambda device: "torch.compile needs a C++ compiler"
    )
    assert main(["run", "--steps", "2", "--paths", "20", "--device", "cpu", "--compile"]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "--compile" in line]
    assert err == [
        "stratsim: warning: --compile: torch.compile needs a C++ compiler; the step runs uncompiled"
    ]
    assert market._COMPILED.fn is None


def test_a_failing_compilation_falls_back_to_the_eager_step(monkeypatch):
    def broken(fn, **kw):
        def call(*a, **k):
            raise torch._dynamo.exc.TorchDynamoException("no backend here\nmore detail")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    said = []
    assert market.use_compile(True, on_fallback=said.append) is None
    sim = Simulation(seed=1, n_paths=10, device="cpu")
    sim.run(2)
    ref = Simulation(seed=1, n_paths=10, device="cpu")
    market.use_compile(False)
    ref.run(2)
    assert said == [
        "torch.compile failed (TorchDynamoException: no backend here); the step runs uncompiled"
    ]
    assert sim.history == ref.history and market._COMPILED.fn is None
