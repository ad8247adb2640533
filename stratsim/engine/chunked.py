"""Chunked runs: more paths than fit in memory at once (``stratsim run --paths 10000000``).

A :class:`~.simulation.Simulation` holds every path's state (about 83 floats a path, plus
the step's temporaries: 1.4 GiB at 1,000,000 paths), so 10,000,000 paths do not fit in
4 GB. A :class:`ChunkedRun` steps ``chunk_paths`` paths at a time through the whole
horizon, then the next chunk, and merges each period's KPI summary across chunks with
:class:`~.kpi.SummaryAccumulator`: the mean exact up to float64 rounding, the percentiles
from a global every-k-th-path subsample of :data:`~.kpi.QUANTILE_SAMPLE` paths (exact up
to that many paths; error stated in :mod:`.kpi`). Memory: one chunk plus
``[n_kpis, QUANTILE_SAMPLE]`` floats per period.

Only the ``fixed`` policy: every chunk must take the same decisions, and a feedback
policy decides from the summary of *all* paths, which exists only after the last chunk.

Chunk ``c`` is a :class:`~.simulation.Simulation` of its own paths with seed ``seed``
for chunk 0 and :func:`~.simulation.derive_seed` ``(seed, "chunk<c>")`` after: a chunked
run is determined by scenario, seed, n_paths, chunk_paths, dtype, device and models, and
a run of one chunk draws the same numbers as the unchunked run with that seed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from . import market
from .errors import StratsimError
from .kpi import Summary, SummaryAccumulator, tidy_frame
from .models import ResponseModel
from .scenario import Scenario
from .simulation import MAX_PATHS, Simulation, derive_seed

#: Paths of one chunk by default: the step's memory at 1,000,000 paths is about 1.1 GiB.
DEFAULT_CHUNK_PATHS = 1_000_000
#: The most paths of a chunked run (about 100 minutes at 4M path-periods/s and 24 months).
MAX_CHUNKED_PATHS = 100_000_000


class ChunkedRun:
    """A fixed-policy Monte-Carlo run of ``n_paths`` paths in chunks of ``chunk_paths``.

    Args:
        scenario, seed, dtype, device, satisfaction_model, privacy_model: as for
            :class:`~.simulation.Simulation`.
        n_paths: 1..100,000,000.
        chunk_paths: paths per chunk, 1..5,000,000 (default 1,000,000).
        overrides: common (path-invariant) scenario values only.

    Raises:
        StratsimError: invalid arguments (one line naming the value and the expectation).
    """

    policy_name = "fixed"

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        seed: int = 0,
        n_paths: int,
        chunk_paths: int = DEFAULT_CHUNK_PATHS,
        dtype: str = "float32",
        device: str = "auto",
        satisfaction_model: ResponseModel | None = None,
        privacy_model: ResponseModel | None = None,
        overrides: Mapping[str, float] | None = None,
    ) -> None:
        if (
            isinstance(n_paths, bool)
            or not isinstance(n_paths, int)
            or not 1 <= n_paths <= MAX_CHUNKED_PATHS
        ):
            raise StratsimError(f"paths {n_paths!r}: expected an integer in 1..{MAX_CHUNKED_PATHS}")
        if (
            isinstance(chunk_paths, bool)
            or not isinstance(chunk_paths, int)
            or not 1 <= chunk_paths <= MAX_PATHS
        ):
            raise StratsimError(
                f"chunk paths {chunk_paths!r}: expected an integer in 1..{MAX_PATHS}"
            )
        self.n_paths = n_paths
        self.chunk_paths = min(chunk_paths, n_paths)
        self._kw: dict[str, Any] = dict(
            dtype=dtype, device=device, policy="fixed", satisfaction_model=satisfaction_model,
            privacy_model=privacy_model, overrides=overrides,
        )  # fmt: skip
        # Chunk 0 now: every argument is validated before anything runs.
        self._first: Simulation | None = Simulation(
            scenario, seed=seed, n_paths=self.chunk_paths, **self._kw
        )
        self.scenario = self._first.scenario
        self.satisfaction_model = self._first.satisfaction_model
        self.privacy_model = self._first.privacy_model
        self.seed = seed
        self.history: list[Summary] = []

    @property
    def n_chunks(self) -> int:
        return -(-self.n_paths // self.chunk_paths)

    @property
    def period(self) -> int:
        return len(self.history)

    @property
    def horizon(self) -> int:
        return self.scenario.simulation.horizon_months

    def model_warnings(self) -> list[str]:
        sim = self._first if self._first is not None else self._chunk(0)
        return sim.model_warnings()

    def _chunk(self, c: int) -> Simulation:
        n = min(self.chunk_paths, self.n_paths - c * self.chunk_paths)
        seed = self.seed if c == 0 else derive_seed(self.seed, f"chunk{c}")
        return Simulation(self.scenario, seed=seed, n_paths=n, **self._kw)

    def run(
        self,
        steps: int,
        on_progress: Callable[[int, int], Any] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> int:
        """Simulate ``steps`` months on every chunk (once: a chunked run is not continued).

        ``on_progress(done, total)`` is called after each chunk-month (total = steps x
        chunks); ``should_stop()`` is checked before each chunk. Returns the months in
        :attr:`history` (0 when stopped: a partial run has no summary of all paths).
        """
        if self.history:
            raise StratsimError("a chunked run is simulated once: build a new one")
        accs = [SummaryAccumulator(self.n_paths) for _ in range(steps)]
        total, done = steps * self.n_chunks, 0
        for c in range(self.n_chunks):
            if should_stop is not None and should_stop():
                return 0
            sim = self._first if c == 0 and self._first is not None else self._chunk(c)
            self._first = None  # free chunk 0 once used
            for t in range(steps):
                dt = sim.decision_tensors(sim.next_decision())
                sim.state, outputs = market.step(
                    sim.params, sim.state, dt, sim._gen, sim.satisfaction_model, sim.privacy_model
                )
                accs[t].add(outputs)
                del outputs
                done += 1
                if on_progress is not None:
                    on_progress(done, total)
            del sim
        self.history = [a.result() for a in accs]
        return steps

    def kpi_frame(self) -> pd.DataFrame:
        """The history as the tidy table ``period, kpi, mean, p10, p50, p90``."""
        return tidy_frame(self.history)

    def last_summary(self) -> Summary | None:
        return self.history[-1] if self.history else None
