"""The step runs in the run's dtype: no float64 tensor (a hidden float64->float32 cast)
enters any op of a float32 step, and every output is float32."""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from stratsim.engine import market
from stratsim.engine.simulation import Simulation


class _Float64Ops(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        for a in (*args, *(kwargs or {}).values()):
            if isinstance(a, torch.Tensor) and a.dtype == torch.float64:
                self.seen.append(str(func))
        return func(*args, **(kwargs or {}))


def test_float32_step_has_no_float64_operand():
    sim = Simulation(seed=2, n_paths=64, device="cpu")
    dt = sim.decision_tensors(sim.next_decision())
    with _Float64Ops() as mode:
        state, outputs = market.step(
            sim.params, sim.state, dt, sim._gen, sim.satisfaction_model, sim.privacy_model
        )
    assert mode.seen == []
    assert {v.dtype for v in outputs.values()} == {torch.float32}
    assert all(v.dtype == torch.float32 for v in state.tensors().values())
