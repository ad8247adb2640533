"""Regressions from a newcomer's hostile inputs to `stratsim train` / `run` (data import and
output safety): each case runs the real command (``stratsim.cli.main``) and fails on the
code before the fix."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from stratsim.cli import main
from stratsim.engine.expr import evaluate, parse_expression
from stratsim.engine.outputs import write_bytes
from stratsim.engine.recipefile import RECIPE_FILE

ROWS = 40


def survey(bad_cell: int | None = None, count: bool = True) -> str:
    """A small satisfaction survey (functionality, ux, service_response, satisfaction,
    count); ``bad_cell``: the data row (0-based) whose count is ``abc``."""
    rng = np.random.default_rng(3)
    lines = ["functionality,ux,service_response,satisfaction" + (",count" if count else "")]
    for i in range(ROWS):
        f, u, s = rng.uniform(2, 9, 3).round(1)
        y = round(float(np.clip(0.4 * f + 0.3 * u + 0.2 * s + rng.normal(0, 0.4), 0, 10)), 2)
        c = "abc" if i == bad_cell else str(int(rng.integers(1, 1000)))
        lines.append(f"{f},{u},{s},{y}" + (f",{c}" if count else ""))
    return "\n".join(lines) + "\n"


@pytest.fixture
def data(tmp_path) -> Path:
    p = tmp_path / "survey.csv"
    p.write_text(survey())
    return p


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("stratsim: error:")]
    assert len(lines) == 1, err
    return lines[0]


TRAIN = ["train", "satisfaction", "--epochs", "1", "--quiet"]


# ------------------------------------------------------------------- train outputs


def test_save_recipe_never_replaces_an_unrelated_file_or_a_link(tmp_path, data, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    link = tmp_path / "link.toml"
    link.symlink_to(notes)
    out = tmp_path / "m"
    for target, problem in ((notes, "is not a stratsim recipe file"), (link, "symbolic link")):
        assert (
            main([*TRAIN, "--data", str(data), "--out", str(out), "--save-recipe", str(target)])
            == 2
        )
        line = one_line_error(capsys)
        assert f"--save-recipe {target}" in line and problem in line and "--force" in line
        assert not out.exists()  # refused before any training
    assert notes.read_text() == "my notes\n" and link.is_symlink()
    # --check writes only the recipe: refused the same way
    assert main([*TRAIN, "--data", str(data), "--check", "--save-recipe", str(notes)]) == 2
    assert notes.read_text() == "my notes\n"
    # a recipe is replaced; --force replaces the link by a file, never writing through it
    recipe = tmp_path / "r.toml"
    for _ in range(2):
        assert main([*TRAIN, "--data", str(data), "--check", "--save-recipe", str(recipe)]) == 0
    assert RECIPE_FILE.recognize(recipe)
    assert (
        main([*TRAIN, "--data", str(data), "--check", "--save-recipe", str(link), "--force"]) == 0
    )
    assert (
        not link.is_symlink() and RECIPE_FILE.recognize(link) and notes.read_text() == "my notes\n"
    )


def test_train_checks_every_output_before_reading_the_data(tmp_path, capsys):
    """The data file does not exist: each output problem must be found first."""
    missing = str(tmp_path / "no-such-data.csv")
    notes = tmp_path / "notes.txt"
    notes.write_text("x\n")
    assert main([*TRAIN, "--data", missing, "--out", str(notes)]) == 2
    line = one_line_error(capsys)
    assert f"--out {notes}" in line and "not a folder" in line
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "satisfaction.pt").symlink_to(notes)
    assert main([*TRAIN, "--data", missing, "--out", str(folder)]) == 2
    line = one_line_error(capsys)
    assert "satisfaction.pt" in line and "symbolic link" in line and "--force" in line
    assert notes.read_text() == "x\n"
    assert main([*TRAIN, "--data", missing, "--out", str(tmp_path / ("d" * 300))]) == 2
    assert "too long" in one_line_error(capsys)


def test_retraining_into_a_model_folder_needs_force(tmp_path, data, capsys):
    out = tmp_path / "m"
    assert main([*TRAIN, "--data", str(data), "--out", str(out)]) == 0
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    assert main([*TRAIN, "--data", str(data), "--out", str(out), "--seed", "5"]) == 2
    line = one_line_error(capsys)
    assert "already holds a satisfaction model" in line and "session" in line and "--force" in line
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before
    assert main([*TRAIN, "--data", str(data), "--out", str(out), "--seed", "5", "--force"]) == 0
    assert (out / "satisfaction.pt").read_bytes() != before["satisfaction.pt"]


# ---------------------------------------------------------------- paths that cannot be probed


def test_file_names_too_long_are_one_line_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    long = "a" * 300
    for args in (
        ["run", "--steps", "1", "--paths", "10", "--out", f"{long}.toml"],
        ["run", "--steps", "1", "--paths", "10", "--csv", f"{long}.csv"],
        [*TRAIN, "--out", long],
        [*TRAIN, "--data", f"{long}.csv"],
        ["run", "--steps", "1", "--paths", "10", "--models", long],
    ):
        assert main(args) == 2, args
        line = one_line_error(capsys)
        assert "too long" in line or "255" in line, line


def test_a_name_near_the_limit_is_written(tmp_path):
    """The temporary file beside the output must not be longer than the name itself."""
    target = tmp_path / ("n" * 250)
    write_bytes(target, b"recipe_version = 1\n", RECIPE_FILE)
    assert target.read_bytes() == b"recipe_version = 1\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_no_autosave_beside_a_device(capsys):
    auto = Path("/dev/full.autosave.toml")
    try:
        assert main(["run", "--steps", "2", "--paths", "10", "--out", "/dev/full"]) == 2
        line = one_line_error(capsys)
        assert "no autosave" in line and "/dev/full" in line
        assert not auto.exists()
    finally:
        if auto.exists():  # the old behaviour: clean /dev up
            auto.unlink()


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="no /proc")
def test_an_output_in_a_virtual_folder_says_so(capsys):
    assert main(["run", "--steps", "1", "--paths", "10", "--out", "/proc/stratsim-test.toml"]) == 2
    line = one_line_error(capsys)
    assert "does not take new files" in line and "No such file" not in line
    assert main([*TRAIN, "--out", "/proc/stratsim-test-models"]) == 2
    line = one_line_error(capsys)
    assert "does not take new files" in line and "No such file" not in line


# --------------------------------------------------------------------- derived columns


def test_constant_derive_broadcasts_to_the_rows(tmp_path, data, capsys):
    args = [*TRAIN, "--data", str(data), "--check", "--derive", "z=5", "--derive", "u2=ux*z/5"]
    assert main([*args, "--map", "ux=u2"]) == 0
    assert f"{ROWS} usable rows of {ROWS}" in capsys.readouterr().out
    for expr in ("z=exp(1000)", "z=10**400", "z=1e999", "z=sqrt(-1)"):
        assert (
            main([*TRAIN, "--data", str(data), "--check", "--derive", expr, "--map", "ux=z"]) == 2
        )
        assert "not finite" in one_line_error(capsys)
    col = evaluate(parse_expression("2 * 3"), {}, n=4)
    assert col.values.tolist() == [6.0] * 4


def test_a_bad_cell_in_a_derived_column_is_one_invalid_cell(tmp_path, capsys):
    p = tmp_path / "bad.csv"
    p.write_text(survey(bad_cell=7))
    args = [*TRAIN, "--data", str(p), "--check", "--derive", "z=count*2/200", "--map", "ux=z"]
    assert main(args) == 2
    line = one_line_error(capsys)
    assert str(p) in line and "column 'count'" in line and "row(s) 9" in line and "'abc'" in line
    assert "mult" not in line
    assert main([*args, "--max-missing", "0.1"]) == 0
    captured = capsys.readouterr()
    assert f"{ROWS - 1} usable rows of {ROWS}" in captured.out and "row(s) 9" in captured.err
    # a label column stays labels: arithmetic on it names the operator as written
    q = tmp_path / "labels.csv"
    q.write_text("a,b,satisfaction\n" + "".join(f"x{i},{i % 7},{i % 9}\n" for i in range(20)))
    assert main([*TRAIN, "--data", str(q), "--check", "--derive", "z=a*2", "--map", "ux=z"]) == 2
    assert "'*' needs numbers" in one_line_error(capsys)


# ------------------------------------------------------------------------- reading


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_detected(tmp_path, codec, capsys):
    p = tmp_path / "u16.csv"
    p.write_bytes(survey(count=False).encode(codec))
    assert main([*TRAIN, "--data", str(p), "--check"]) == 0
    captured = capsys.readouterr()
    assert f"encoding {codec}" in captured.err and f"{ROWS} usable rows" in captured.out


def test_messages_never_echo_huge_cells(tmp_path, capsys):
    p = tmp_path / "huge.csv"
    text = survey(count=False)
    head = "functionality,ux,service_response,satisfaction," + "Z" * 100_000 + "\n"
    p.write_text(head + "".join(f"{ln},{'v' * 100_000}\n" for ln in text.splitlines()[1:]))
    assert main([*TRAIN, "--data", str(p), "--check", "--target", "nope"]) == 2
    line = one_line_error(capsys)
    assert "no target column 'nope'" in line and len(line) < 2500
    # one huge cell in a numeric column
    p.write_text(text.replace("\n", "\n" + "1," * 3 + "x" * 100_000 + "\n", 1))
    assert main([*TRAIN, "--data", str(p), "--check"]) == 2
    line = one_line_error(capsys)
    assert "column 'satisfaction'" in line and "row(s) 2" in line and len(line) < 2500


def test_xlsx_formulas_without_values_are_named(tmp_path, capsys):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["functionality", "ux", "service_response", "satisfaction"])
    for i in range(2, 22):
        ws.append([i % 7 + 1, i % 5 + 2, i % 3 + 4, f"=ROUND(0.4*A{i}+0.3*B{i},1)"])
    p = tmp_path / "formulas.xlsx"
    wb.save(p)  # openpyxl stores formulas without computing their values
    assert main([*TRAIN, "--data", str(p), "--check"]) == 2
    line = one_line_error(capsys)
    assert "20 cell(s) hold formulas without saved values" in line and "D2" in line
    assert "spreadsheet program" in line and "labels" not in line


# ------------------------------------------------------------------------- wording


def test_small_wording(tmp_path, data, capsys):
    p = tmp_path / "total.csv"
    p.write_text(survey(count=False) + "Total,,,\n")
    assert main([*TRAIN, "--data", str(p), "--check"]) == 0
    err = capsys.readouterr().err
    assert "total row row" not in err and "(total row)" in err
    assert main([*TRAIN, "--data", str(data), "--check", "--derive", "z=(lambda: 1)()"]) == 2
    line = one_line_error(capsys)
    assert "this call" not in line and "lambda" in line and "+ - * / // % **" in line
    assert "--derive z='(lambda: 1)()'" in line
    recipe = tmp_path / "r.toml"
    recipe.write_text('recipe_version = 1\n[derive]\nz = "nope + 1"\n')
    assert main([*TRAIN, "--data", str(data), "--check", "--recipe", str(recipe)]) == 2
    line = one_line_error(capsys)
    assert "recipe derive z" in line and "--derive" not in line
    args = [
        *TRAIN,
        "--data",
        str(data),
        "--check",
        "--map",
        "functionality=functionality,ux,service_response",
    ]
    assert main([*args, "--min-items", "9"]) == 2
    line = one_line_error(capsys)
    assert "--min-items 9" in line and "functionality" in line and "3 items" in line
    assert main(["run", "--steps", "1", "--paths", "10", "--models", str(data)]) == 2
    assert "not a folder" in one_line_error(capsys)


def test_recipe_file_kind_recognizes_only_recipes(tmp_path):
    r = tmp_path / "r.toml"
    r.write_text('recipe_version = 1\nsep = ";"\n')
    other = tmp_path / "s.toml"
    other.write_text('[meta]\nname = "x"\n')
    assert RECIPE_FILE.recognize(r) and not RECIPE_FILE.recognize(other)
