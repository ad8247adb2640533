"""The main screen's key bindings (a light module: the splash screen and the command
palette need them before the widgets are imported)."""

from __future__ import annotations

from textual.binding import Binding

#: (key, action on the app, footer label, shown in footer). Order = footer order.
MAIN_BINDINGS: list[Binding] = [
    Binding("n", "app.step", "Step", tooltip="Simulate one period (month)"),
    Binding("r", "app.run_horizon", "Run", tooltip="Run to the horizon with the policy (x cancels)"),
    Binding("u", "app.undo", "Undo", tooltip="Undo the last period"),
    Binding("p", "app.cycle_policy", "Policy", tooltip="Switch policy: manual, fixed, feedback"),
    Binding("t", "app.train", "Train", tooltip="Train a model (satisfaction or privacy)"),
    Binding("x", "app.cancel", "Stop", tooltip="Cancel training or the run to the horizon"),
    Binding("s", "app.save", "Save", tooltip="Save the session"),
    Binding("a", "app.save_as", "SaveAs", show=False, tooltip="Save the session under a new name"),
    Binding("o", "app.open", "Open", tooltip="Open a session file"),
    Binding("v", "app.advise", "Advise", show=False, tooltip="Advise: optimize the allocation (g), frontier (f), copy to draft (c)"),
    Binding("b", "app.branch", "Fork", tooltip="Branch: keep the run as a named branch, compare with it, or restore it"),
    Binding("question_mark", "app.help", "Help", key_display="?", tooltip="List every key"),
    Binding("q", "app.quit_app", "Quit", tooltip="Quit (asks if there are unsaved changes)"),
]
