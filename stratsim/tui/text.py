"""User and file text made safe for display in the TUI.

Textual's markup treats ``[`` specially (``[/`` in a session name crashed a dialog with a
MarkupError), and control characters split lines or drive the terminal. Every string
that comes from the operator or a file goes through :func:`safe` before it is put into a
markup string; plain :class:`rich.text.Text` needs only
:func:`stratsim.format.printable`.
"""

from __future__ import annotations

from ..format import printable


def safe(text: object) -> str:
    """``text`` as Textual markup that shows exactly it: control characters escaped
    (:func:`~stratsim.format.printable`), then every ``[`` escaped as ``\\[``.

    ``rich.markup.escape`` / ``textual.markup.escape`` are not enough: they escape only
    a complete tag (``[x]``), while Textual's parser also fails on an unclosed ``[/``.
    A trailing backslash gets a zero-width space after it, so it cannot escape the
    markup that follows (``f"[b]{safe(name)}[/b]"``)."""
    out = printable(text).replace("[", "\\[")
    return out + "\u200b" if out.endswith("\\") else out
