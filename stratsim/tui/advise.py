"""The Advise tab: the optimizer (:mod:`stratsim.engine.analysis.optimize`) from the keyboard.

Keys while the pane has focus (``v`` opens the tab and focuses its table; arrows scroll it):

* ``g``: optimize the levers of the current draft (or the policy's next decision) from the
  simulation's current state over the months left to the horizon (refused, with a
  message, at or past the horizon: there is no month left to optimize):
  gradient ascent through the relaxed simulation, the draft as the starting point, on up to
  :data:`ADVISE_PATHS` of the run's paths, :data:`ADVISE_BUDGET` evaluations; then both are
  re-simulated exactly on fresh shocks and compared KPI by KPI (P10..P90 bands, Δ with a
  95% paired bootstrap interval).
* ``f``: the efficient frontier (:data:`FRONTIER_POINTS` risk weights), drawn as mean NPV
  against CVaR10.
* ``x``: cancel (the best allocation found so far is still evaluated and shown).
* ``c``: copy the recommendation into the Run tab's draft; nothing is applied before
  ``enter`` there, as for any draft.

The optimizer runs in a thread worker started on the App (group ``advise``); it never
touches the simulation (the start state is copied on the UI thread) and posts
:class:`AdviseProgress` at most ~10 times a second. Each finished run is recorded in the
session (``[[optimizations]]``: settings, seed, result).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, ProgressBar, Static
from textual_plotext import PlotextPlot

from ..format import MONEY, fmt  # the number format the KPI tables use
from . import glyphs
from .glyphs import glyph

if TYPE_CHECKING:
    from ..engine.analysis.optimize import Progress
    from ..engine.analysis.recommend import FrontierPoint, Recommendation

ADVISE_PATHS = 500
ADVISE_BUDGET = 40
FRONTIER_POINTS = 4
_MAX_TRACE = 1000


@dataclass
class AdviseProgress(Message):
    """Optimizer progress, or the end of the run.

    Attributes:
        kind: ``optimize`` or ``frontier``.
        progress: the search's latest progress report (while ``done`` is False).
        done: True once the run ended (with ``result`` or ``error``).
        result: ``(outcome, period)``: the Recommendation (``optimize``) or the frontier's
            ``(points, current)`` (``frontier``), and the simulation period it started at.
        error: the failure's message, or None.
    """

    kind: str = "optimize"
    progress: Progress | None = None
    done: bool = False
    result: tuple[Recommendation | tuple[list[FrontierPoint], FrontierPoint], int] | None = None
    error: str | None = None


def _fmt(v: float) -> str:
    return fmt(v)


class AdvisePane(Vertical, can_focus=True):
    """Progress, the recommendation against the draft, and a chart (trace or frontier)."""

    BINDINGS = [
        Binding("g", "optimize", "Optimize"),
        Binding("f", "frontier", "Frontier"),
        Binding("x", "stop", "Stop"),
        Binding("c", "copy", "Copy to draft"),
    ]

    DEFAULT_CSS = """
    AdvisePane { height: 1fr; }
    AdvisePane:focus { background-tint: $accent 5%; }
    AdvisePane #advise-title { height: 1; text-style: bold; }
    AdvisePane ProgressBar { height: 1; }
    AdvisePane #advise-stats { height: 1; }
    AdvisePane DataTable { height: 1fr; min-height: 5; }
    AdvisePane PlotextPlot { height: 7; min-height: 5; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.running = False
        self.stop_event = threading.Event()
        self.trace: list[tuple[int, float, float]] = []
        self.recommendation: Any = None
        self.frontier: Any = None
        self.base: Any = None

    def compose(self) -> ComposeResult:
        yield Static(
            "Advise: [b]g[/b] optimize  [b]f[/b] frontier  [b]x[/b] stop  [b]c[/b] copy to draft",
            id="advise-title",
        )
        yield ProgressBar(total=100, show_eta=False, id="advise-progress")
        yield Static("", id="advise-stats")
        yield DataTable(id="advise-table", zebra_stripes=True, cursor_type="row")
        yield PlotextPlot(id="advise-chart")

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for label in (
            "KPI",
            "draft",
            "recommended",
            glyph("delta"),
            "sig",
            f"95% CI of {glyph('delta')}",
            "draft P10..P90",
            "rec. P10..P90",
        ):
            t.add_column(label, key=label)

    # ----------------------------------------------------------------- actions
    def _ready(self, what: str) -> Any:
        app = self.app
        sim = getattr(app, "sim", None)
        if sim is None:
            app.notify(f"Cannot {what} yet: the engine is still loading", severity="warning")
            return None
        if self.running or getattr(app, "busy", ""):
            app.notify(
                f"Cannot {what} now: {'optimizing (x stops)' if self.running else app.busy}",
                severity="warning",
            )
            return None
        return sim

    def _base(self, sim: Any) -> Any:
        from .widgets.allocation import AllocationPanel

        try:
            panel = self.screen.query_one(AllocationPanel)
        except Exception:
            panel = None
        draft = getattr(panel, "draft", None) if panel is not None else None
        return (
            draft
            if draft is not None and not getattr(panel, "invalid", None)
            else sim.next_decision()
        )

    def action_optimize(self) -> None:
        self._start("optimize")

    def action_frontier(self) -> None:
        self._start("frontier")

    def _start(self, kind: str) -> None:
        sim = self._ready("optimize" if kind == "optimize" else "trace the frontier")
        if sim is None:
            return
        from ..engine.analysis import optimize as O
        from ..engine.analysis import recommend as R

        if sim.period >= sim.horizon:
            self.app.notify(
                f"Period {sim.period} is at or past the horizon ({sim.horizon}): no month left to optimize",
                severity="warning",
            )
            return
        base = self._base(sim)
        steps = sim.horizon - sim.period
        paths = min(ADVISE_PATHS, sim.n_paths)
        settings = R.OptimizeSettings(
            paths=paths,
            seed=sim.seed,
            budget_evals=ADVISE_BUDGET if kind == "optimize" else ADVISE_BUDGET // 2,
            eval_seed=sim.seed + 1,
        )
        # Copy the start state here, on the UI thread: the worker never touches the simulation.
        start = O.start_from_simulation(sim, paths=paths, steps=steps, tag=f"optimize:{sim.seed}")
        eval_start = O.start_from_simulation(
            sim, paths=min(2 * paths, sim.n_paths), steps=steps, tag=f"optimize:{sim.seed + 1}"
        )
        self.base, self.running, self.trace = base, True, []
        self.stop_event.clear()
        self.recommendation = None if kind == "optimize" else self.recommendation
        self.query_one("#advise-title", Static).update(
            f"{'Optimizing' if kind == 'optimize' else 'Frontier'} from period {sim.period}: {steps} months, {paths} paths, "
            f"at most {settings.budget_evals} evaluations ([b]x[/b] stops)"
        )
        self.query_one(ProgressBar).update(total=100, progress=0)
        app = self.app
        period = sim.period
        stop = self.stop_event

        def work() -> None:
            last = [0.0]

            def on_progress(p: Any) -> None:
                now = time.monotonic()
                if now - last[0] >= 0.1 or p.iteration == p.total:
                    last[0] = now
                    app.post_message(AdviseProgress(progress=p, kind=kind))

            try:
                if kind == "optimize":
                    result = R.optimize(base, start, eval_start, settings, on_progress, stop.is_set)
                else:
                    result = R.frontier(
                        base, start, eval_start, settings, FRONTIER_POINTS, on_progress, stop.is_set
                    )
                app.post_message(AdviseProgress(done=True, result=(result, period), kind=kind))
            except Exception as exc:  # shown to the operator; the simulation is untouched
                app.post_message(
                    AdviseProgress(done=True, error=f"{type(exc).__name__}: {exc}", kind=kind)
                )

        app.run_worker(
            work, thread=True, group="advise", exclusive=True, exit_on_error=False, name="advise"
        )

    def action_stop(self) -> None:
        if self.running:
            self.stop_event.set()
            self.query_one("#advise-stats", Static).update(
                "stopping: evaluating the best allocation so far…"
            )

    def action_copy(self) -> None:
        from .widgets.allocation import AllocationPanel

        rec = self.recommendation
        if rec is None:
            self.app.notify("No recommendation yet: press g to optimize", severity="warning")
            return
        panel = self.screen.query_one(AllocationPanel)
        panel.propose(rec.recommended[0])
        self.screen.query_one("TabbedContent").active = "tab-run"
        self.app.notify(
            "Recommendation copied into the draft: enter in a value applies it, esc discards"
        )

    # ----------------------------------------------------------------- updates
    def apply(self, message: AdviseProgress) -> None:
        """Show a progress report or the result (UI thread)."""
        if not message.done:
            p = message.progress
            self.trace.append((len(self.trace) + 1, p.objective, p.best))
            self.query_one(ProgressBar).update(total=p.total, progress=p.iteration)
            label = f"{p.label}: " if p.label else ""
            self.query_one("#advise-stats", Static).update(
                f"{label}step {p.iteration}/{p.total} ({p.evals} evaluations)  objective {_fmt(p.objective)}  best {_fmt(p.best)}  {p.evals_per_s:.1f} eval/s"
            )
            self._plot_trace()
            return
        self.running = False
        if message.error:
            self.query_one("#advise-stats", Static).update(escape(f"failed: {message.error}"))
            return
        result, period = message.result
        if message.kind == "frontier":
            self.frontier = result
            self._plot_frontier(*result)
            self.query_one("#advise-stats", Static).update(
                f"frontier of {len(result[0])} points (mean NPV vs CVaR10); 1 = risk-neutral"
            )
            return
        self.recommendation = result
        self._show(result)
        app = self.app
        sim = getattr(app, "sim", None)
        if sim is not None:
            sim.optimizations = [
                *getattr(sim, "optimizations", []),
                {"period": period, **result.record()},
            ]
            app.dirty = True  # the run's record changed: the header (a watcher) says modified

    def _show(self, rec: Any) -> None:
        s = rec.search
        state = "cancelled; best so far" if s.cancelled else "done"
        feas = "" if rec.feasible else "  CONSTRAINT NOT MET"
        obj = rec.stat("objective")
        self.query_one("#advise-stats", Static).update(
            f"{state}: {glyph('delta')} objective {_fmt(obj.diff)} ({_fmt(obj.ci_low)}..{_fmt(obj.ci_high)}) on fresh paths  "
            f"{s.evals} evaluations {s.wall_s:.0f}s{feas}  [b]c[/b] copies"
        )
        t = self.query_one(DataTable)
        t.clear()
        d0, d1 = rec.current[0], rec.recommended[0]
        for name in ("budget", "privacy_share", "c_share", "c_price", "b_seat_price"):
            t.add_row(
                name[:16],
                _fmt(getattr(d0, name)),
                _fmt(getattr(d1, name)),
                _fmt(getattr(d1, name) - getattr(d0, name)),
                "",
                "",
                "",
                "",
            )
        for st in rec.stats:

            def band(b: Any) -> str:
                return f"{_fmt(b[0])}..{_fmt(b[1])}" if b else ""

            t.add_row(
                st.label[:16], _fmt(st.current), _fmt(st.recommended), _fmt(st.diff), "yes" if st.significant else "no",
                f"{_fmt(st.ci_low)}..{_fmt(st.ci_high)}", band(st.band_current), band(st.band_recommended),
            )  # fmt: skip

    def _plot_trace(self) -> None:
        widget = self.query_one("#advise-chart", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"objective ({MONEY}) by report: cyan this step, orange best so far")
        pts = self.trace[-_MAX_TRACE:]
        if pts:
            from .widgets.charts import finite_points, period_ticks, value_ticks

            xs, ys = finite_points([p[0] for p in pts], [p[1] for p in pts])
            bx, by = finite_points([p[0] for p in pts], [p[2] for p in pts])
            if xs:
                plt.plot(xs, ys, color="cyan", marker=glyphs.marker("mean"))
            if bx:
                plt.plot(bx, by, color="orange", marker=glyphs.marker("mean"))
            values = ys + by
            if values:
                ticks, labels = value_ticks(min(values), max(values), MONEY, most=4)
                plt.yticks(ticks, labels)
            xt = [t + pts[0][0] - 1 for t in period_ticks(pts[-1][0] - pts[0][0] + 1)]
            plt.xticks(xt, [str(t) for t in xt])
        widget.refresh()

    def _plot_frontier(self, points: list, current: Any) -> None:
        widget = self.query_one("#advise-chart", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"frontier (cyan): mean NPV vs CVaR10 ({MONEY}); C: the draft")
        plt.plot(
            [p.cvar for p in points],
            [p.mean for p in points],
            color="cyan",
            marker=glyphs.marker("mean"),
        )
        for i, p in enumerate(points):
            plt.text(str(i + 1), p.cvar, p.mean, color="cyan")
        plt.scatter([current.cvar], [current.mean], color="orange", marker="C")
        from .widgets.charts import value_ticks

        for axis, values in (
            ("y", [p.mean for p in points] + [current.mean]),
            ("x", [p.cvar for p in points] + [current.cvar]),
        ):
            values = [v for v in values if v == v and abs(v) != float("inf")]
            if values:
                ticks, labels = value_ticks(min(values), max(values), MONEY, most=4)
                (plt.yticks if axis == "y" else plt.xticks)(ticks, labels)
        widget.refresh()
        t = self.query_one(DataTable)
        t.clear()
        for i, p in enumerate(points):
            d = p.decisions[0]
            t.add_row(
                f"{i + 1}: lambda {p.lam:.2f}", f"mean {_fmt(p.mean)}", f"CVaR {_fmt(p.cvar)}", f"P(cash<0) {p.p_cash_negative_ever:.2f}",
                "", f"budget {_fmt(d.budget)}", f"c_share {d.c_share:.2f}", f"privacy {d.privacy_share:.2f}",
            )  # fmt: skip


def open_advise(app: Any) -> None:
    """Show the Advise tab and focus its pane (its keys then act)."""
    from textual.widgets import TabbedContent

    screen = app.screen
    try:
        screen.query_one(TabbedContent).active = "tab-advise"
        # The table inside the pane: arrows scroll it, and the pane's keys still act.
        screen.set_focus(screen.query_one(AdvisePane).query_one(DataTable))
    except Exception:
        app.notify("The Advise tab is not available on this screen", severity="warning")
