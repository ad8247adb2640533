"""The allocation panel: every decision value, adjustable from the keyboard.

Keys in a value: ``up``/``+`` one step up, ``down`` one step down, or type a number
(``-`` is always typed as a character, never a step: ``-3`` is a negative number, refused
like any value out of range, and ``1e-3`` can be typed); ``enter`` applies the draft (the simulation then holds it and the policy turns
``manual``), ``escape`` discards the draft and leaves the panel so single-letter keys
work again. A typed value that is not a number or is out of range is shown as invalid
and never reaches the draft. Changing a split share rebalances the other shares of that
split proportionally (:func:`stratsim.tui.edit.rebalance`), and the sum is shown.
"""

from __future__ import annotations

import math

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Static

from ...engine.decisions import SPLIT_KEYS, Decision
from ...engine.errors import DecisionError
from ...format import PER_MONTH, fmt
from .. import edit
from ..glyphs import glyph
from ..text import safe

#: The unit beside each value (fits 9 columns; the help line of a field has the long
#: form, :attr:`stratsim.tui.edit.Field.unit`): budget per month (a scenario names no
#: currency: :data:`stratsim.format.PER_MONTH`), shares of what they split, prices per month.
UNITS = {
    "budget": PER_MONTH,
    "privacy_share": "of budget",
    "c_share": "of rest",
    "c_price": "/user/mo",
    "b_seat_price": "/seat/mo",
}


def unit_label(key: str) -> str:
    """Short unit shown right of the value of ``key`` (``c_split.ux``: ``of C``)."""
    if key.startswith("c_split."):
        return "of C"
    if key.startswith("b_split."):
        return "of B"
    return UNITS[key]


class ValueInput(Input):
    """An Input for one decision field; arrows and ``+`` step the value, ``-`` is typed.

    Editing keys (backspace, delete, ctrl+u, cursor moves, enter) are handled in the key
    handler, in the order they arrive, rather than as bindings: Textual runs a binding as
    soon as the key arrives but inserts characters when the widget processes the key, so
    a burst of keys (common over SSH) came out reordered ("backspace x8, 380000" gave 3700).
    Focusing a value selects it, so typing replaces it.
    """

    inherit_bindings = False
    KEY_ACTIONS = {
        "backspace": "delete_left", "delete": "delete_right", "left": "cursor_left",
        "right": "cursor_right", "home": "home", "end": "end", "ctrl+u": "delete_left_all",
        "ctrl+k": "delete_right_all", "ctrl+w": "delete_left_word", "enter": "submit",
    }  # fmt: skip

    BINDINGS = [
        Binding("up", "bump(1)", "Step up", show=False),
        Binding("down", "bump(-1)", "Step down", show=False),
        Binding("escape", "leave", "Discard draft", show=False),
    ]

    class Bump(Message):
        def __init__(self, key: str, direction: int) -> None:
            super().__init__()
            self.key = key
            self.direction = direction

    class Leave(Message):
        pass

    def __init__(self, key: str, **kwargs) -> None:
        super().__init__(id=f"value-{key.replace('.', '-')}", select_on_focus=True, **kwargs)
        self.field_key = key

    async def _on_key(self, event) -> None:
        if event.key.startswith("alt+") and len(event.key) > 4:
            # tmux/SSH deliver esc and the next key in one read ("\x1bn"), which Textual
            # reports as alt+n: do what the operator typed, escape (discard the draft,
            # leave the value) and then the key itself (n: step).
            event.stop()
            event.prevent_default()
            self.action_leave()
            self.app.simulate_key(event.key[4:])
            return
        action = self.KEY_ACTIONS.get(event.key)
        if action is not None:
            event.stop()
            event.prevent_default()
            await self.run_action(action)
            return
        if event.character == "+":  # "-" is a character: "-3" must not be step-down then "3"
            event.stop()
            event.prevent_default()
            self.post_message(self.Bump(self.field_key, 1))
            return
        await super()._on_key(event)

    def action_bump(self, direction: int) -> None:
        self.post_message(self.Bump(self.field_key, direction))

    def action_leave(self) -> None:
        """Discard the draft and leave the value now (not through a message: a letter
        right behind the escape must find the value already left)."""
        panel = next((a for a in self.ancestors if isinstance(a, AllocationPanel)), None)
        if panel is not None:
            panel.discard_draft()
        else:
            self.post_message(self.Leave())


class AllocationPanel(VerticalScroll):
    """Edits a draft :class:`Decision`; posts :class:`DraftChanged` / :class:`Apply`."""

    can_focus = False  # tab goes straight to the values

    DEFAULT_CSS = """
    AllocationPanel { width: 36; height: 1fr; padding: 0 1; }
    AllocationPanel .row { height: 1; }
    AllocationPanel .row Label { width: 13; }
    AllocationPanel .row Label.unit { width: 1fr; color: $text-muted; }
    AllocationPanel ValueInput { width: 10; height: 1; border: none; padding: 0 1; }
    AllocationPanel ValueInput:focus { border: none; background: $accent 40%; }
    AllocationPanel ValueInput.-bad { background: $error 40%; text-style: bold; }
    AllocationPanel .sum { height: 1; color: $text-muted; }
    AllocationPanel #alloc-status { height: auto; }
    """

    class DraftChanged(Message):
        """The draft changed (valid); ``decision`` is the validated draft."""

        def __init__(self, decision: Decision) -> None:
            super().__init__()
            self.decision = decision

    class DraftInvalid(Message):
        """A value holds text that is not a valid value: no draft to preview until it
        is fixed or discarded (the last valid draft is not what the field says)."""

    class Apply(Message):
        """The operator pressed enter: hold ``decision`` from now on."""

        def __init__(self, decision: Decision) -> None:
            super().__init__()
            self.decision = decision

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.baseline: Decision | None = None
        self.draft: Decision | None = None
        self._typing_base: Decision | None = None
        self.invalid: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static("[b]Allocation[/b] (next period)", markup=True)
        for f in edit.FIELDS:
            with Horizontal(classes="row"):
                yield Label(f.label)
                yield ValueInput(f.key, placeholder=glyph("ellipsis"))
                yield Label(unit_label(f.key), classes="unit")
            if f.key == f"c_split.{SPLIT_KEYS[-1]}":
                yield Label("", id="sum-c_split", classes="sum")
            if f.key == f"b_split.{SPLIT_KEYS[-1]}":
                yield Label("", id="sum-b_split", classes="sum")
        yield Static("", id="alloc-status")

    # ------------------------------------------------------------------ public
    @property
    def has_draft(self) -> bool:
        return self.draft is not None and self.baseline is not None and self.draft != self.baseline

    def set_baseline(self, decision: Decision, keep_draft: bool = False) -> None:
        """Show ``decision`` (the one the simulation holds); drop the draft unless asked."""
        self.baseline = decision
        if not keep_draft or self.draft is None:
            self.draft = decision
            self.invalid.clear()
        self._sync_inputs()
        self._set_status()

    def propose(self, decision: Decision) -> None:
        """Make ``decision`` the draft (previewed, not applied: enter applies it)."""
        self.invalid.clear()
        self._typing_base = None
        self._new_draft(decision)

    def shown_value(self, key: str, value: float, editing: bool = False) -> str:
        """Text of ``key``'s input: money (budget, prices) shortened like the tables
        (``300k``, :func:`~stratsim.format.fmt`) unless ``editing`` (then the raw value)."""
        if not editing and edit.FIELD_BY_KEY[key].maximum != 1.0 and abs(value) >= 1e4:
            return fmt(value)
        return edit.format_value(key, value)

    def input_for(self, key: str) -> ValueInput:
        return self.query_one(f"#value-{key.replace('.', '-')}", ValueInput)

    # ---------------------------------------------------------------- internal
    def _sync_inputs(self, skip: str | None = None) -> None:
        if self.draft is None:
            return
        for f in edit.FIELDS:
            if f.key == skip:
                continue
            inp = self.input_for(f.key)
            with inp.prevent(Input.Changed):
                inp.value = self.shown_value(
                    f.key, edit.get_value(self.draft, f.key), editing=inp.has_focus
                )
            inp.cursor_position = len(inp.value)
            if f.key not in self.invalid:
                inp.remove_class("-bad")
        for split in ("c_split", "b_split"):
            total = math.fsum(getattr(self.draft, split).values())
            bad = [edit.FIELD_BY_KEY[k].label for k in self.invalid if k.startswith(f"{split}.")]
            shown = f"sum {glyph('dash')} ({', '.join(bad)} invalid)" if bad else f"sum {total:.3f}"
            self.query_one(f"#sum-{split}", Label).update(f"{'':14}{shown}")

    def _set_status(self, text: str | None = None) -> None:
        if text is None:
            if self.invalid:
                text = "[b]invalid, not applied:[/b] " + safe("; ".join(self.invalid.values()))
            elif self.has_draft:
                text = "draft previewed: [b]enter[/b] apply, [b]esc[/b] discard"
            else:
                text = f"tab to a value; {glyph('up')}{glyph('down')} or + step, or type; enter applies"
        self.query_one("#alloc-status", Static).update(text)

    def _new_draft(self, decision: Decision, skip: str | None = None) -> None:
        try:
            decision.validate()
        except DecisionError as exc:
            self._set_status(f"[b]invalid, not applied:[/b] {safe(exc)}")
            return
        self.draft = decision
        self._sync_inputs(skip=skip)
        self._set_status()
        self.post_message(self.DraftChanged(decision))

    @on(ValueInput.Bump)
    def _on_bump(self, event: ValueInput.Bump) -> None:
        event.stop()
        if self.draft is None:
            return
        self.invalid.pop(event.key, None)
        self.input_for(event.key).remove_class("-bad")
        self._typing_base = None
        self._new_draft(edit.stepped(self.draft, event.key, event.direction))

    @on(Input.Changed)
    def _on_typed(self, event: Input.Changed) -> None:
        event.stop()
        inp = event.input
        if not isinstance(inp, ValueInput) or self.draft is None:
            return
        if self._typing_base is None:
            self._typing_base = self.draft
        try:
            value = edit.parse_value(inp.field_key, event.value)
        except DecisionError as exc:
            self.invalid[inp.field_key] = str(exc)
            inp.add_class("-bad")
            if self._typing_base is not None:
                # the other values go back to the last valid draft (not what a valid
                # prefix of this text rebalanced them to), and the sum says it is invalid
                self.draft = self._typing_base
                self._sync_inputs(skip=inp.field_key)
            self._set_status()
            self.post_message(self.DraftInvalid())
            return
        self.invalid.pop(inp.field_key, None)
        inp.remove_class("-bad")
        self._new_draft(
            edit.with_value(self._typing_base, inp.field_key, value), skip=inp.field_key
        )

    @on(Input.Submitted)
    def _on_submit(self, event: Input.Submitted) -> None:
        event.stop()
        self._typing_base = None
        if self.invalid:
            self._set_status()
            self.app.bell()
            return
        if self.draft is not None:
            self.post_message(self.Apply(self.draft))

    @on(ValueInput.Leave)
    def _on_leave(self, event: ValueInput.Leave) -> None:
        event.stop()
        self.discard_draft()

    def discard_draft(self) -> None:
        """Drop the draft (and invalid typed text), show the baseline, leave the values."""
        self._typing_base = None
        if self.baseline is not None:
            self.set_baseline(self.baseline)
            self.post_message(self.DraftChanged(self.baseline))
        self.screen.set_focus(None)

    def on_descendant_focus(self, event) -> None:
        widget = event.widget
        if (
            isinstance(widget, ValueInput)
            and self.draft is not None
            and widget.field_key not in self.invalid
        ):
            with widget.prevent(Input.Changed):  # the raw value while editing
                widget.value = edit.format_value(
                    widget.field_key, edit.get_value(self.draft, widget.field_key)
                )
            widget.select_all()

    def on_descendant_blur(self, event) -> None:
        self._typing_base = None
        widget = event.widget
        if (
            isinstance(widget, ValueInput)
            and self.draft is not None
            and widget.field_key not in self.invalid
        ):
            with widget.prevent(Input.Changed):
                widget.value = self.shown_value(
                    widget.field_key, edit.get_value(self.draft, widget.field_key)
                )
