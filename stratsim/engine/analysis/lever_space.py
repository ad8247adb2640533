"""The lever box an optimizer searches: unconstrained coordinates <-> allocations
(:class:`LeverSpace`), and where a search starts (:class:`Start`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..decisions import SPLIT_KEYS, Decision, DecisionTensors
from ..errors import StratsimError

if TYPE_CHECKING:
    import torch

from .optimize_problem import (
    _THETA_CLAMP,
    MONEY_BOX,
    SCHEDULES,
    SHARE_LEVERS,
    SPLIT_LEVERS,
)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


@dataclass
class LeverSpace:
    """Unconstrained coordinates of the optimized levers (module doc).

    ``theta`` is ``[K, size]`` for K candidates: ``blocks`` blocks (schedule periods) of
    ``dim`` coordinates each. :meth:`decode` gives one :class:`DecisionTensors` per block
    with ``[K]`` fields (levers not optimized keep ``base``'s values).
    """

    base: Decision
    levers: tuple[str, ...]
    bounds: dict[str, tuple[float, float]]
    blocks: int = 1
    block_months: int = 0

    @classmethod
    def build(
        cls,
        base: Decision,
        levers: Sequence[str],
        steps: int,
        schedule: str = "stationary",
        bounds: dict[str, tuple[float, float]] | None = None,
    ) -> LeverSpace:
        """The space around ``base`` (the current allocation).

        Raises:
            StratsimError: unknown schedule; a bound that excludes the current value is
                widened to include it (the current allocation must stay a candidate).
        """
        if schedule not in SCHEDULES:
            raise StratsimError(f"schedule {schedule!r}: expected one of {', '.join(SCHEDULES)}")
        months = SCHEDULES[schedule]
        blocks = max(1, math.ceil(steps / months)) if months else 1
        box: dict[str, tuple[float, float]] = {}
        for name in SHARE_LEVERS:
            box[name] = (0.0, 1.0)
        for name, (flo, fhi) in MONEY_BOX.items():
            cur = float(getattr(base, name))
            scale = cur if cur > 0 else 1.0
            box[name] = (flo * scale, fhi * scale)
        for name, (lo, hi) in (bounds or {}).items():
            cur = float(getattr(base, name))
            box[name] = (min(lo, cur), max(hi, cur))
        return cls(base, tuple(levers), box, blocks, months)

    @property
    def dim(self) -> int:
        return sum(3 if n in SPLIT_LEVERS else 1 for n in self.levers)

    @property
    def size(self) -> int:
        return self.dim * self.blocks

    def block_of(self, month: int) -> int:
        """The schedule block of month ``month`` (0-based from the start)."""
        return min(month // self.block_months, self.blocks - 1) if self.block_months else 0

    def encode(self, decision: Decision) -> list[float]:
        """Coordinates of ``decision`` (every block the same)."""
        out: list[float] = []
        for n in self.levers:
            if n in SPLIT_LEVERS:
                sp = getattr(decision, n)
                last = max(sp[SPLIT_KEYS[-1]], 1e-4)
                out += [
                    max(min(math.log(max(sp[k], 1e-4) / last), _THETA_CLAMP), -_THETA_CLAMP)
                    for k in SPLIT_KEYS[:3]
                ]
            else:
                lo, hi = self.bounds[n]
                out.append(_logit((float(getattr(decision, n)) - lo) / (hi - lo)))
        return out * self.blocks

    def decode(self, theta: torch.Tensor) -> list[DecisionTensors]:
        """``theta [K, size]`` -> one :class:`DecisionTensors` per block, fields ``[K]``."""
        import torch

        dt = theta.dtype
        base = DecisionTensors.from_decision(self.base, dt, theta.device)
        out = []
        for b in range(self.blocks):
            vals: dict[str, Any] = {}
            i = b * self.dim
            for n in self.levers:
                if n in SPLIT_LEVERS:
                    logits = torch.cat([theta[:, i : i + 3], torch.zeros_like(theta[:, :1])], dim=1)
                    w = torch.softmax(logits, dim=1)
                    vals[n] = {k: w[:, j] for j, k in enumerate(SPLIT_KEYS)}
                    i += 3
                else:
                    lo, hi = self.bounds[n]
                    vals[n] = lo + (hi - lo) * torch.sigmoid(theta[:, i])
                    i += 1
            out.append(
                DecisionTensors(
                    budget=vals.get("budget", base.budget),
                    privacy_share=vals.get("privacy_share", base.privacy_share),
                    c_share=vals.get("c_share", base.c_share),
                    c_split=vals.get("c_split", base.c_split),
                    b_split=vals.get("b_split", base.b_split),
                    c_price=vals.get("c_price", base.c_price),
                    b_seat_price=vals.get("b_seat_price", base.b_seat_price),
                )
            )
        return out

    def decisions(self, theta_row: Sequence[float]) -> list[Decision]:
        """One candidate's coordinates as validated :class:`Decision` s, one per block."""
        import torch

        blocks = self.decode(torch.as_tensor([list(theta_row)], dtype=torch.float64))
        out = []
        for d in blocks:

            def f(x: Any) -> float:
                return float(x.reshape(-1)[0])

            splits = {}
            for n in SPLIT_LEVERS:
                sp = {k: f(getattr(d, n)[k]) for k in SPLIT_KEYS}
                total = math.fsum(sp.values())
                splits[n] = {k: v / total for k, v in sp.items()}
            out.append(
                Decision(
                    budget=f(d.budget), privacy_share=min(1.0, f(d.privacy_share)), c_share=min(1.0, f(d.c_share)),
                    c_split=splits["c_split"], b_split=splits["b_split"], c_price=f(d.c_price), b_seat_price=f(d.b_seat_price),
                ).validate()
            )  # fmt: skip
        return out


# ------------------------------------------------------------- the start


@dataclass
class Start:
    """Where the optimized months begin: per-path parameters and state ``[P]``, the seed of
    the shock stream, the number of months ``steps`` and the response models."""

    params: Any
    state: Any
    shock_seed: int
    steps: int
    satisfaction_model: Any
    privacy_model: Any

    @property
    def n_paths(self) -> int:
        return self.params.n_paths


def start_from_scenario(
    scenario: Any,
    *,
    paths: int,
    seed: int,
    steps: int | None = None,
    satisfaction_model: Any = None,
    privacy_model: Any = None,
    dtype: str = "float32",
    device: str = "cpu",
) -> Start:
    """Period 0 of ``scenario`` with the random numbers of a run with ``seed`` and ``paths``
    paths (the paths of ``stratsim run --seed SEED --paths PATHS``)."""
    from ..simulation import derive_seed
    from .batch import make_batch

    b = make_batch(
        scenario,
        n_points=1,
        paths_per_point=paths,
        seed=seed,
        satisfaction_model=satisfaction_model,
        privacy_model=privacy_model,
        dtype=dtype,
        device=device,
    )
    return Start(
        b.params,
        b.state,
        derive_seed(seed, "shocks"),
        steps or scenario.simulation.horizon_months,
        b.satisfaction_model,
        b.privacy_model,
    )


def start_from_simulation(
    sim: Any, *, paths: int | None = None, steps: int | None = None, tag: str = "optimize"
) -> Start:
    """The simulation's current state (its first ``paths`` paths), with shocks from a stream
    derived from its seed, ``tag`` and period (deterministic given the history)."""
    import torch

    from ..params import Params
    from ..simulation import derive_seed

    m = min(paths or sim.n_paths, sim.n_paths)
    flat = {
        k: (v[:m] if isinstance(v, torch.Tensor) and v.dim() else v)
        for k in sim.params.keys()  # noqa: SIM118 (Params is not a dict)
        for v in [sim.params[k]]
    }
    params = Params.from_flat(flat, m, sim.dtype, sim.device)
    state = sim.state.map_paths(lambda t: t[..., :m])
    remaining = sim.horizon - sim.period
    return Start(
        params,
        state,
        derive_seed(sim.seed, f"{tag}:{sim.period}"),
        steps or max(remaining, 1),
        sim.satisfaction_model,
        sim.privacy_model,
    )


# ------------------------------------------------------------- simulate
