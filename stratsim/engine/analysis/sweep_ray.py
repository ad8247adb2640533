"""Running a sweep's chunks on a Ray cluster (optional dependency ``ray``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import StratsimError
from ..terms import term

if TYPE_CHECKING:
    pass

#: Prefix of decision levers in dotted keys (the scenario file's ``[allocation]`` table).

from .sweep_design import (
    RAY_INSTALL_HINT,
)
from .sweep_runs import (
    PointResult,
    Prepared,
    Progress,
    RunSpec,
    SweepResult,
    iter_chunk,
)

# ----------------------------------------------------------------------------- Ray


def import_ray():
    """``ray``, or a one-line :class:`StratsimError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise StratsimError(f"{term('backend')} ray: {RAY_INSTALL_HINT}") from None
    return ray


def _ray_chunk(prepared: Prepared, spec: RunSpec, start: int, stop: int) -> Iterator[Any]:
    """Body of a Ray task (a Ray generator: each month streams back as it is done)."""
    from ..device import configure_threads

    configure_threads(0, stop - start)  # the engine's one thread policy, in the worker
    yield from iter_chunk(prepared, spec, start, stop)


def check_ray_address(address: str, timeout: float = 5.0) -> None:
    """Refuse quickly a ``HOST:PORT`` where nothing listens (Ray itself retries for
    minutes). ``auto`` and ``ray://`` client addresses are left to Ray.

    Raises:
        StratsimError: naming the address and the socket error.
    """
    import socket

    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise StratsimError(
            f"{term('ray_address')} {address!r}: expected HOST:PORT of the Ray head (e.g. 10.0.0.5:6379), auto, or ray://HOST:10001"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise StratsimError(
            f"{term('ray_address')} {address}: no Ray head answers there ({exc.strerror or exc}); start one with `ray start --head --port={port}`"
        ) from None


def _join_ray(ray: Any, ray_address: str | None, ray_cpus: int | None) -> bool:
    """Join the Ray cluster at ``ray_address`` or start a local one, unless Ray is running
    already; True when this call started it (and must shut it down)."""
    import logging

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if ray_address:
        check_ray_address(ray_address)
    try:
        if ray_address:
            ray.init(address=ray_address, **kwargs)
        else:
            ray.init(num_cpus=ray_cpus, include_dashboard=False, **kwargs)
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError from Ray
        where = f"{term('ray_address')} {ray_address}" if ray_address else "a local Ray"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StratsimError(f"{where}: cannot start or join Ray: {first}") from None
    return True


def _evaluate_ray(
    prepared: Prepared,
    spec: RunSpec,
    parts: list[tuple[int, int]],
    ray_address: str | None,
    ray_cpus: int | None,
    on_progress: Callable[[Progress], Any] | None,
) -> SweepResult:
    ray = import_ray()
    started = _join_ray(ray, ray_address, ray_cpus)
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        k = prepared.design.n_points
        task = ray.remote(num_cpus=1)(_ray_chunk)
        pref, sref = ray.put(prepared), ray.put(spec)
        gens = {}
        for idx, (start, stop) in enumerate(parts):
            gens[task.remote(pref, sref, start, stop)] = idx
        pending = list(gens)
        done: dict[int, list[PointResult]] = {}
        prog = Progress(0, k * spec.steps, 0, len(parts))
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for gen in ready:
                    idx = gens[gen]
                    start, stop = parts[idx]
                    try:
                        value = ray.get(next(gen))
                    except StopIteration:
                        continue
                    except ray.exceptions.RayTaskError as exc:  # the task's own error, one line
                        cause = exc.cause
                        if isinstance(cause, StratsimError):
                            raise type(cause)(str(cause)) from None
                        raise StratsimError(
                            f"sweep chunk {start}..{stop - 1} failed on Ray: {type(cause).__name__}: {cause}"
                        ) from None
                    if isinstance(value, int):
                        prog.done += stop - start
                        pending.append(gen)
                    else:
                        done[idx] = value
                        prog.chunks_done += 1
                    if on_progress is not None:
                        on_progress(prog)
        except BaseException:  # an error or Ctrl-C: stop the chunks still running on the cluster
            for gen in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(gen)
            raise
        results = [r for idx in range(len(parts)) for r in done[idx]]
        info = {
            "ray_cpus": cpus,
            "ray_address": ray_address or ("local" if started else "existing"),
        }
        return SweepResult(prepared, spec, results, "ray", len(parts), info)
    finally:
        if started:
            ray.shutdown()
