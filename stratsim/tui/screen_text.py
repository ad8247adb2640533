"""The running app's screen as plain text (what a person would read), for tests,
benchmarks and debugging without an SVG viewer."""

from __future__ import annotations

import io

from rich.console import Console


def screen_text(app) -> str:
    """Render the current screen (with the screens under a modal) to text lines.

    Args:
        app: a running Textual App (e.g. inside ``app.run_test()``).

    Returns:
        ``height`` lines of ``width`` characters joined by newlines, styles dropped.
    """
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    return console.export_text(styles=False)
