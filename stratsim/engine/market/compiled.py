"""The opt-in ``torch.compile`` of the step (:func:`use_compile`) and its fallback to the
eager step when compilation fails."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .month import _advance_tensors


class _CompileSetting:
    """The process-wide :func:`use_compile` setting: ``fn`` the compiled
    :func:`_advance_tensors` (None: eager), ``on_fallback`` told why compilation failed."""

    fn: Callable[..., Any] | None = None
    on_fallback: Callable[[str], Any] | None = None


_COMPILED = _CompileSetting()


def compile_unavailable(device: Any = "cpu") -> str | None:
    """Why ``torch.compile`` cannot compile the step on ``device`` here (one line), or None.

    Checks what fails before any compilation: TorchDynamo's support of this Python, a C++
    compiler for the CPU backend (inductor), Triton for CUDA."""
    import shutil
    import sys

    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        return f"torch.compile does not support this Python ({sys.version_info[0]}.{sys.version_info[1]})"
    kind = torch.device(device).type
    if kind == "cpu" and not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        return "torch.compile needs a C++ compiler (g++, c++ or clang++) for the CPU and none is on PATH"
    if kind == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            return "torch.compile needs Triton for CUDA (pip install triton)"
    if kind == "mps":
        return "torch.compile of the step is not supported on mps here"
    return None


def use_compile(
    enabled: bool = True,
    device: Any = "cpu",
    on_fallback: Callable[[str], Any] | None = None,
    backend: str = "inductor",
) -> str | None:
    """Opt in (or out) to ``torch.compile`` of the step for this process: every later
    :func:`advance` (``Simulation``, chunked runs, sweeps and optimization batches) runs
    the compiled :func:`_advance_tensors`. Compiling takes seconds (4-26 s measured on 2
    cores; once per distinct shape, dtype, device, model and ``relaxed``), then the step
    runs about 2x faster: for long runs and sweeps. The month is a tensor (:func:`clock`),
    so one compilation serves every period.

    Args:
        enabled: compile (True) or go back to the eager step (False).
        device: the device the step will run on (what :func:`compile_unavailable` checks).
        on_fallback: called with a one-line reason if compiling fails later (the step then
            runs eagerly for the rest of the process); default: a ``RuntimeWarning``.
        backend: the ``torch.compile`` backend (``"eager"``: TorchDynamo's tracing and
            guards without code generation, what the recompilation test counts).

    Returns:
        None when compilation is on (or was switched off), else the one-line reason it is
        unavailable (the step stays eager).
    """
    _COMPILED.fn = None
    _COMPILED.on_fallback = on_fallback
    if not enabled:
        return None
    why = compile_unavailable(device) if backend == "inductor" else None
    if why is not None:
        return why
    _COMPILED.fn = torch.compile(_advance_tensors, backend=backend)
    return None


def _is_compile_failure(exc: BaseException) -> bool:
    """An error of the compiler (TorchDynamo, AOTAutograd, inductor), not of the model."""
    return type(exc).__module__.startswith(("torch._dynamo", "torch._inductor", "torch._functorch"))


def _compile_failed(exc: BaseException) -> None:
    _COMPILED.fn = None
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    msg = f"torch.compile failed ({type(exc).__name__}: {first[:160]}); the step runs uncompiled"
    if _COMPILED.on_fallback is not None:
        _COMPILED.on_fallback(msg)
    else:
        import warnings

        warnings.warn(msg, RuntimeWarning, stacklevel=3)
