"""Device and dtype selection shared by the simulation and the trainer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import StratsimError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("float32", "float64")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; a named device must be available.

    Raises:
        StratsimError: unknown name, or the device is not available on this machine.
    """
    import torch

    if name not in DEVICES:
        raise StratsimError(f"device {name!r}: expected one of {', '.join(DEVICES)}")
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise StratsimError(
            f"device {name!r} is not available on this machine; expected cpu, or auto (the best available)"
        )
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``float32`` or ``float64`` (MPS has no float64).

    Raises:
        StratsimError: unknown name, or float64 on MPS.
    """
    import torch

    if name not in DTYPES:
        raise StratsimError(f"dtype {name!r}: expected one of {', '.join(DTYPES)}")
    if name == "float64" and device.type == "mps":
        raise StratsimError("dtype 'float64' is not supported on the mps device: use float32")
    return torch.float32 if name == "float32" else torch.float64


#: Below this many paths every entry point (``run``, ``check``, the TUI, session replay,
#: ``train``, sweeps) uses one torch CPU thread unless ``--threads`` says otherwise. A tensor
#: op of the step touches at most ``n_paths`` floats, and on a shared machine extra intra-op
#: threads spin-wait at every op. Measured (bench/bench_speed.py, 2 cores, load 6-7): a
#: second thread ran a period at 0.04x (10,000 paths), 0.08x (100,000), 0.18x (1,000,000)
#: and 0.16x (2,000,000 paths) the speed of one, so the threshold lies above every size a
#: run steps at once (a Simulation holds at most 5,000,000 paths; a chunked run steps one
#: chunk at a time): one thread by default. Lower it where an idle many-core machine shows
#: a gain (``--threads N`` meanwhile).
SINGLE_THREAD_BELOW_PATHS = 5_000_001


def configure_threads(threads: int | None = None, n_paths: int | None = None) -> int:
    """Set torch's CPU intra-op thread count for this process; the one policy every
    entry point uses.

    Args:
        threads: ``--threads``: > 0 that many; 0 or None the policy below.
        n_paths: Monte-Carlo paths of the run (None: not known, e.g. training: one thread).

    Returns:
        The thread count now in use (``torch.get_num_threads()``).

    Policy: one thread below :data:`SINGLE_THREAD_BELOW_PATHS` paths (or when ``n_paths`` is
    None); torch's default (the number of cores) from there up.

    Raises:
        StratsimError: ``threads`` < 0.
    """
    import torch

    if threads is not None and threads < 0:
        raise StratsimError(
            f"threads {threads!r}: expected an integer >= 0 (0: the default policy)"
        )
    if not _TORCH_DEFAULT:
        _TORCH_DEFAULT.append(torch.get_num_threads())
    if threads:
        torch.set_num_threads(threads)
    elif n_paths is None or n_paths < SINGLE_THREAD_BELOW_PATHS:
        torch.set_num_threads(1)
    else:
        torch.set_num_threads(_TORCH_DEFAULT[0])
    return torch.get_num_threads()


#: torch's own default thread count, recorded by the first :func:`configure_threads` call.
_TORCH_DEFAULT: list[int] = []
