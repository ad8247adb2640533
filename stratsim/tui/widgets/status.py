"""The status header: session, ``Period N/H``, policy, device, models, saved mark, the
file ``s`` saves to, and a failed autosave (kept until an autosave succeeds)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static


@dataclass(frozen=True)
class StatusInfo:
    """What the header shows; built by the app from its state.

    ``period``/``horizon`` are months; ``models`` maps role -> label; ``busy`` is a short
    activity note (``running``, ``training``) or empty; ``file`` the (shortened) session
    file that ``s`` writes ("" before the first save); ``autosave_error`` the last
    autosave failure ("" once one succeeds); ``queued``/``ignored`` the simulation keys
    pressed while busy that wait to run / that were dropped. Text here is plain (not
    markup) and already printable.
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


def short_label(label: str) -> str:
    """A model description shortened for the header: no training date, "default" for the
    shipped models ("mlp 64x64 (trained 2026-11-30, R² 0.88)" -> "mlp 64x64 (trained, R² 0.88)")."""
    label = label.replace("(shipped defaults)", "(default)")
    if "(trained " in label:
        head, _, tail = label.partition("(trained ")
        _, comma, rest = tail.partition(", ")
        label = f"{head}(trained{comma}{rest}" if comma else f"{head}(trained)"
    return label


class StatusHeader(Static):
    """Three lines: identity and progress of the run; the models in use; the file ``s``
    saves to, or a failed autosave in its place until an autosave succeeds."""

    DEFAULT_CSS = """
    StatusHeader { height: 3; background: $panel; color: $foreground; padding: 0 1; }
    """

    def show(self, info: StatusInfo) -> None:
        """Render ``info`` (called by the app whenever its state changes)."""
        line1 = Text()
        line1.append("stratsim ", style="bold")
        line1.append(info.session, style="bold")
        if info.loading:
            line1.append("  loading engine…", style="italic")
            if info.queued:
                line1.append(f"  [{info.queued} keys queued]", style="italic")
            self.update(line1)
            return
        line1.append("  ")
        line1.append("modified" if info.dirty else "saved", style="bold reverse" if info.dirty else "")
        line1.append(f"  Period {info.period}/{info.horizon}", style="bold")
        line1.append(f"  policy {info.policy}  ")
        waiting = ", ".join(
            x for x in (f"{info.queued} queued" if info.queued else "", f"{info.ignored} ignored" if info.ignored else "") if x
        )
        if info.busy or waiting:  # in place of device and paths, so the line fits 80 columns
            line1.append(f"[{', '.join(x for x in (info.busy, waiting) if x)}]", style="italic")
        else:
            line1.append(f"{info.device} {info.paths} paths")
        line2 = Text("  ".join(f"{role}={short_label(label)}" for role, label in info.models))
        if info.autosave_error:
            line3 = Text(f"AUTOSAVE FAILED: {info.autosave_error}", style="bold reverse red")
        elif info.file:
            line3 = Text(f"file {info.file}")
        else:
            line3 = Text("file: none yet (s asks for a name)")
        line3.truncate(self.size.width - 2 if self.size.width > 2 else 78, overflow="ellipsis")
        self.update(Text("\n").join([line1, line2, line3]))
