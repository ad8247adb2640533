"""The main screen's jobs on the simulation: a step, the run to the horizon, replays
(undo, restore, a model swap) and training, each in a thread worker on the App.

Groups: ``sim`` (the run and replays; only one at a time, ``app.busy`` says which, so
the simulation is never touched by two threads) and ``training`` (cancellable with
``x`` at any batch). Workers post :mod:`stratsim.tui.messages`, throttled to about 10
per second; a worker that raises is reported by the App's one failure handler to
:meth:`SimJobs.failed`. While a replay runs, the state before it is kept
(``app.autosaver.stable``) for a signal autosave.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .autosave import describe_error
from .messages import RunProgress, SimJobDone, TrainFinished, TrainUpdate
from .text import printable

if TYPE_CHECKING:
    from textual.worker import Worker

    from ..engine.simulation import Simulation
    from .screens.main import MainScreen
    from .training_job import TrainOutcome, TrainRequest

#: The run worker's name (its failure ends the run; other ``sim`` jobs are replays).
RUN = "run to the horizon"


class SimJobs:
    """Starts and finishes the jobs of ``screen`` (the main screen)."""

    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self._request: TrainRequest | None = None
        self._switch_interval = sys.getswitchinterval()

    @property
    def _app(self):
        return self.screen.app

    # ------------------------------------------------------------------ step
    def step_now(self) -> None:
        """Simulate one period on the UI thread (fast: one vectorized step)."""
        app = self._app
        if app.sim is None or app.busy:
            return
        summary = app.sim.step()
        app.dirty = True
        app.note(self.step_line(summary))
        app.autosaver.save()
        self.screen.reached()
        self.screen.refresh_all()

    def step_line(self, summary: dict) -> str:
        """The Log line of a period: MRR with P10/P90, cash, policy."""
        from ..format import fmt

        sim, mrr = self._app.sim, summary["mrr"]
        return (
            f"Period {sim.period}: MRR {fmt(mrr['mean'])} (P10 {fmt(mrr['p10'])}, "
            f"P90 {fmt(mrr['p90'])}), cash {fmt(summary['cash']['mean'])}, policy {sim.policy_name}"
        )

    # ------------------------------------------------------------------ run
    def run_now(self) -> None:
        app = self._app
        if app.sim is None or app.busy:
            return
        sim = app.sim
        steps = sim.horizon - sim.period
        if steps <= 0:
            app.notify(
                f"Already at the horizon (Period {sim.period}); n steps beyond it",
                severity="information",
            )
            return
        app.autosaver.stable = None  # the live run stays consistent between periods
        app.run_stop.clear()
        app.busy = "running"
        app.note(
            f"running {steps} periods to the horizon with policy {sim.policy_name} (x cancels)"
        )
        self.screen.panes.refresh()
        app.run_worker(
            lambda: self._run(steps), thread=True, exit_on_error=False, group="sim", name=RUN
        )

    def _run(self, steps: int) -> None:
        from textual.worker import get_current_worker

        worker, app, screen = get_current_worker(), self._app, self.screen
        last = [0.0]

        def on_step(period: int, summary: object) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.1:
                last[0] = now
                screen.post_message(RunProgress(period))

        stop = app.run_stop
        app.sim.run(
            steps, on_step=on_step, should_stop=lambda: worker.is_cancelled or stop.is_set()
        )
        screen.post_message(RunProgress(app.sim.period, done=True))

    def run_progress(self, message: RunProgress) -> None:
        app = self._app
        if not message.done:
            app.dirty = True  # periods simulated and not saved yet: quitting asks
            history = list(app.sim.history)
            self.screen.show_header()
            self.screen.panes.show_kpis(history)
            self.screen.panes.show_busy(history)
            return
        self._run_finished(None)

    def _run_finished(self, error: str | None) -> None:
        app = self._app
        app.busy = ""
        app.dirty = True
        if error:
            app.error_dialog(
                "The run stopped", f"{error}\n\nThe periods simulated so far are kept."
            )
        else:
            app.note(
                f"run {'cancelled' if app.run_stop.is_set() else 'finished'} at Period {app.sim.period}"
            )
            if app.sim.history:
                app.note(self.step_line(app.sim.history[-1]))
        app.autosaver.save()
        self.screen.reached()
        self.screen.refresh_all()
        self.screen.drain_queue()

    # ------------------------------------------------------------------ replays
    def sim_job(self, fn: Callable[[Simulation], object], label: str, busy: str) -> None:
        """Run ``fn(sim)`` in the sim worker (replays can take a while), then refresh."""
        from ..engine import session as store

        app = self._app
        app.autosaver.stable = store.snapshot(app.sim)
        app.busy = busy
        screen, sim = self.screen, app.sim

        def work() -> None:
            fn(sim)
            screen.post_message(SimJobDone(label))

        # Not exclusive: ``busy`` already keeps it to one job at a time, and an exclusive
        # start from a queued key would cancel the job that is just reporting its end.
        app.run_worker(work, thread=True, exit_on_error=False, group="sim", name=label)

    def sim_job_done(self, label: str, error: str | None) -> None:
        app = self._app
        app.autosaver.stable = None
        self.screen.panes.forget_preview()
        app.busy = ""
        if error:
            app.error_dialog(
                f"Could not {label}", f"{error}\n\nThe simulation is as it was before."
            )
            if self.screen.queued:
                self.screen.ignore_queue(f"could not {label}")
        else:
            app.dirty = True
            app.note(f"{label}: now Period {app.sim.period}")
            app.autosaver.save()
        self.screen.refresh_all()
        self.screen.drain_queue()

    def failed(self, worker: Worker, error: Exception) -> None:
        """A ``sim`` or ``training`` worker raised."""
        if worker.group == "training":
            path = self._request.data_path if self._request is not None else None
            self.training_failed(describe_error(error, path))
        elif worker.name == RUN:
            self._run_finished(describe_error(error, None))
        else:
            self.sim_job_done(worker.name, describe_error(error, None))

    # ------------------------------------------------------------------ training
    def ask_training(self) -> None:
        """The training dialog, then training in a worker."""
        from .screens.train_dialog import TrainDialog

        app = self._app
        if app.sim is None:
            app.notify("The engine is still loading", severity="warning")
            return
        if app.training:
            app.notify("Training already running: x cancels it", severity="warning")
            return

        def chosen(request: TrainRequest | None) -> None:
            if request is not None:
                self.start_training(request)

        opts = app.options
        dialog = TrainDialog(epochs=opts.train_epochs, seed=opts.seed, device=opts.device)
        app.push_screen(dialog, chosen)

    def start_training(self, request: TrainRequest) -> None:
        """Start training ``request`` in the training worker."""
        from .training_job import Coalescer, run_training

        app, screen = self._app, self.screen
        self._request = request
        app.train_stop.clear()
        app.training = True
        # Hand the GIL over more often while the training thread runs (default 5 ms):
        # key presses then wait ~1 ms for the interpreter instead of ~5 ms per handoff.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)
        screen.tabs.active = "tab-training"
        screen.training_pane.begin(request.label)
        app.note(f"training {printable(request.label)} (max {request.epochs} epochs; x cancels)")
        models_dir, stop = app.models_dir(), app.train_stop

        def work() -> None:
            from textual.worker import get_current_worker

            worker = get_current_worker()
            coalesce = Coalescer(lambda events: screen.post_message(TrainUpdate(events)))
            try:
                outcome = run_training(request, models_dir, coalesce, stop)
            finally:
                coalesce.flush()
            cancelled = outcome.cancelled or worker.is_cancelled
            screen.post_message(TrainFinished(outcome, cancelled=cancelled))

        app.run_worker(work, thread=True, exclusive=True, exit_on_error=False, group="training")

    def _training_ended(self) -> None:
        self._app.training = False
        sys.setswitchinterval(self._switch_interval)

    def training_failed(self, error: str) -> None:
        """Training raised: the pane and a dialog say why; the model is unchanged."""
        self._training_ended()
        self.screen.training_pane.finish(f"failed: {error}", progress_full=False)
        self._app.error_dialog(
            "Training failed",
            f"{error}\n\nThe simulation keeps its current model. Check the data file, "
            "the column mapping and the target, or train on the sample data (leave the path empty).",
        )

    def training_finished(self, outcome: TrainOutcome, cancelled: bool) -> None:
        """Training ended: show the metrics and use the model (unless cancelled)."""
        app, pane = self._app, self.screen.training_pane
        self._training_ended()
        if cancelled:
            pane.finish("cancelled: the simulation keeps its current model", progress_full=False)
            label = outcome.request.label
            app.note(
                f"training {label} cancelled after {outcome.epochs_run} epochs; model unchanged",
                "warning",
            )
            return
        metrics = outcome.metrics_text()
        coef = ""
        if outcome.coefficients:
            coef = "\ncoefficients: " + "  ".join(
                f"{k} {v:.3g}" for k, v in outcome.coefficients.items()
            )
        ended = "early-stopped" if outcome.stopped_early else "done"
        text = f"{ended} after {outcome.epochs_run} epochs in {outcome.seconds:.1f}s; test {metrics}{coef}"
        if outcome.saved is not None:
            text += f"\nsaved {outcome.saved.weights}"
        pane.finish(text, progress_full=True)
        for w in outcome.warnings:
            app.note(w, "warning")
        app.note(f"trained {outcome.request.label}: test {metrics}")
        self.use_model(outcome)

    def use_model(self, outcome: TrainOutcome) -> None:
        """Offer the trained model (:func:`stratsim.tui.screens.adopt_dialog.offer_model`):
        from the next period, re-simulate the whole history, or keep the current one."""
        from .screens.adopt_dialog import offer_model

        app = self._app
        model = outcome.model
        where = str(outcome.saved.weights) if outcome.saved is not None else app.model_label(model)
        offer_model(app, outcome.request.role, model, where)
