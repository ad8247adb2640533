"""Engine messages name settings by concept; the CLI shows its flags, the TUI the concept."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from stratsim.cli import main
from stratsim.cli._common import CLI_FLAGS
from stratsim.engine.errors import DataError, StratsimError
from stratsim.engine.recipe import parse_constants
from stratsim.engine.terms import DEFAULT_NAMES, naming, term

ENGINE = Path(__file__).resolve().parents[1] / "stratsim" / "engine"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def test_engine_message_names_the_concept_and_the_cli_its_flag():
    with pytest.raises(DataError) as exc:
        parse_constants(["enterprise_share=lots"])
    assert str(exc.value) == "set enterprise_share=lots: expected a finite number"
    with naming(CLI_FLAGS), pytest.raises(DataError) as exc:
        parse_constants(["enterprise_share=lots"])
    assert str(exc.value) == "--set enterprise_share=lots: expected a finite number"
    assert term("set") == "set"  # the names are restored after the with


def test_cli_reports_flags(capsys):
    assert main(["train", "satisfaction", "--set", "ux=lots", "--check"]) == 2
    assert "--set ux=lots: expected a finite number" in capsys.readouterr().err


def test_every_concept_has_a_flag_and_unknown_ones_are_refused():
    assert set(CLI_FLAGS) == set(DEFAULT_NAMES)
    with pytest.raises(KeyError), naming({"no_such_setting": "--x"}):
        pass


def _message_strings(path: Path):
    """String constants of ``path`` that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs:
            yield n.lineno, n.value


def test_engine_strings_spell_no_command_line_flag():
    found = []
    for path in sorted(ENGINE.rglob("*.py")):
        for line, text in _message_strings(path):
            if "`ray start" in text:  # Ray's own command, not one of ours
                continue
            if FLAG.search(text):
                found.append(f"{path.relative_to(ENGINE)}:{line}: {text[:60]!r}")
    assert not found, "\n".join(found)


def test_analysis_settings_named_by_concept():
    from stratsim.engine.analysis.sensitivity import parameter_ranges
    from stratsim.engine.scenario import Scenario

    with pytest.raises(StratsimError, match=r"^relative range 2\.0: expected a fraction"):
        parameter_ranges(Scenario(), rel_range=2.0)
    with naming(CLI_FLAGS), pytest.raises(StratsimError, match=r"^--range 2\.0: expected"):
        parameter_ranges(Scenario(), rel_range=2.0)
