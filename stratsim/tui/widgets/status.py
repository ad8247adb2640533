"""The status header: the session's name and the file ``s`` saves to; ``Period N/H``
(with a persistent "beyond the horizon" mark past it), saved mark, policy, device; the
models in use, or a failed autosave in their place until an autosave succeeds.

Each line is cut to the header's width by display cells (``rich.cells.cell_len``: a CJK
character takes two) with an ellipsis, never wrapped, so a long name cannot push the
other lines away.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from ..text import shorten_path

#: Shown in place of the file before the first save.
NO_FILE = "file: none yet (s asks for a name)"
#: At most this many lines for the reason a typed value is refused (the header grows).
MAX_INVALID_LINES = 3
#: The mark after ``Period N/H`` once the run went past its horizon.
BEYOND = "beyond the horizon"


@dataclass(frozen=True)
class StatusInfo:
    """What the header shows; built by the app from its state.

    ``period``/``horizon`` are months; ``models`` maps role -> label; ``busy`` is a short
    activity note (``running``, ``training``) or empty; ``file`` the session file that
    ``s`` writes ("" before the first save; shortened here to the room left);
    ``autosave_error`` the last autosave failure ("" once one succeeds);
    ``queued``/``ignored`` the simulation keys pressed while busy that wait to run / that
    were dropped; ``invalid`` why a typed allocation value is refused ("" when none is:
    shown in place of the models, wrapped, so it is readable at 60 columns). Text here
    is plain (not markup) and already printable.
    """

    session: str
    period: int | None = None
    horizon: int | None = None
    policy: str = ""
    device: str = ""
    paths: int = 0
    models: tuple[tuple[str, str], ...] = ()
    dirty: bool = False
    busy: str = ""
    loading: bool = False
    file: str = ""
    autosave_error: str = ""
    queued: int = 0
    ignored: int = 0
    invalid: str = ""

    @property
    def beyond(self) -> bool:
        """True once the run went past its horizon (stepping on is allowed)."""
        return self.period is not None and self.horizon is not None and self.period > self.horizon


def short_label(label: str) -> str:
    """A model description shortened for the header: no training date, "default" for the
    shipped models ("mlp 64x64 (trained 2026-11-30, R² 0.88)" -> "mlp 64x64 (trained, R² 0.88)")."""
    label = label.replace("(shipped defaults)", "(default)")
    if "(trained " in label:
        head, _, tail = label.partition("(trained ")
        _, comma, rest = tail.partition(", ")
        label = f"{head}(trained{comma}{rest}" if comma else f"{head}(trained)"
    return label


def fit(text: Text, width: int) -> Text:
    """``text`` cut to ``width`` display cells with an ellipsis (never wrapped)."""
    text.truncate(max(width, 1), overflow="ellipsis")
    text.no_wrap = True
    return text


def identity_line(info: StatusInfo, width: int) -> Text:
    """``stratsim NAME  FILE``: the name gets at most half the room when the file needs
    the rest; the file path is shortened from the left (its name stays)."""
    line = Text("stratsim ", style="bold")
    file = info.file or NO_FILE
    room = width - cell_len("stratsim ") - 2
    name_room = room - cell_len(file)
    if name_room < cell_len(info.session):
        name_room = max(room // 2, room - cell_len(file))
    name = Text(info.session, style="bold")
    if cell_len(info.session) > name_room:
        name.truncate(max(name_room, 2), overflow="ellipsis")
    line.append_text(name)
    file_room = room - name.cell_len
    if file_room >= 4:
        shown = shorten_path(info.file, file_room) if info.file else NO_FILE
        line.append("  ")
        line.append(shown, style="dim" if not info.file else "")
    return fit(line, width)


def progress_line(info: StatusInfo) -> Text:
    """``modified  Period N/H [beyond the horizon]  policy P  device paths`` (or what is
    busy and queued in place of device and paths, so the line fits 80 columns)."""
    line = Text()
    line.append("modified" if info.dirty else "saved", style="bold reverse" if info.dirty else "")
    line.append(f"  Period {info.period}/{info.horizon}", style="bold")
    if info.beyond:
        line.append(" ")
        line.append(BEYOND, style="bold reverse yellow")
    line.append(f"  policy {info.policy}  ")
    queued = f"{info.queued} queued" if info.queued else ""
    ignored = f"{info.ignored} ignored" if info.ignored else ""
    waiting = ", ".join(x for x in (queued, ignored) if x)
    if info.busy or waiting:
        line.append(f"[{', '.join(x for x in (info.busy, waiting) if x)}]", style="italic")
    else:
        line.append(f"{info.device} {info.paths} paths")
    return line


class StatusHeader(Static):
    """Three lines: who (session name and file); where the run is; the models in use,
    or a failed autosave in their place until an autosave succeeds."""

    DEFAULT_CSS = """
    StatusHeader { height: 3; background: $panel; color: $foreground; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis; }
    """

    _info: StatusInfo | None = None

    def show(self, info: StatusInfo) -> None:
        """Render ``info`` (called by the app whenever its state changes)."""
        self._info = info
        width = self.size.width - 2 if self.size.width > 2 else 78
        line1 = identity_line(info, width)
        if info.loading:
            loading = Text("loading engine…", style="italic")
            if info.queued:
                loading.append(f"  [{info.queued} keys queued]")
            self.update(Text("\n").join([line1, fit(loading, width)]))
            return
        if info.autosave_error:
            line3 = Text(f"AUTOSAVE FAILED: {info.autosave_error}", style="bold reverse red")
        else:
            line3 = Text("  ".join(f"{role}={short_label(label)}" for role, label in info.models))
        lines = [line1, fit(progress_line(info), width), fit(line3, width)]
        if info.invalid:  # the reason wraps (the header grows) instead of being cut
            why = Text(f"Invalid, not applied: {info.invalid}", style="bold reverse red")
            wrapped = list(why.wrap(self.app.console, width))[:MAX_INVALID_LINES]
            lines[2:] = [fit(line, width) for line in wrapped]
        self.styles.height = len(lines)
        self.update(Text("\n").join(lines))

    def on_resize(self) -> None:
        if self._info is not None:
            self.show(self._info)
