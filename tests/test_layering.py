"""Layering, checked at run time (issue 14): importing any engine module (or the neutral
``stratsim.format``) loads neither Textual, rich nor stratsim's front ends, and importing the
TUI does not load the CLI.

The static side (every import statement, including the lazy ones inside functions) is the
import-linter contracts in ``pyproject.toml``, run by ``./dev test`` as ``lint-imports``.
Here each module is imported, one after the other, in a fresh interpreter, and
``sys.modules`` is checked after each import, so the first module that pulls a forbidden
package in is named even when it arrives transitively (through pandas, say). One interpreter
per package rather than per module: each start imports torch (about a second on a busy
2-core machine), and importing in turn names the culprit just the same.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import stratsim.engine
import stratsim.tui

#: Imported in the child: the modules in order, then after each import the forbidden
#: top-level names now in sys.modules. Prints a JSON object {module: [forbidden, ...]}.
_CHILD = """
import importlib, json, sys
modules, forbidden = json.loads(sys.argv[1]), json.loads(sys.argv[2])
found = {}
for name in modules:
    importlib.import_module(name)
    bad = sorted(f for f in forbidden if f in sys.modules)
    if bad:
        found[name] = bad
        break
print(json.dumps(found))
"""


def _modules(package) -> list[str]:
    """``package`` and every module under it (subpackages included), by walking its folder."""
    names = [package.__name__]
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        names.append(info.name)
    return names


def _first_offender(modules: list[str], forbidden: list[str]) -> dict[str, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(modules), json.dumps(forbidden)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_engine_modules_are_found():
    names = _modules(stratsim.engine)
    # The walk reaches the subpackage's modules too, not only the top level.
    assert "stratsim.engine.analysis.sweep" in names
    assert "stratsim.engine.simulation" in names


def test_engine_imports_no_front_end():
    modules = [*_modules(stratsim.engine), "stratsim.format"]
    forbidden = ["textual", "rich", "stratsim.tui", "stratsim.cli"]
    assert _first_offender(modules, forbidden) == {}


def test_tui_does_not_import_cli():
    assert _first_offender(_modules(stratsim.tui), ["stratsim.cli"]) == {}


def test_engine_error_names_the_concept_not_a_cli_flag(monkeypatch):
    """The TUI shows engine errors too, so they name the device, not ``--device``."""
    import torch

    from stratsim.engine.device import resolve_device
    from stratsim.engine.errors import StratsimError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(StratsimError) as info:
        resolve_device("cuda")
    message = str(info.value)
    assert "'cuda' is not available" in message and "cpu" in message
    assert "--" not in message
