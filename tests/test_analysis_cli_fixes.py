"""Regression tests, through the real commands, of defects found in `stratsim sweep`,
`sensitivity` and `optimize`: safe outputs, bound checks in float64, scenario outputs
of optimize, one meaning per name, refused nonsense flags. Small paths and horizons."""

from __future__ import annotations

import json
import os

import pytest

from stratsim.cli import main
from stratsim.engine.analysis import optimize as O
from stratsim.engine.errors import StratsimError

SWEEP = [
    "sweep",
    "--grid",
    "allocation.c_share=0,1",
    "--horizon",
    "1",
    "--paths",
    "4",
    "--device",
    "cpu",
]
SENS = [
    "sensitivity",
    "--params",
    "to_b.win_rate",
    "--shares",
    "0",
    "--horizon",
    "1",
    "--paths",
    "4",
    "--device",
    "cpu",
]
OPT = ["optimize", "--horizon", "2", "--paths", "10", "--budget-evals", "2", "--levers", "c_share"]


def _one_line_error(capsys, needle: str) -> None:
    err = capsys.readouterr().err
    assert needle in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# ------------------------------------------------------------------ safe outputs


@pytest.mark.parametrize("argv, flag", [(SWEEP, "--csv"), (SWEEP, "--parquet"), (SENS, "--csv")])
def test_foreign_file_and_symlink_are_not_replaced(tmp_path, capsys, argv, flag):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    target = tmp_path / "target.csv"
    target.write_text("precious\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert main([*argv, flag, str(notes)]) == 2
    _one_line_error(capsys, "--force")
    assert notes.read_text() == "my notes\n"
    assert main([*argv, flag, str(link)]) == 2
    _one_line_error(capsys, "symbolic link")
    assert target.read_text() == "precious\n" and link.is_symlink()
    # --force replaces the file (and the link itself, never its target)
    assert main([*argv, flag, str(notes), "--force"]) == 0
    assert notes.read_bytes() != b"my notes\n"
    capsys.readouterr()


@pytest.mark.parametrize("argv", [SWEEP, SENS])
def test_own_table_is_replaced_on_rerun(tmp_path, capsys, argv):
    out = tmp_path / "t.csv"
    assert main([*argv, "--csv", str(out)]) == 0
    first = out.read_text()
    assert main([*argv, "--csv", str(out)]) == 0
    assert out.read_text() == first
    capsys.readouterr()


# ------------------------------------------------------- bounds in float64


@pytest.mark.parametrize(
    "argv",
    [
        ["sweep", "--grid", "finance.discount_rate_annual=0.06,0.1"],
        ["sweep", "--grid", "finance.terminal_growth=0.05"],
        ["sensitivity", "--params", "finance.terminal_growth", "--range", "0.9", "--shares", "0"],
    ],
)
def test_values_on_a_bound_are_accepted_at_float32(argv, capsys):
    rc = main([*argv, "--horizon", "1", "--paths", "4", "--device", "cpu", "--dtype", "float32"])
    err = capsys.readouterr().err
    assert rc == 0, err


# ------------------------------------------------------------------ optimize --out


def test_optimize_replaces_its_own_scenario_but_not_a_foreign_file(tmp_path, capsys):
    out = tmp_path / "opt.toml"
    assert main([*OPT, "--out", str(out)]) == 0
    assert "scenario file" in capsys.readouterr().err
    assert main([*OPT, "--out", str(out)]) == 0  # its own earlier output
    capsys.readouterr()
    notes = tmp_path / "notes.txt"
    notes.write_text("x = 1\n")
    assert main([*OPT, "--out", str(notes)]) == 2
    _one_line_error(capsys, "not a stratsim scenario file")
    assert notes.read_text() == "x = 1\n"


def test_quarterly_plan_into_a_scenario_is_refused(tmp_path, capsys):
    out = tmp_path / "q.toml"
    assert main([*OPT, "--schedule", "quarterly", "--out", str(out)]) == 2
    _one_line_error(capsys, "a scenario holds one allocation")
    assert not os.path.exists(out)


def test_optimize_json_names_the_objective_it_used(capsys):
    assert main([*OPT, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["settings"]["objective"] == "npv_total"
    assert any(row["label"].startswith("NPV+TV") for row in data["evaluation"])
    names = {row["name"] for row in data["evaluation"]}
    assert "p_cash_negative_ever" in names and "p_cash_negative" not in names


def test_optimize_help_shows_a_plain_percent_sign(capsys):
    assert main(["optimize", "--help"]) == 0
    out = capsys.readouterr().out
    assert "95%" in out and "%%" not in out


# ----------------------------------------------------- one name, one meaning


def test_p_cash_negative_constraint_refused_with_the_hint():
    with pytest.raises(StratsimError, match="p_cash_negative_ever"):
        O.parse_constraint("p_cash_negative<=0.05")
    c = O.parse_constraint("p_cash_negative_ever<=0.05")
    assert c.is_probability


# ------------------------------------------------------------ refused nonsense


@pytest.mark.parametrize(
    "argv, needle",
    [
        (
            ["sweep", "--grid", "allocation.c_share=0:1:2", "--objective", "p_cash_negative.p10"],
            "no quantiles",
        ),
        (["sensitivity", "--kpi", "p_cash_negative", "--stat", "p10"], "no quantiles"),
        (["sensitivity", "--params", ""], "--params ''"),
        (["sweep", "--grid", "allocation.c_share=0:1:1"], "key allocation.c_share"),
        (["optimize", "--frontier", "3", "--risk", "cvar:0.1:0.5"], "--frontier 3 with --risk"),
    ],
)
def test_nonsense_flags_are_refused(argv, needle, capsys):
    assert main([*argv, "--horizon", "1", "--paths", "4"]) == 2
    _one_line_error(capsys, needle)


def test_sweep_ranks_by_npv_total_by_default(capsys):
    assert main(SWEEP) == 0
    assert "ranked by npv_total mean" in capsys.readouterr().out.replace("\n", " ")


def test_sobol_with_few_samples_warns_of_wide_intervals(capsys):
    argv = ["sensitivity", "--method", "sobol", "--samples", "8", "--params", "to_b.win_rate,to_c.bass_p",
            "--horizon", "2", "--paths", "10", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "confidence intervals exceed the indices" in err
