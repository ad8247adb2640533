"""Saving a session into another folder: bring its trained model files along.

A session references its trained models by a path relative to the session file, and a
session whose models lie outside its own folder is refused on load (unless the caller
allows external models, which the TUI cannot). Saving a session "as" into another folder
must therefore copy the model files beside the new session file: this module does that.
No torch import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import outputs
from .errors import SessionError
from .session import MODEL_ROLES, _is_default_model


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def models_outside(sim: Any, target: str | Path) -> list[tuple[str, Any]]:
    """``(role, model)`` of each trained model of ``sim`` (also those used before or after a
    model switch) whose weights file is not under
    the folder of session file ``target`` (resolved paths: a symlink does not count)."""
    folder = Path(target).parent
    out = []
    for role, model in _session_models(sim):
        path = getattr(model, "path", None)
        if _is_default_model(model, role) or not path:
            continue
        if not _inside(Path(path), folder):
            out.append((role, model))
    return out


def _session_models(sim: Any) -> list[tuple[str, Any]]:
    """``(role, model)`` of every model a session of ``sim`` references, once each: the
    models in use, those used from period 1 and those adopted later (model switches)."""
    base = getattr(sim, "base_models", None) or {}
    pairs = [(role, getattr(sim, attr)) for role, attr in MODEL_ROLES.items()]
    pairs += list(base.items()) + [
        (s.role, s.model) for s in getattr(sim, "model_switches", ()) or ()
    ]
    seen: set[int] = set()
    return [(r, m) for r, m in pairs if not (id(m) in seen or seen.add(id(m)))]


def bring_models(sim: Any, target: str | Path) -> list[tuple[Path, Path]]:
    """Copy every trained model of ``sim`` that lies outside the folder of session file
    ``target`` to ``FOLDER/models/<its folder name>/`` (weights ``ROLE.pt`` and metadata
    ``ROLE.toml``, atomically each), and point the model at the copy (``model.path``; the
    sha256 is that of the identical copy). A folder of that name holding other content
    gets a ``-2``, ``-3``... suffix; one holding the same weights is reused.

    Returns:
        ``(old weights file, new weights file)`` per model moved.

    Raises:
        SessionError: a copy failed (nothing is repointed then; copies already made stay).
    """
    from . import trained

    folder = Path(target).parent
    planned: list[tuple[Any, Path, Path]] = []
    for role, model in models_outside(sim, target):
        src = Path(model.path)
        src_meta = trained.metadata_path(src.parent, role)
        base = folder / "models" / src.parent.name
        dest_dir = base
        for i in range(2, 1000):
            dest = trained.weights_path(dest_dir, role)
            if not dest.exists() or outputs.file_sha256(dest) == model.sha256:
                break
            dest_dir = base.with_name(f"{base.name}-{i}")
        dest = trained.weights_path(dest_dir, role)
        try:
            dest_dir.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                outputs.atomic_write_bytes(dest, src.read_bytes())
            if src_meta.exists():
                outputs.atomic_write_bytes(
                    trained.metadata_path(dest_dir, role), src_meta.read_bytes()
                )
        except OSError as exc:
            raise SessionError(
                f"{dest}: cannot copy the {role} model beside the session: {exc.strerror or exc}"
            ) from None
        planned.append((model, src, dest))
    for model, _src, dest in planned:
        model.path = dest.resolve()
    return [(src, dest) for _m, src, dest in planned]
