"""The main screen's key bindings (a light module: the splash screen and the command
palette need them before the widgets are imported).

Actions without a prefix run on the main screen (the simulation); ``app.`` actions run
on the App (the session file, quit). The tab keys ``1``-``8`` are plain bindings, not
priority ones: a focused value field takes the digits being typed.
"""

from __future__ import annotations

from textual.binding import Binding

#: (tab id, tab title) in the order of the tab bar; key ``i`` shows tab ``i``.
TABS: list[tuple[str, str]] = [
    ("tab-run", "Run"),
    ("tab-kpis", "KPIs"),
    ("tab-charts", "Charts"),
    ("tab-training", "Training"),
    ("tab-advise", "Advise"),
    ("tab-compare", "Compare"),
    ("tab-sensitivity", "Sensitivity"),
    ("tab-log", "Log"),
]

#: The tab keys: the footer shows the first as ``1-8 Tabs``; the help lists each.
TAB_BINDINGS: list[Binding] = [
    Binding(
        str(i), f"show_tab('{tab}')", "Tabs" if i == 1 else title, show=i == 1,
        key_display=f"1-{len(TABS)}" if i == 1 else None, tooltip=f"Show the {title} tab",
    )
    for i, (tab, title) in enumerate(TABS, start=1)
]  # fmt: skip

#: Main keys the footer leaves out first, in this order, when they do not fit its width
#: (a focused pane adds keys of its own); Save, Save as, Help and Quit always stay.
FOOTER_OPTIONAL: tuple[str, ...] = (
    "advise", "app.open", "branch", "train", "cycle_policy", "undo", "run_horizon", "step",
    f"show_tab('{TABS[0][0]}')",
)  # fmt: skip

#: The main screen's bindings. Order = footer order; the footer leaves out those of
#: :data:`FOOTER_OPTIONAL` that do not fit; all are in the help (?) and the palette (ctrl+p).
MAIN_BINDINGS: list[Binding] = [
    Binding("n", "step", "Step", tooltip="Simulate one period (month)"),
    Binding("r", "run_horizon", "Run", tooltip="Run to the horizon with the policy (x cancels)"),
    Binding("u", "undo", "Undo", tooltip="Undo the last period"),
    Binding("p", "cycle_policy", "Policy", tooltip="Switch policy: manual, fixed, feedback, optimize"),
    Binding("t", "train", "Train", tooltip="Train a model (satisfaction or privacy)"),
    Binding("x", "cancel", "Stop", tooltip="Cancel training or the run to the horizon"),
    Binding("s", "app.save", "Save", tooltip="Save the session"),
    Binding("a", "app.save_as", "Save as", tooltip="Save the session under a new name"),
    Binding("o", "app.open", "Open", tooltip="Open a session file"),
    Binding("v", "advise", "Advise", tooltip="Advise: optimize the allocation (g), frontier (f), copy to draft (c)"),
    Binding("b", "branch", "Fork", tooltip="Branch: keep the run as a named branch, compare with it, or restore it"),
    *TAB_BINDINGS,
    Binding("question_mark", "help", "Help", key_display="?", tooltip="List every key"),
    Binding("q", "app.quit_app", "Quit", tooltip="Quit (asks if there are unsaved changes)"),
]  # fmt: skip
