"""The first frame: the status header and a line saying what is loading.

It imports almost nothing beyond ``textual.app``, so it appears about as fast as a
minimal Textual app; right after it is drawn the App imports the real screens and
switches to :class:`~stratsim.tui.screens.main.MainScreen` (bench/bench_tui.py measures
this first frame against a minimal app).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from ..widgets.status import StatusHeader, StatusInfo


class SplashScreen(Screen):
    """Shown for the fraction of a second it takes to build the main screen."""

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        yield Static(
            "\n  starting stratsim: building the screen, then loading the engine (torch)..."
        )

    def on_mount(self) -> None:
        self.query_one(StatusHeader).show(
            StatusInfo(session=self.app.session_label(), loading=True)
        )
        self.call_after_refresh(self.app.show_main_screen)
