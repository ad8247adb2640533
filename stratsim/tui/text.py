"""User and file text made safe for display in the TUI.

Rich/Textual markup treats ``[`` specially (``[/`` in a session name crashed a dialog
with a MarkupError), and control characters split lines or drive the terminal. Every
string that comes from the operator or a file goes through :func:`safe` before it is
put into a markup string; plain :class:`rich.text.Text` needs only
:func:`stratsim.format.printable`.
"""

from __future__ import annotations

from rich.markup import escape

from ..format import printable


def safe(text: object) -> str:
    """``text`` as markup that shows exactly it: control characters escaped
    (:func:`~stratsim.format.printable`), then Rich markup escaped
    (:func:`rich.markup.escape`)."""
    return escape(printable(text))
