"""One vocabulary and one definition per concept (issue 14): the privacy model is
``privacy`` everywhere (the former ``incident`` keywords still work, with a warning),
policies and model roles are defined once in the engine, worker messages are typed
dataclasses, and no function is longer than about 60 lines."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import warnings
from pathlib import Path

import pytest

from stratsim.engine.models import LogisticPrivacy
from stratsim.engine.simulation import Simulation

PACKAGE = Path(__file__).resolve().parents[1] / "stratsim"
#: The vectorized step's sub-steps may be longer where splitting would obscure the equations.
LONG_ALLOWED = {
    ("engine/market/month.py", "_advance_tensors"),
    ("engine/market/cashflow.py", "finance"),
    ("engine/market/demand.py", "enterprise"),
    # Under 60 lines before `ruff format` spread their long calls over several lines; to be
    # split next (listed so that no new long function slips in meanwhile).
    ("cli/train_cmd.py", "_add_data_options"),
    ("engine/analysis/optimize.py", "_gradient"),
    ("engine/analysis/recommend.py", "compare"),
    ("engine/analysis/recommend.py", "frontier"),
    ("engine/scenario_draw.py", "draw_flat"),
    ("engine/session/store.py", "session_document"),
    ("tui/advise.py", "_start"),
    ("tui/widgets/sensitivity.py", "_work"),
}
MAX_FUNCTION_LINES = 60


def test_the_privacy_model_is_written_privacy_model():
    from stratsim.engine.models import MODEL_ATTRS, ROLES

    model = LogisticPrivacy(intercept=-2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new keyword warns about nothing
        sim = Simulation(n_paths=4, device="cpu", privacy_model=model)
    assert sim.privacy_model is model and sim.base_models["privacy"] is model
    assert MODEL_ATTRS == {"satisfaction": "satisfaction_model", "privacy": "privacy_model"}
    assert tuple(MODEL_ATTRS) == ROLES


def test_the_former_incident_keywords_still_work_with_a_deprecation_warning():
    from stratsim.engine.analysis.batch import make_batch
    from stratsim.engine.scenario import Scenario

    model = LogisticPrivacy(intercept=-2.0)
    with pytest.warns(
        DeprecationWarning, match=r"incident_model= is deprecated: write privacy_model="
    ):
        sim = Simulation(n_paths=4, device="cpu", incident_model=model)
    assert sim.privacy_model is model
    with pytest.warns(DeprecationWarning):
        assert sim.incident_model is model  # read-only alias
    other = LogisticPrivacy(intercept=-3.0)
    with pytest.warns(DeprecationWarning, match=r"incident= is deprecated: write privacy="):
        sim.set_models(incident=other)
    assert sim.privacy_model is other and sim.base_models["privacy"] is other
    with pytest.warns(DeprecationWarning):
        batch = make_batch(Scenario(), n_points=1, paths_per_point=2, incident_model=model)
    assert batch.privacy_model is model


def test_set_models_and_switch_model_take_the_role_names():
    sim = Simulation(n_paths=4, device="cpu")
    model = LogisticPrivacy(intercept=-1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sim.set_models(privacy=model)
        assert (
            sim.switch_model("privacy", LogisticPrivacy(intercept=-1.5)) is None
        )  # period 0: the base
    assert sim.base_models["privacy"].intercept == -1.5


def _policy_choices(parser: argparse.ArgumentParser, command: str) -> tuple[str, ...]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices[command]._actions if "--policy" in a.option_strings)
    return tuple(action.choices)


def test_policies_are_defined_once_in_the_engine():
    from stratsim.cli import build_parser
    from stratsim.engine.analysis import sweep_design
    from stratsim.engine.policies import BATCH_POLICIES, POLICIES, UNATTENDED_POLICIES

    parser = build_parser()
    assert (
        _policy_choices(parser, "run")
        == UNATTENDED_POLICIES
        == tuple(p for p in POLICIES if p != "manual")
    )
    assert _policy_choices(parser, "sweep") == BATCH_POLICIES == sweep_design.POLICIES
    assert set(BATCH_POLICIES) <= set(UNATTENDED_POLICIES)
    source = (PACKAGE / "tui" / "screens" / "main.py").read_text(encoding="utf-8")
    assert '"feedback", "optimize")' not in source  # the TUI cycles through POLICIES


def test_worker_messages_are_dataclasses():
    from stratsim.tui.advise import AdviseProgress
    from stratsim.tui.widgets.sensitivity import AnalysisDone, AnalysisProgress

    for cls in (AdviseProgress, AnalysisDone, AnalysisProgress):
        assert dataclasses.is_dataclass(cls), cls.__name__
    done = AnalysisDone("line", extra={"draft_share": 0.5})
    assert (done.kind, done.result, done.error, done.extra) == (
        "line",
        None,
        None,
        {"draft_share": 0.5},
    )
    assert AnalysisDone("heat").extra == {}  # a fresh dict per message
    progress = AdviseProgress(done=True, error="boom", kind="frontier")
    assert (progress.kind, progress.done, progress.error, progress.result, progress.progress) == (
        "frontier",
        True,
        "boom",
        None,
        None,
    )


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_no_module_serves_names_lazily_and_no_function_is_long():
    """Names that moved to a split-off module are imported from it (no module
    ``__getattr__`` re-export), and functions stay under about 60 lines."""
    lazy, long = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(
            isinstance(n, ast.FunctionDef) and n.name == "__getattr__" for n in tree.body
        ) or any(
            isinstance(n, ast.Assign)
            and any(getattr(t, "id", None) == "__getattr__" for t in n.targets)
            for n in tree.body
        ):
            lazy.append(rel)
        for fn in _functions(tree):
            lines = fn.end_lineno - fn.lineno + 1
            declarative = rel.startswith("cli/") and fn.name == "register"  # argparse flag tables
            if (
                lines > MAX_FUNCTION_LINES
                and (rel, fn.name) not in LONG_ALLOWED
                and not declarative
            ):
                long.append(f"{rel}:{fn.lineno} {fn.name} ({lines} lines)")
    assert not lazy, lazy
    assert not long, "\n".join(long)
