"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    """A factory of TUI apps on the real engine (200 paths, no autosave, no recovery
    question); keyword arguments override :class:`~stratsim.tui.app.TuiOptions`."""
    from stratsim.tui.app import StratsimApp, TuiOptions

    def make(**kw) -> StratsimApp:
        opts = dict(
            paths=200,
            device="cpu",
            seed=0,
            check_recovery=False,
            autosave=False,
            models_dir=tmp_path / "m",
        )
        opts.update(kw)
        return StratsimApp(TuiOptions(**opts))

    return make
