"""Text from the operator or a file, made safe for display in the TUI.

* :func:`printable` ``(text) -> str``: control characters (newline, tab, escape, C1
  controls, DEL, Unicode line/paragraph separators) and undecodable bytes smuggled in by
  ``os.fsdecode`` (lone surrogates ``\\udc80``..``\\udcff``) shown escaped, so a file name
  with a newline cannot split the header or a log line and an escape sequence in a column
  name cannot drive the terminal. Everything else is kept as is.
* :func:`safe` ``(text) -> str``: :func:`printable`, then Textual markup escaped: every
  string that comes from the operator or a file goes through it before it is put into a
  markup string (``[/`` in a session name crashed a dialog with a MarkupError).
* :func:`shorten_path` ``(path, width) -> str``: a path for the narrow header.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..engine.fileio import printable  # the one escaping rule of CLI, engine and TUI

__all__ = ["printable", "safe", "shorten_path"]


def shorten_path(path: str | os.PathLike[str], width: int = 40) -> str:
    """``path`` in at most ``width`` characters: ``~/`` for the home folder, then leading
    folders replaced by ``…/`` until it fits (the file name itself is cut from the left
    only when it alone is longer). Control characters escaped (:func:`printable`)."""
    p = printable(os.fspath(path))
    home = printable(str(Path.home()))
    if home not in ("", "/") and (p == home or p.startswith(home + os.sep)):
        p = "~" + p[len(home) :]
    if len(p) <= width:
        return p
    parts = p.split(os.sep)
    for i in range(1, len(parts)):
        candidate = "…" + os.sep + os.sep.join(parts[i:])
        if len(candidate) <= width:
            return candidate
    return "…" + p[-(width - 1) :]


def safe(text: object) -> str:
    """``text`` as Textual markup that shows exactly it: control characters escaped
    (:func:`printable`), then every ``[`` escaped as ``\\[``.

    ``rich.markup.escape`` / ``textual.markup.escape`` are not enough: they escape only
    a complete tag (``[x]``), while Textual's parser also fails on an unclosed ``[/``.
    A trailing backslash gets a zero-width space after it, so it cannot escape the
    markup that follows (``f"[b]{safe(name)}[/b]"``)."""
    out = printable(text).replace("[", "\\[")
    return out + "\u200b" if out.endswith("\\") else out
