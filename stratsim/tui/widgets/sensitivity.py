"""The Sensitivity tab: a tornado of the current scenario (which assumptions move the
objective most, and whether the best To C share changes with them), drawn as text (one
labelled bar per assumption, every assumption), and a
sweep of the levers around the current draft: ``c_share`` as a line (mean and
P10..P90), or ``c_share`` x ``privacy_share`` as a heat map.

The objective is the app's: :data:`OBJECTIVE` (``npv_total``, NPV plus terminal value,
what the KPI tables and Advise show), labelled with the KPI tables' label.

Every analysis runs in a thread worker started on the App (group ``sensitivity``,
one at a time, cancellable with the Cancel button) on the sweep engine
(:mod:`stratsim.engine.analysis`): all points on common random numbers, simulated from
month 0 to the horizon with the draft (or the scenario's allocation) held every month.
The worker posts :class:`AnalysisProgress` (throttled to ~10/s) and
:class:`AnalysisDone` to this pane; it never touches the simulation the app steps.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, ProgressBar, Static
from textual_plotext import PlotextPlot

from ...format import MONEY, fmt
from .. import glyphs
from ..glyphs import glyph, shades
from .kpis import SHORT

if TYPE_CHECKING:
    from ...engine.analysis.sensitivity import Tornado
    from ...engine.analysis.sweep import SweepResult

#: Paths per point and ``c_share`` levels of the TUI's analyses: small enough for a few
#: seconds on a busy laptop core; the CLI (``stratsim sensitivity``) takes more.
TUI_PATHS = 200
TORNADO_SHARES = 6
SWEEP_SHARES = 11
HEAT_PRIVACY = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
HEAT_SHARES = 6
#: Heat-map cell colours, lowest NPV to highest (a dark-to-bright blue ramp that reads
#: on dark and light themes), and the text colour on each.
HEAT_COLORS = ("#1d2b3a", "#24486b", "#2f6b9a", "#4a93c8", "#8cc8f0")
HEAT_TEXT = ("white", "white", "white", "black", "black")
#: The KPI every analysis of the tab ranks by (the mean at the horizon): the one the KPI
#: tables and Advise show (NPV plus terminal value), and its label there.
OBJECTIVE = "npv_total"
OBJECTIVE_LABEL = SHORT[OBJECTIVE]
#: Tornado bar colours (Rich) and the width of its label column.
TORNADO_LOW, TORNADO_HIGH = "dark_orange3", "bright_cyan"
TORNADO_LABEL = 16


def tornado_text(rows: list, base: float, width: int) -> Text:
    """The tornado as text, one line per assumption in ``rows`` (largest swing first; each
    with ``key``, ``kpi_low``, ``kpi_high``): its name, a bar from the base to the
    objective's mean at the assumption's low end (orange) and at its high end (cyan), and
    both changes (``fmt``). Every row is drawn, whatever the height (the pane scrolls);
    ``width`` is the terminal columns available."""
    ascii_mode = glyphs.is_ascii()
    low_mark, high_mark = ("-", "+") if ascii_mode else ("█", "█")
    text = Text()
    text.append(f"{'':{TORNADO_LABEL}} ")
    text.append(low_mark, style=TORNADO_LOW)
    text.append(" low end  ")
    text.append(high_mark, style=TORNADO_HIGH)
    text.append(f" high end  | base {fmt(base)}\n")
    changes = [(r.kpi_low - base, r.kpi_high - base) for r in rows]
    scale = max([abs(v) for pair in changes for v in pair] + [0.0]) or 1.0
    bars = max(10, width - TORNADO_LABEL - 16)
    half = bars // 2
    for r, (lo, hi) in zip(rows, changes, strict=True):
        name = r.key.split(".", 1)[-1]
        if len(name) > TORNADO_LABEL:
            name = name[: TORNADO_LABEL - 1] + glyph("ellipsis")[:1]
        cells = [" "] * (2 * half + 1)
        styles: list[str | None] = [None] * len(cells)
        cells[half] = "|"
        # the longer bar first, the shorter over it: both stay visible on the same side
        for change, mark, style in sorted(
            ((lo, low_mark, TORNADO_LOW), (hi, high_mark, TORNADO_HIGH)), key=lambda t: -abs(t[0])
        ):
            n = round(abs(change) / scale * half)
            for i in range(1, n + 1):
                j = half + i if change > 0 else half - i
                cells[j], styles[j] = mark, style
        text.append(f"{name:>{TORNADO_LABEL}} ")
        for c, st in zip(cells, styles, strict=True):
            text.append(c, style=st or "")
        text.append(f" {_signed(lo)}/{_signed(hi)}\n")
    return text


def _signed(x: float) -> str:
    text = fmt(x, 2)
    return text if text.startswith("-") or text == "0" else "+" + text


@dataclass
class AnalysisProgress(Message):
    """Progress of the running analysis: ``done`` of ``total`` evaluations
    (point-months of a sweep, or the tornado's model evaluations)."""

    done: int
    total: int


@dataclass
class AnalysisDone(Message):
    """The end of an analysis.

    Attributes:
        kind: ``tornado``, ``line`` or ``heat``.
        result: the engine's result (a Tornado for ``tornado``, a SweepResult for the
            others), or None after a failure.
        error: the failure's message, or None.
        extra: ``line``/``heat``: the draft's ``draft_share`` and ``draft_privacy``
            (shares 0..1) marked on the chart.
    """

    kind: str
    result: Tornado | SweepResult | None = None
    error: str | None = None
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class Job:
    """What a worker needs, read on the UI thread when the analysis starts."""

    kind: str
    scenario: Any
    decision: Any
    seed: int
    paths: int
    models: dict = field(default_factory=dict)


class SensitivityPane(Vertical):
    """Buttons, a status line, a progress bar, and the chart of the last analysis."""

    DEFAULT_CSS = """
    SensitivityPane { height: 1fr; }
    SensitivityPane #sens-buttons { height: 1; }
    SensitivityPane #sens-buttons Button { min-width: 10; margin-right: 1; }
    SensitivityPane #sens-status { height: auto; max-height: 3; }
    SensitivityPane #sens-progress { height: 1; }
    SensitivityPane #sens-chart { height: 1fr; min-height: 8; }
    SensitivityPane #sens-heat { height: 1fr; display: none; }
    SensitivityPane #sens-tornado-box { height: 1fr; display: none; }
    SensitivityPane.heat #sens-heat { display: block; }
    SensitivityPane.heat #sens-chart { display: none; }
    SensitivityPane.tornado #sens-tornado-box { display: block; }
    SensitivityPane.tornado #sens-chart { display: none; }
    """

    BINDINGS = [
        Binding(
            "w",
            "run('tornado')",
            "Tornado",
            tooltip=f"What decides {OBJECTIVE_LABEL}: tornado of the scenario's assumptions",
        ),
        Binding(
            "l",
            "run('line')",
            "Line",
            tooltip=f"{OBJECTIVE_LABEL} against c_share around the draft",
        ),
        Binding(
            "m",
            "run('heat')",
            "Map",
            tooltip=f"Heat map of {OBJECTIVE_LABEL} over c_share x privacy_share",
        ),
        Binding("c", "stop", "Cancel", tooltip="Cancel the running analysis"),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.running: str | None = None
        self.last: AnalysisDone | None = None
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        with Horizontal(id="sens-buttons"):
            yield Button("Tornado", id="sens-tornado", compact=True)
            yield Button("Sweep c_share", id="sens-line", compact=True)
            yield Button("Heat map", id="sens-heat-btn", compact=True)
            yield Button("Cancel", id="sens-cancel", compact=True, disabled=True)
        yield Static(
            f"w: tornado of {OBJECTIVE_LABEL} over the scenario's assumptions; l: {OBJECTIVE_LABEL} against c_share around the draft; "
            "m: heat map c_share x privacy_share; c: cancel. From month 0 to the horizon with the draft "
            "held, common random numbers.",
            id="sens-status",
        )
        yield ProgressBar(id="sens-progress", show_eta=False)
        yield PlotextPlot(id="sens-chart")
        with VerticalScroll(id="sens-tornado-box"):
            yield Static("", id="sens-tornado-text")
        yield Static("", id="sens-heat")

    def on_unmount(self) -> None:
        self._stop.set()  # a running analysis stops at its next month

    # ---------------------------------------------------------------- start
    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        kind = {"sens-tornado": "tornado", "sens-line": "line", "sens-heat-btn": "heat"}.get(
            event.button.id or ""
        )
        if kind:
            self.action_run(kind)
        elif event.button.id == "sens-cancel":
            self.action_stop()

    def action_stop(self) -> None:
        if self.running is not None:
            self._stop.set()

    def _job(self, kind: str) -> Job | None:
        app: Any = self.app
        sim = getattr(app, "sim", None)
        if sim is None:
            return None
        decision = sim.decision
        try:
            from .allocation import AllocationPanel

            panel = app.screen.query_one(AllocationPanel)
            if panel.draft is not None:
                decision = panel.draft
        except Exception:  # the Run tab not mounted yet: the simulation's decision
            pass
        models = {"satisfaction_model": sim.satisfaction_model, "privacy_model": sim.privacy_model}
        return Job(kind, sim.scenario, decision, sim.seed, min(TUI_PATHS, sim.n_paths), models)

    def action_run(self, kind: str) -> None:
        if self.running is not None:
            self.app.notify(f"{self.running} still running (Cancel stops it)", severity="warning")
            return
        job = self._job(kind)
        if job is None:
            self.app.notify("engine still loading", severity="warning")
            return
        self.running = kind
        self._stop.clear()
        self.query_one("#sens-cancel", Button).disabled = False
        self.query_one("#sens-status", Static).update(
            f"{kind}: running on {job.paths} paths per point…"
        )
        self.query_one("#sens-progress", ProgressBar).update(total=None, progress=0)
        self.app.run_worker(
            lambda: self._work(job),
            thread=True,
            group="sensitivity",
            exclusive=True,
            exit_on_error=False,
        )

    # --------------------------------------------------------------- worker
    def _work(self, job: Job) -> None:
        try:
            import numpy as np

            from ...engine.analysis import sensitivity as sa
            from ...engine.analysis.sweep import Design, RunSpec, evaluate, prepare

            last = [0.0]

            def progress(p: Any) -> None:
                now = time.monotonic()
                if now - last[0] >= 0.1 or p.done == p.total:
                    last[0] = now
                    self.post_message(AnalysisProgress(p.done, p.total))

            spec = RunSpec(
                steps=job.scenario.simulation.horizon_months,
                paths=job.paths,
                seed=job.seed,
                device="cpu",
                **job.models,
            )
            stop = self._stop.is_set
            if job.kind == "tornado":
                scenario = job.scenario.model_copy(
                    update={
                        "allocation": type(job.scenario.allocation).model_validate(
                            job.decision.to_dict()
                        )
                    }
                )
                ranges = sa.parameter_ranges(scenario)
                ev = sa.Evaluator(
                    scenario,
                    [r.key for r in ranges],
                    spec,
                    kpi=OBJECTIVE,
                    on_progress=progress,
                    should_stop=stop,
                )
                result = sa.tornado(ev, ranges, list(np.linspace(0, 1, TORNADO_SHARES)))
                self.post_message(AnalysisDone("tornado", result))
                return
            if job.kind == "line":
                shares = np.linspace(0, 1, SWEEP_SHARES)
                design = Design(["allocation.c_share"], shares[:, None])
            else:
                shares = np.linspace(0, 1, HEAT_SHARES)
                grid = [(s, p) for p in HEAT_PRIVACY for s in shares]
                design = Design(
                    ["allocation.c_share", "allocation.privacy_share"], np.asarray(grid)
                )
            res = evaluate(
                prepare(job.scenario, design, base=job.decision),
                spec,
                on_progress=progress,
                should_stop=stop,
            )
            self.post_message(
                AnalysisDone(
                    job.kind,
                    res,
                    extra={
                        "draft_share": job.decision.c_share,
                        "draft_privacy": job.decision.privacy_share,
                    },
                )
            )
        except Exception as exc:  # shown in the pane, never crashes the app
            self.post_message(AnalysisDone(job.kind, error=str(exc) or type(exc).__name__))

    # ----------------------------------------------------------------- show
    def on_analysis_progress(self, message: AnalysisProgress) -> None:
        self.query_one("#sens-progress", ProgressBar).update(
            total=message.total, progress=message.done
        )

    def on_analysis_done(self, message: AnalysisDone) -> None:
        self.running = None
        self.query_one("#sens-cancel", Button).disabled = True
        status = self.query_one("#sens-status", Static)
        if message.error is not None:
            status.update(Text(f"{message.kind}: {message.error}", style="red"))
            return
        self.last = message
        if message.kind == "tornado":
            self._show_tornado(message.result)
        elif message.kind == "line":
            self._show_line(message.result, message.extra)
        else:
            self._show_heat(message.result, message.extra)

    def on_resize(self) -> None:
        if self.last is not None and self.last.kind == "tornado":
            self._show_tornado(self.last.result)

    def _show_tornado(self, t: Any) -> None:
        self.remove_class("heat")
        self.add_class("tornado")
        moved = [r.key for r in t.rows if t.share_changes(r)]
        self.query_one("#sens-status", Static).update(
            f"Tornado of {OBJECTIVE_LABEL} mean ({MONEY}) at the horizon: "
            f"{len(t.rows)} assumptions, largest first; top: {t.rows[0].key}. Best c_share at base "
            f"{t.best_share_base:.1f}; "
            + (f"changes with {', '.join(moved[:3])}" if moved else "holds across every range")
        )
        self.query_one("#sens-tornado-text", Static).update(
            tornado_text(list(t.rows), t.base_kpi, self.size.width or 80)
        )

    def _show_line(self, res: Any, extra: dict) -> None:
        from .charts import value_ticks

        self.remove_class("heat")
        self.remove_class("tornado")
        x = res.prepared.design.values[:, 0].tolist()
        stats = [r[-1][OBJECTIVE] for r in res.results]
        best = res.best(OBJECTIVE)
        self.query_one("#sens-status", Static).update(
            f"{OBJECTIVE_LABEL} at month {res.spec.steps} against c_share (draft {extra['draft_share']:.2f}); best c_share "
            f"{x[best]:.2f}: mean {fmt(stats[best]['mean'])} (P10 {fmt(stats[best]['p10'])}, P90 {fmt(stats[best]['p90'])})"
        )
        widget = self.query_one("#sens-chart", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"{OBJECTIVE_LABEL} ({MONEY}): mean cyan, P10 orange, P90 green; draft grey")
        plt.xlabel("c_share (share of the rest to To C)")
        plt.plot(x, [s["p10"] for s in stats], color="orange", marker=glyphs.marker("band"))
        plt.plot(x, [s["p90"] for s in stats], color="green", marker=glyphs.marker("band"))
        plt.plot(
            x, [s["mean"] for s in stats], color="cyan+", style="bold", marker=glyphs.marker("mean")
        )
        plt.vline(extra["draft_share"], "gray")
        values = [v for s in stats for v in (s["p10"], s["mean"], s["p90"]) if v == v]
        if values:
            ticks, labels = value_ticks(min(values), max(values), MONEY)
            plt.yticks(ticks, labels)
        xt, xl = value_ticks(0.0, 1.0, "%")
        plt.xticks(xt, xl)
        widget.refresh()

    def _show_heat(self, res: Any, extra: dict) -> None:
        self.add_class("heat")
        self.remove_class("tornado")
        v = res.prepared.design.values
        y = res.horizon_values(OBJECTIVE)
        shares = sorted(set(v[:, 0].tolist()))
        privs = sorted(set(v[:, 1].tolist()))
        lo, hi = float(y.min()), float(y.max())
        best = res.best(OBJECTIVE)
        cell = {(a, b): float(val) for (a, b), val in zip(v.tolist(), y.tolist(), strict=True)}
        levels = len(HEAT_COLORS)

        def level(val: float) -> int:
            return 0 if hi == lo else min(levels - 1, int((val - lo) / (hi - lo) * levels))

        text = Text()
        text.append(
            f"{OBJECTIVE_LABEL} mean ({MONEY}) at month {res.spec.steps}: columns c_share, rows privacy_share\n"
        )
        text.append("priv\\c_share " + "".join(f"{s:>8.0%}" for s in shares) + "\n")
        for p in reversed(privs):
            text.append(f"{p:>11.0%}  ")
            for s in shares:
                val = cell[(s, p)]
                mark = (
                    "*"
                    if (s, p) == tuple(v[best])
                    else (
                        "o"
                        if abs(s - extra["draft_share"]) < 0.1
                        and abs(p - extra["draft_privacy"]) < 0.025
                        else " "
                    )
                )
                # the cell ends in its level's shade: the legend's glyph (a colour alone is
                # lost on a monochrome terminal)
                cell_style = f"{HEAT_TEXT[level(val)]} on {HEAT_COLORS[level(val)]}"
                text.append(f"{fmt(val, 2):>6}{mark}{shades()[level(val)]}", style=cell_style)
            text.append("\n")
        text.append(f"colour: {OBJECTIVE_LABEL} from ")
        for i, colour in enumerate(HEAT_COLORS):
            a = lo + (hi - lo) * i / levels
            text.append(f"{fmt(a, 2):>6}{shades()[i]}", style=f"{HEAT_TEXT[i]} on {colour}")
            text.append(" ")
        text.append("* best, o draft\n")
        self.query_one("#sens-heat", Static).update(text)
        self.query_one("#sens-status", Static).update(
            f"best: c_share {v[best][0]:.2f}, privacy_share {v[best][1]:.2f}: {OBJECTIVE_LABEL} mean {fmt(y[best])}"
        )
