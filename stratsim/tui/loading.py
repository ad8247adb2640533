"""Loading the engine in a worker: the simulation of a new session, a session file, or
an autosave to recover; then what the App does once it is ready (or failed).

torch is imported in the worker (``import torch`` takes most of a second), after the
first frame. On start, this instance's autosave slot is claimed first, then autosaves
left by instances that ended are offered for recovery (keys 1..9, ``i`` ignores).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .autosave import UNTITLED
from .branches import session_branches
from .messages import EngineReady
from .text import printable, safe, shorten_path

if TYPE_CHECKING:
    from ..engine.instances import RecoveryCandidate
    from ..engine.simulation import Simulation
    from .app import StratsimApp


class EngineLoader:
    """Loads the engine for ``app``; ``loading`` is ``(path, startup)`` of the last load
    (the path names a failure; ``startup``: the session given on the command line)."""

    def __init__(self, app: StratsimApp) -> None:
        self.app = app
        self.loading: tuple[Path | None, bool] = (None, False)

    def load(self, path: Path | None, startup: bool = False) -> None:
        """Import the engine and build the simulation (or load ``path``) in a worker."""
        app = self.app
        self.loading = (path, startup)
        app.run_worker(
            lambda: self._load(path, startup),
            thread=True, exclusive=True, exit_on_error=False, group="engine",
        )  # fmt: skip

    def _load(self, path: Path | None, startup: bool) -> None:
        import torch  # noqa: F401  (the slow import, off the UI thread)

        from ..engine import session as store

        app = self.app

        recovery = None
        check = startup and app.options.check_recovery
        if path is not None:
            recovery = app.autosaver.claim_for_startup(Path(path)) if check else None
            if Path(path).exists() or recovery is None:
                device = None if app.options.device == "auto" else app.options.device
                loaded = store.load_session(path, device=device)
                notes = loaded.warnings + loaded.simulation.model_warnings()
                app.post_message(
                    EngineReady(loaded.simulation, Path(path), notes, recovery, meta=loaded.meta)
                )
                return
        sim = self._new_simulation()
        if check and path is None:
            recovery = app.autosaver.claim_for_startup(Path.cwd() / UNTITLED)
        app.post_message(EngineReady(sim, path, [], recovery))

    def _new_simulation(self) -> Simulation:
        from ..engine.scenario import load_scenario
        from ..engine.simulation import Simulation

        app = self.app
        scenario = load_scenario(app.options.scenario)
        return Simulation(
            scenario,
            seed=app.options.seed,
            n_paths=app.options.paths,
            device=app.options.device,
            policy="fixed",
        )

    def ready(self, message: EngineReady) -> None:
        """The simulation is built or loaded: take it over, then offer recovery or run
        the keys queued meanwhile."""
        app = self.app
        first = not app.engine_ready
        app.engine_ready = True
        meta = message.meta
        app.session_name = meta.name if meta is not None else None
        app.session_created = meta.created if meta is not None else None
        app.session_path = message.session_path
        app.autosaver.stable = None
        claim, app.autosaver.startup_claim = app.autosaver.startup_claim, None
        app.autosaver.take_claim(claim)
        app.branches = session_branches(message.sim)
        app.compare_with = next(reversed(app.branches), None)  # the last kept, if any
        app.sim = message.sim
        app.dirty = message.unsaved
        app.busy = ""
        for line in message.notes:
            app.note(line, "warning")
        scenario = app.options.scenario
        where = (
            f"opened {printable(message.session_path)}"
            if message.session_path
            else "new session on the default scenario"
            if scenario is None
            else f"new session on {scenario}"
        )
        sim = message.sim
        app.note(
            f"engine ready: {where}; Period {sim.period}/{sim.horizon}, "
            f"{sim.n_paths} paths on {sim.device}"
        )
        app.autosaver.install_signal_autosave()
        if app.main is not None:
            app.main.sim_replaced()
        if os.environ.get("STRATSIM_EXIT_ON_READY") == "engine":
            app.exit()
            return
        self._after_ready(message, first)

    def _after_ready(self, message: EngineReady, first: bool) -> None:
        app = self.app
        recovered = message.recovered_from
        claim = app.autosaver.claim
        if recovered is not None and app.autosaver.save() and claim and recovered != claim.path:
            # now held in this instance's own autosave: the file recovered from goes
            with contextlib.suppress(OSError):
                Path(recovered).unlink()
        if first and message.recovery:
            if app.main is not None and app.main.queued:
                app.main.ignore_queue("an autosave to recover comes first")
            self._offer_recovery(list(message.recovery))
        elif app.main is not None:
            app.main.drain_queue()

    def failed(self, error: str) -> None:
        """Loading failed (``error``: one line): a bad session given on the command line
        falls back to a new session; otherwise the current one stays."""
        app = self.app
        path, startup = self.loading
        app.busy = ""
        if startup and app.sim is None and path is not None:
            app.error_dialog(
                "Cannot open the session",
                f"{error}\n\nStarting a new session on the default scenario instead; "
                "fix the file and open it with o, or start `stratsim tui FILE` again.",
            )
            app.session_path = None
            app.load_engine(None, startup=False)
            return
        if app.main is not None and app.main.queued:
            app.main.ignore_queue("the engine failed")
        if app.sim is None:
            app.error_dialog(
                "Cannot start the engine", f"{error}\n\nCheck --scenario/--device, then restart."
            )
            return
        app.error_dialog(
            "Cannot open the session", f"{error}\n\nYour current session is unchanged."
        )

    def _offer_recovery(self, candidates: list[RecoveryCandidate]) -> None:
        """Ask which autosave to recover, if any: each with the period and time it holds.
        Keys 1..9 recover, ``i`` or esc ignores (never ``n``: Step's key, pressed out of
        habit as the dialog appears, must not dismiss it unseen)."""
        from .screens.dialogs import ChoiceDialog

        app = self.app
        shown = candidates[:9]
        lines = "\n".join(f"{i}  {safe(c.describe())}" for i, c in enumerate(shown, start=1))
        folder = safe(shorten_path(shown[0].path.parent, 50))

        def answer(choice: str | None) -> None:
            if choice and choice.isdigit() and 1 <= int(choice) <= len(shown):
                chosen = shown[int(choice) - 1]
                app.note(f"recovering {printable(chosen.path)}")
                app.busy = "loading"
                self._open_recovery(chosen.path)
            else:
                app.note(f"autosave not recovered (it stays on disk: {printable(shown[0].path)})")
                if app.main is not None:
                    app.main.drain_queue()

        many = len(shown) > 1
        keys = [(str(i), f"{i} Recover" if many else "1 Recover") for i in range(1, len(shown) + 1)]
        question = (
            f"{'Autosaves' if many else 'An autosave'} newer than the session "
            f"{'were' if many else 'was'} found in {folder}:\n{lines}\n"
            f"Recover {'one' if many else 'it'}?"
        )
        app.push_screen(ChoiceDialog(question, [*keys, ("i", "i Ignore")]), answer)

    def _open_recovery(self, autosave: Path) -> None:
        app = self.app
        self.loading = (autosave, False)

        def load() -> None:
            from ..engine import session as store

            loaded = store.load_session(autosave)
            recovered = (
                f"recovered from {printable(autosave)}: save (s) to keep it in the session file"
            )
            app.post_message(
                EngineReady(
                    loaded.simulation, app.session_path, [*loaded.warnings, recovered],
                    meta=loaded.meta, unsaved=True, recovered_from=autosave,
                )
            )  # fmt: skip

        app.run_worker(load, thread=True, exclusive=True, exit_on_error=False, group="engine")
