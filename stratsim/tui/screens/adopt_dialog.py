"""After training: offer the new model, its test metrics next to the current model's, a
warning when it is weaker, and three choices (issue 12: training changes the history
only when the operator says so).

* ``1`` use it from the next period: the periods already simulated keep their numbers
  bit for bit (:meth:`~stratsim.engine.simulation.Simulation.switch_model`; the session
  records the switch so reopening replays the same history);
* ``2`` re-simulate the whole history with it (:meth:`Simulation.set_models`);
* ``3`` / ``esc`` keep the current model (the trained files stay in the models folder).

Never ``n`` (Step's key, pressed out of habit as the dialog appears) or ``enter``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ...engine.models import MODEL_ATTRS
from ..autosave import describe_error
from ..text import printable, safe

if TYPE_CHECKING:
    from ..app import StratsimApp

#: The headline test metrics per role: (metric key, label, +1 when higher is better).
#: R²/RMSE for the satisfaction regression, ROC-AUC/Brier for the privacy classifier.
HEADLINE = {
    "satisfaction": (("r2", "R²", +1), ("rmse", "RMSE", -1)),
    "privacy": (("roc_auc", "ROC-AUC", +1), ("brier", "Brier", -1)),
}
CHOICES = {"1": "next", "2": "resimulate", "3": "keep"}


def _metric(model: Any, key: str) -> float | None:
    metrics = getattr(model, "metrics", None)
    value = metrics.get(key) if isinstance(metrics, dict) else None
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def compare_models(
    role: str, current: Any, new: Any
) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Rows ``(metric, current, new)`` of the headline test metrics, and one line per
    metric on which ``new`` is worse than ``current`` (both measured; the shipped default
    models have no test metrics: "–")."""
    rows, weaker = [], []
    for key, label, better in HEADLINE[role]:
        a, b = _metric(current, key), _metric(new, key)
        rows.append((label, "–" if a is None else f"{a:.3g}", "–" if b is None else f"{b:.3g}"))
        if a is not None and b is not None and (b - a) * better < 0:
            weaker.append(f"weaker than the current model: test {label} {b:.3g} vs {a:.3g}")
    return rows, weaker


class AdoptDialog(ModalScreen[str | None]):
    """Offer a trained model; returns ``"next"``, ``"resimulate"`` or ``"keep"``."""

    BINDINGS = [
        Binding("1", "choose('1')", "From the next period"),
        Binding("2", "choose('2')", "Re-simulate the history"),
        Binding("3", "choose('3')", "Keep the current model"),
        Binding("escape", "choose('3')", "Keep the current model"),
    ]
    DEFAULT_CSS = """
    AdoptDialog { align: center middle; }
    AdoptDialog > Vertical { width: 76; height: auto; max-height: 22; border: thick $accent; background: $surface; padding: 0 1; }
    AdoptDialog #adopt-warnings { color: $warning; height: auto; }
    """

    def __init__(
        self,
        role: str,
        current: str,
        new: str,
        period: int,
        rows: list[tuple[str, str, str]],
        warnings: list[str],
    ) -> None:
        super().__init__()
        self.role, self.current, self.new, self.period = role, current, new, period
        self.rows, self.warnings = rows, warnings

    def compose(self) -> ComposeResult:
        table = "\n".join(f"  {m:<8} {c:>10} {n:>10}" for m, c, n in self.rows)
        with Vertical():
            yield Label(f"[b]Use the new {self.role} model?[/b] (test metrics)")
            yield Static(
                f"  {'':<8} {'current':>10} {'new':>10}\n{table}", id="adopt-metrics", markup=False
            )
            yield Static(
                f"current: {printable(self.current)}\nnew:     {printable(self.new)}", markup=False
            )
            yield Static("\n".join(safe(f"! {w}") for w in self.warnings), id="adopt-warnings")
            past = (
                f"Periods 1..{self.period} unchanged" if self.period else "no period simulated yet"
            )
            yield Label(
                f"1 use it from the next period (Period {self.period + 1}; {past})\n"
                "2 re-simulate the whole history with it\n"
                "3 / esc keep the current model"
            )

    def action_choose(self, key: str) -> None:
        self.dismiss(CHOICES[key])


def offer_model(app: StratsimApp, role: str, model: Any, where: str = "") -> None:
    """Show :class:`AdoptDialog` for a trained ``model`` and act on the answer (noted in
    the Log). ``where``: the model's file, named when it is not used."""
    sim = app.sim
    current = getattr(sim, MODEL_ATTRS[role])
    rows, weaker = compare_models(role, current, model)
    warnings = weaker + sim.model_warnings_with(**{role: model})

    def answer(choice: str | None) -> None:
        if app.busy:  # a run or replay is going on: act once it is done
            app.when_idle(lambda: adopt(app, role, model, choice or "keep", where))
            return
        adopt(app, role, model, choice or "keep", where)

    app.push_screen(
        AdoptDialog(
            role, app.model_label(current), app.model_label(model), sim.period, rows, warnings
        ),
        answer,
    )


def adopt(app: StratsimApp, role: str, model: Any, choice: str, where: str = "") -> None:
    """Carry out the choice of :class:`AdoptDialog` on ``app.sim``; the Log records it."""
    label = app.model_label(model)
    if choice == "keep":
        app.note(
            f"kept the current {role} model; the trained one ({label}) was not used"
            + (f" (saved in {printable(where)})" if where else "")
        )
        app.main.refresh_all(keep_draft=True)
        return
    if choice == "resimulate":
        app.note(
            f"{role} model {label}: re-simulating the whole history with it (the numbers of past periods change)"
        )
        app.main.jobs.sim_job(
            lambda sim: sim.set_models(**{role: model}),
            f"use the {role} model {label}",
            "re-simulating with the new model",
        )
        return
    period = app.sim.period
    try:
        app.sim.switch_model(role, model)
    except Exception as exc:
        app.error_dialog(
            "Model not used",
            f"{describe_error(exc, None)}\n\nThe simulation keeps its current model.",
        )
        return
    app.dirty = True
    app.main.panes.forget_preview()
    first = f"Periods 1..{period} keep their numbers" if period else "no period simulated yet"
    app.note(f"{role} model {label} used from the next period (Period {period + 1}); {first}")
    app.autosaver.save()
    app.main.refresh_all(keep_draft=True)
