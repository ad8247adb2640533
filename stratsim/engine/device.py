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
