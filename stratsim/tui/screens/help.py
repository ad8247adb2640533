"""The help screen: every key binding, generated from the bindings themselves, in a
scrollable list whose rows wrap (nothing is cut at 80x24) and whose first rows explain
how to move around (tab keys, esc, ?)."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

#: The first rows of the help: how to move between tabs, fields and dialogs.
NAVIGATION: list[tuple[str, str, str]] = [
    ("1-8", "", "Tabs: 1 Run, 2 KPIs, 3 Charts, 4 Training, 5 Advise, 6 Compare, "
     "7 Sensitivity, 8 Log (in a value field digits are typed: esc first)"),
    ("esc", "", "Leave a value field (letters and digits act again); close a dialog"),
    ("tab", "", "Next field or table; shift+tab the previous one"),
    ("?", "", "This help (esc, q or ? closes it)"),
]  # fmt: skip

#: The notes under the key list.
HELP_NOTES = (
    "Allocation: tab into a value, change it with up/down or +, or type a number "
    "(- is always typed: -3 is refused as negative); "
    "the Run tab previews the next period (Δ vs the policy's decision); enter applies "
    "it (policy becomes manual), esc discards and leaves the value so letters work again.\n"
    "Dialogs: tab moves, enter confirms, esc cancels. Training: t, pick 1-4 (the data "
    "field is then focused), enter.\n"
    "Over SSH: works without a mouse; --theme ansi-dark uses the terminal's colours."
)


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
    HelpScreen > VerticalScroll { width: 100%; max-width: 100; height: 100%; max-height: 40;
        border: thick $accent; background: $surface; padding: 0 1; }
    HelpScreen #help-title { text-style: bold; }
    """

    def __init__(self, rows: list[tuple[str, str, str]], notes: str) -> None:
        super().__init__()
        self.rows = rows
        self.notes = notes

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(
                "stratsim keys (esc closes; ↑/↓ scroll; ctrl+p lists every action)",
                id="help-title",
                markup=False,
            )
            table = Table(box=None, expand=True, padding=(0, 1), show_edge=False)
            table.add_column("where", no_wrap=True, style="dim")
            table.add_column("key", no_wrap=True, style="bold")
            table.add_column("does", ratio=1, overflow="fold")
            for key, _, does in NAVIGATION:
                table.add_row("move", key, does)
            for row in self.rows:
                table.add_row(*row)
            yield Static(table, id="help-keys")
            yield Static(self.notes, markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
