"""Modal dialogs: file (save as / open), choices (quit, recovery), messages, branch.

Every dialog works from the keyboard alone: ``enter`` confirms the focused input or
button, ``escape`` cancels, ``tab`` moves between fields.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, DirectoryTree, Input, Label, OptionList, Static

from ..glyphs import glyph
from ..text import printable, safe


class PathSuggester(Suggester):
    """Completes a filesystem path: the first entry of the typed folder that starts
    with the typed name (folders get a trailing ``/``). Accept with ``right``/``end``."""

    def __init__(self, suffixes: tuple[str, ...] = (".toml",)) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.suffixes = suffixes

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        path = Path(value).expanduser()
        folder, stem = (path, "") if value.endswith("/") else (path.parent, path.name)
        try:
            names = sorted(
                p
                for p in folder.iterdir()
                if p.name.startswith(stem) and not p.name.startswith(".")
            )
        except OSError:
            return None
        for p in names:
            if p.is_dir() or p.suffix in self.suffixes:
                tail = p.name[len(stem) :] + ("/" if p.is_dir() else "")
                return value + tail if tail else None
        return None


class TomlTree(DirectoryTree):
    """A DirectoryTree showing folders and ``.toml`` files only, with the icons of
    :mod:`stratsim.tui.glyphs` (ASCII ones in ASCII mode: Textual's emoji became ``??``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ICON_NODE, self.ICON_NODE_EXPANDED, self.ICON_FILE = (
            glyph("folder"),
            glyph("folder_open"),
            glyph("file"),
        )

    def filter_paths(self, paths):
        return [
            p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix == ".toml")
        ]


class FileDialog(ModalScreen[Path | None]):
    """Ask for a session file path; returns the path (not checked) or None. Any name
    the filesystem takes is kept as typed (spaces, ``;``, ``$()``, non-ASCII)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    FileDialog { align: center middle; }
    FileDialog > Vertical { width: 76; height: 20; border: thick $accent; background: $surface; padding: 0 1; }
    FileDialog TomlTree { height: 1fr; }
    FileDialog Label { width: 1fr; height: auto; }
    FileDialog Input { margin: 0; }
    FileDialog #file-error { color: $error; height: auto; }
    """

    def __init__(
        self, title: str, initial: str = "", root: Path | None = None, error: str = ""
    ) -> None:
        super().__init__()
        self.title_text = title
        self.initial = initial
        self.root = root or Path.cwd()
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                f"[b]{self.title_text}[/b]  (enter: ok, esc: cancel, →: complete, tab: browse)"
            )
            yield Input(
                self.initial,
                placeholder="path/to/session.toml",
                suggester=PathSuggester(),
                id="file-path",
            )
            yield Static(printable(self.error), id="file-error", markup=False)
            yield TomlTree(self.root, id="file-tree")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_key(self, event) -> None:
        """A character typed while the folder tree has the focus (after ``tab``, or keys
        of a burst that arrived while ``tab`` moved the focus) goes into the path, so
        no typed character is lost; the tree keeps its arrows and enter."""
        inp = self.query_one(Input)
        if self.focused is not inp and event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            inp.select_on_focus = False  # (selecting all would let the next key replace it)
            inp.focus()
            inp.insert_text_at_cursor(event.character)

    @on(Input.Submitted, "#file-path")
    def _submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.query_one("#file-error", Static).update("Type a file name, e.g. session.toml")
            return
        self.dismiss(Path(text).expanduser())

    @on(DirectoryTree.FileSelected)
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        inp = self.query_one(Input)
        inp.value = str(event.path)
        inp.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceDialog(ModalScreen[str]):
    """A question with buttons; returns the chosen key (``escape``: ``cancel``).

    ``question`` is markup: callers escape what comes from the operator or a file
    (:func:`stratsim.tui.text.safe`). ``choices`` is a list of ``(key, label)``; each key
    is also a keyboard shortcut when it is a single character.
    """

    BINDINGS = [Binding("escape", "choose('cancel')", "Cancel")]
    DEFAULT_CSS = """
    ChoiceDialog { align: center middle; }
    ChoiceDialog > Vertical { width: 64; height: auto; border: thick $accent; background: $surface; padding: 1 2; }
    ChoiceDialog Horizontal { height: auto; margin-top: 1; }
    ChoiceDialog Button { margin-right: 1; min-width: 0; }
    """

    def __init__(
        self, question: str, choices: list[tuple[str, str]], live: Callable[[], str] | None = None
    ) -> None:
        """``live``: when given, called every 0.25 s while shown to recompute the question
        (markup, escaped like ``question``): the state it describes can change behind
        the dialog (a run to the horizon goes on)."""
        super().__init__()
        self.question = question
        self.choices = choices
        self.live = live

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="choice-question")
            with Horizontal():
                for key, label in self.choices:
                    yield Button(label, id=f"choice-{key}", compact=True)

    def on_mount(self) -> None:
        self.query(Button).first().focus()
        if self.live is not None:
            self.set_interval(0.25, self._refresh_question)

    def _refresh_question(self) -> None:
        text = self.live()
        if text != self.question:
            self.question = text
            self.query_one("#choice-question", Static).update(text)

    def on_key(self, event) -> None:
        for key, _ in self.choices:
            if event.character == key and len(key) == 1:
                event.stop()
                self.dismiss(key)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id.removeprefix("choice-"))

    def action_choose(self, key: str) -> None:
        self.dismiss(key)


class MessageDialog(ModalScreen[None]):
    """An error or information message with what to do; any of enter/escape closes."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("enter", "close", "Close")]
    DEFAULT_CSS = """
    MessageDialog { align: center middle; }
    MessageDialog > Vertical { width: 70; height: auto; max-height: 90%; border: thick $error; background: $surface; padding: 1 2; }
    """

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]{safe(self.title_text)}[/b]")
            yield Static(self.text, markup=False)
            yield Static("[dim]enter or esc to close[/dim]")

    def action_close(self) -> None:
        self.dismiss(None)


class BranchDialog(ModalScreen[tuple[str, str] | None]):
    """Keep the current run as a named branch, or pick a branch to compare / restore.

    Returns ``("keep", name)``, ``("compare", name)``, ``("restore", name)`` or None.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    BranchDialog { align: center middle; }
    BranchDialog > Vertical { width: 64; height: auto; max-height: 20; border: thick $accent; background: $surface; padding: 0 1; }
    BranchDialog Label { width: 1fr; height: auto; }
    BranchDialog OptionList { height: auto; max-height: 8; }
    BranchDialog Horizontal { height: auto; }
    BranchDialog Button { margin-right: 1; }
    """

    def __init__(self, branches: list[str], suggested: str) -> None:
        super().__init__()
        self.branches = branches
        self.suggested = suggested

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                "[b]Branches[/b]: name + enter keeps the current run; pick one to compare "
                "or restore; esc cancels"
            )
            yield Input(self.suggested, placeholder="branch name", id="branch-name")
            if self.branches:
                yield OptionList(*(Text(printable(b)) for b in self.branches), id="branch-list")
                with Horizontal():
                    yield Button("Compare", id="branch-compare", compact=True)
                    yield Button(
                        "Restore (replay its decisions)", id="branch-restore", compact=True
                    )

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _keep(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if name:
            self.dismiss(("keep", name))

    def _selected(self) -> str | None:
        ol = self.query_one(OptionList)
        return self.branches[ol.highlighted] if ol.highlighted is not None else None

    @on(OptionList.OptionSelected)
    def _compare_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(("compare", self.branches[event.option_index]))

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        name = self._selected() or (self.branches[-1] if self.branches else None)
        if name:
            self.dismiss(("compare" if event.button.id == "branch-compare" else "restore", name))

    def action_cancel(self) -> None:
        self.dismiss(None)
