"""The help screen: every key binding, generated from the bindings themselves."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


def binding_rows(*groups: tuple[str, list]) -> list[tuple[str, str, str]]:
    """``(where, key, description)`` for each Binding (or tuple) of each group."""
    rows = []
    for where, bindings in groups:
        for b in bindings:
            b = b if isinstance(b, Binding) else Binding(*b)
            key = b.key_display or b.key
            desc = b.description or b.action
            if b.tooltip and b.tooltip != desc:
                desc = f"{desc}: {b.tooltip}"
            rows.append((where, key.replace("question_mark", "?"), desc))
    return rows


class HelpScreen(ModalScreen[None]):
    """Lists the bindings; ``escape``, ``q`` or ``?`` closes it."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 78; height: 100%; max-height: 40; border: thick $accent; background: $surface; padding: 0 1; }
    HelpScreen DataTable { height: auto; }
    """

    def __init__(self, rows: list[tuple[str, str, str]], notes: str) -> None:
        super().__init__()
        self.rows = rows
        self.notes = notes

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("[b]stratsim keys[/b]  (esc closes; every action is also in the command palette, ctrl+p)")
            table = DataTable(cursor_type="none", zebra_stripes=True, show_cursor=False)
            table.add_columns("where", "key", "does")
            for row in self.rows:
                table.add_row(*row)
            yield table
            yield Static(self.notes)

    def action_close(self) -> None:
        self.dismiss(None)
