"""The draft allocation of the Run tab: apply it (the policy becomes manual), describe
how it differs from the policy's decision, and ask about an unapplied draft before a
step or a run."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .screens.dialogs import ChoiceDialog
from .text import safe

if TYPE_CHECKING:
    from ..engine.decisions import Decision
    from .screens.main import MainScreen


class DraftActions:
    """What the main screen does with the allocation panel's draft."""

    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen

    def apply(self, decision: Decision) -> None:
        """Make ``decision`` the next period's allocation (the policy becomes manual)."""
        from ..engine.errors import DecisionError

        app = self.screen.app
        if app.sim is None or app.busy:
            app.notify("Wait for the current job to finish", severity="warning")
            return
        before = app.sim.policy_name
        try:
            app.sim.set_decision(decision)
        except DecisionError as exc:
            app.error_dialog(
                "Allocation not applied", f"{exc}\n\nFix the value and press enter again."
            )
            return
        app.dirty = True
        self.screen.set_focus(None)  # leave the value: letter keys act again (n steps)
        changed = self.describe_change(decision)
        policy = f"; policy {before} -> manual" if before != "manual" else ""
        app.note(f"allocation applied ({changed}){policy}")
        self.screen.refresh_all()

    def describe_change(self, new: Decision) -> str:
        """``label old->new`` for each value of ``new`` that differs from the policy's."""
        from . import edit

        base = self.screen.allocation.baseline
        if base is None:
            return "values set"
        diffs = [
            f"{f.label} {edit.format_value(f.key, edit.get_value(base, f.key))}"
            f"->{edit.format_value(f.key, edit.get_value(new, f.key))}"
            for f in edit.FIELDS
            if edit.get_value(base, f.key) != edit.get_value(new, f.key)
        ]
        return ", ".join(diffs) or "no change"

    def pending(self) -> Decision | None:
        """The allocation panel's unapplied draft, or None."""
        panel = self.screen.allocation
        return panel.draft if panel.has_draft and not panel.invalid else None

    def ask_first(self, what: str, proceed: Callable[[], object]) -> bool:
        """When a draft allocation is pending, ask whether to apply it before ``what``
        (then call ``proceed``); returns True when it asked."""
        draft = self.pending()
        if draft is None:
            return False

        def answer(choice: str | None) -> None:
            if choice == "y":
                self.apply(draft)
                if self.screen.app.sim.decision == draft:
                    proceed()
            elif choice == "d":
                self.screen.allocation.discard_draft()
                proceed()

        question = (
            f"A draft allocation is not applied ({safe(self.describe_change(draft))}).\n"
            f"Apply it before you {what}?"
        )
        choices = [
            ("y", "y Apply and go on"),
            ("d", "d Discard the draft, use the policy"),
            ("c", "esc Cancel"),
        ]
        self.screen.app.push_screen(ChoiceDialog(question, choices), answer)
        return True
