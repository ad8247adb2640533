"""The session file of the TUI: save (``s``), save as (``a``), open (``o``), and the
"save first / discard / cancel" question before anything that would lose changes.

Saving copies trained models that live outside the target folder beside it first
(:func:`stratsim.engine.relocate.bring_models`), so the saved session opens again;
replacing a file that is not this session asks first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .autosave import describe_error
from .screens.dialogs import ChoiceDialog, FileDialog
from .text import printable, safe, shorten_path

if TYPE_CHECKING:
    from .app import StratsimApp


def existing_file_note(path: Path) -> str | None:
    """Why saving to ``path`` needs a confirmation (None: nothing there to lose): what
    the engine's output check says (a link, a file that is not a session), or that it
    is another stratsim session. Markup, escaped."""
    from ..engine import session as store
    from ..engine.errors import StratsimError
    from ..engine.fileio import read_toml
    from ..engine.outputs import output_problem

    if not path.exists() and not path.is_symlink():
        return None
    shown = safe(shorten_path(path, 60))
    problem = output_problem(path, store.SESSION_FILE)
    if problem is not None:
        return f"{shown} {safe(problem)}."
    try:
        doc = read_toml(path, StratsimError, "session")
    except StratsimError:
        return None  # an empty file or a stream: nothing to lose
    meta, run = doc.get("meta"), doc.get("run")
    if isinstance(meta, dict):
        period = run.get("period", "?") if isinstance(run, dict) else "?"
        name = safe(meta.get("name", "?"))
        return f"{shown} is another stratsim session ({name}, Period {safe(period)})."
    return None


class SessionFile:
    """Save, save as, open and the discard question for ``app`` (a StratsimApp)."""

    def __init__(self, app: StratsimApp) -> None:
        self.app = app

    # ------------------------------------------------------------------ save
    def save(self) -> None:
        """Save to the session file (asks for a name the first time)."""
        if self.app.session_path is None:
            self.save_as()
            return
        self.save_to(self.app.session_path)

    def save_to(
        self, path: Path, then: Callable[[], object] | None = None, *, replace: bool = False
    ) -> bool:
        """Save the session to ``path``; on error show it and keep everything as is.

        ``replace``: the operator confirmed replacing a file that is not this session
        (passed on as the store's ``force``). ``then`` runs after a successful save.
        """
        from ..engine import session as store
        from ..engine.relocate import bring_models

        app = self.app
        sim = app.sim
        moved: list[tuple[Path, Path]] = []
        try:
            moved = bring_models(sim, path)
            store.save_session(
                sim, path, name=app.session_name, created=app.session_created, force=replace
            )
        except Exception as exc:
            for model in (sim.satisfaction_model, sim.privacy_model):
                for src, dest in moved:
                    if getattr(model, "path", None) == dest.resolve():
                        model.path = src
            app.error_dialog(
                "Not saved",
                f"{describe_error(exc, path)}\n\nChoose another file with a (save as).",
            )
            return False
        for src, dest in moved:
            app.note(f"copied the model {printable(src)} to {printable(dest)} (beside the session)")
        app.autosaver.remove_own()
        app.session_path = Path(path)
        app.autosaver.take_claim()
        app.dirty = False
        app.note(f"saved {printable(path)} (Period {sim.period})")
        if moved:
            app.notify(
                f"Saved; {len(moved)} model file(s) copied beside it so it opens again", timeout=6
            )
        app.autosaver.install_signal_autosave()
        if then is not None:
            then()
        return True

    def save_as(self, then: Callable[[], object] | None = None) -> None:
        """Ask for a file name and save there (asks before replacing another file)."""
        app = self.app
        initial = str(app.session_path) if app.session_path else str(Path.cwd() / "session.toml")

        def chosen(path: Path | None) -> None:
            if path is None:
                return
            if path.suffix == "":
                path = path.with_suffix(".toml")
            if path.is_dir() or not path.parent.is_dir():
                error = (
                    f"{path}: the folder {path.parent} does not exist (or it is a folder); "
                    "choose another path"
                )
                app.push_screen(FileDialog("Save session as", str(path), error=error), chosen)
                return
            current = app.session_path
            same = (
                current is not None
                and path.resolve() == Path(current).resolve()
                and not path.is_symlink()
            )
            why = None if same else existing_file_note(path)
            if why is None:
                self.save_to(path, then)
                return

            def confirm(choice: str | None) -> None:
                if choice == "r":
                    self.save_to(path, then, replace=True)
                elif choice == "o":
                    app.push_screen(FileDialog("Save session as", str(path)), chosen)

            choices = [("r", "r Replace"), ("o", "o Other name"), ("c", "esc Cancel")]
            app.push_screen(ChoiceDialog(f"{why}\nReplace it with this session?", choices), confirm)

        app.push_screen(FileDialog("Save session as", initial), chosen)

    # ------------------------------------------------------------------ open
    def open(self) -> None:
        """Open a session file (asks first if there are unsaved changes)."""
        app = self.app
        if app.busy:
            app.notify(f"Cannot open while {app.busy}", severity="warning")
            return

        def pick() -> None:
            def chosen(path: Path | None) -> None:
                if path is None:
                    return
                if not path.is_file():
                    error = f"{path}: no such file"
                    app.push_screen(FileDialog("Open session", str(path), error=error), chosen)
                    return
                app.note(f"opening {printable(path)}")
                app.busy = "loading"
                app.load_engine(path)

            folder = app.session_path.parent if app.session_path else Path.cwd()
            app.push_screen(FileDialog("Open session", f"{folder}/"), chosen)

        self.confirm_discard("Open another session", pick)

    # ------------------------------------------------------------------ discard
    def confirm_discard(self, what: str, proceed: Callable[[], object]) -> None:
        """Call ``proceed`` now when nothing would be lost; otherwise ask: save first,
        discard, or cancel. A run, replay or training in progress always asks (it is
        stopped first, then saved or not)."""
        app = self.app
        if not app.dirty and not app.working():
            proceed()
            return

        def save_then(after: Callable[[], object]) -> None:
            if app.session_path is None:
                self.save_as(then=after)
            else:
                self.save_to(app.session_path, then=after)

        def answer(choice: str | None) -> None:
            if choice not in ("s", "d"):
                return
            main = app.main
            if main is not None and main.queued:
                main.ignore_queue(what.lower())
            if app.working() and not (choice == "d" and proceed == app.quit_now):
                # (quit and discard: nothing to wait for; quit_now stops what runs and
                # bounds the exit, so a replay at 1M paths that cannot stop mid-period
                # does not hold the terminal for half a minute)
                app.note(f"stopping ({app.working()}) before: {what.lower()}")
                app.stop_jobs()
                app.when_idle(
                    lambda: save_then(proceed) if choice == "s" else (self.discard(), proceed())
                )
            elif choice == "s":
                save_then(proceed)
            else:
                self.discard()
                proceed()

        def question() -> str:  # computed again while shown: a run goes on behind it
            working = app.working()
            period = app.sim.period if app.sim is not None else 0
            state = (
                f"is {safe(working)} (Period {period}); it will be stopped"
                if working
                else f"has unsaved changes (Period {period})"
            )
            return f"{what}: the session [b]{safe(app.session_label())}[/b] {state}."

        choices = [("s", "s Save first"), ("d", "d Discard changes"), ("c", "esc Cancel")]
        app.push_screen(ChoiceDialog(question(), choices, live=question), answer)

    def discard(self) -> None:
        """The operator chose "Discard changes": nothing is unsaved any more, and this
        instance's autosave (which holds exactly those changes) is removed, so it is not
        offered for recovery at the next start."""
        self.app.dirty = False
        self.app.autosaver.remove_own()
