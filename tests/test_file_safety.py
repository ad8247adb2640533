"""Issue 15, sections 1 and 5, through the real commands: outputs never destroy a file
they were not meant to replace, and every file stratsim reads fails in one line.

Each test reproduces one observed failure of stratsim 0.1.0 (a system file rewritten
through a symlink, ``notes.txt`` overwritten, a traceback after the whole run and the
session lost, UnicodeEncodeError on a non-UTF-8 name, a symlinked model folder accepted,
an edited ``features`` order unnoticed, RecursionError/ValueError/OverflowError
tracebacks)."""

from __future__ import annotations

import io
import os
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from stratsim.cli import main
from stratsim.engine.session import load_session

RUN = ["run", "--steps", "1", "--paths", "10", "--device", "cpu"]


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("stratsim: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def run_main(capsys, *args: str) -> tuple[int, str]:
    rc = main([*args])
    return rc, capsys.readouterr().err


# ====================================================================== outputs


def test_out_through_a_symlink_never_touches_its_target(tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    target = other / "passwd"
    target.write_text("root:x:0:0\n")
    link = tmp_path / "link.toml"
    link.symlink_to(target)
    rc, err = run_main(capsys, *RUN, "--out", str(link))
    assert rc == 2
    line = one_error_line(err)
    assert "--out" in line and "symbolic link" in line and str(target) in line and "--force" in line
    assert target.read_text() == "root:x:0:0\n"
    # --force replaces the link itself, never the file it points to.
    rc, err = run_main(capsys, *RUN, "--out", str(link), "--force")
    assert rc == 0, err
    assert target.read_text() == "root:x:0:0\n"
    assert not link.is_symlink() and load_session(link).simulation.period == 1


def test_out_onto_a_foreign_file_needs_force_but_a_session_is_replaced(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    rc, err = run_main(capsys, *RUN, "--out", str(notes))
    assert rc == 2
    line = one_error_line(err)
    assert "notes.txt" in line and "not a stratsim session file" in line and "--force" in line
    assert notes.read_text() == "my notes\n"
    assert not (tmp_path / "notes.autosave.txt").exists()  # refused before the run
    # A session written by stratsim is the same kind of file: replaced without --force.
    session = tmp_path / "s.toml"
    assert run_main(capsys, *RUN, "--out", str(session))[0] == 0
    assert run_main(capsys, *RUN, "--seed", "3", "--out", str(session))[0] == 0
    assert load_session(session).simulation.seed == 3
    rc, err = run_main(capsys, *RUN, "--out", str(notes), "--force")
    assert rc == 0, err
    assert load_session(notes).simulation.period == 1


def test_a_foreign_file_where_the_run_autosaves_is_refused_before_the_run(tmp_path, capsys):
    auto = tmp_path / "s.autosave.toml"
    auto.write_text("precious = true\n")
    for force in ([], ["--force"]):  # --force confirms --out, not the autosave beside it
        rc, err = run_main(capsys, *RUN, "--out", str(tmp_path / "s.toml"), *force)
        assert rc == 2
        assert "s.autosave.toml" in one_error_line(err) and "autosaves there" in err
        assert auto.read_text() == "precious = true\n" and not (tmp_path / "s.toml").exists()


def test_csv_in_an_unwritable_folder_is_refused_before_the_run(tmp_path, capsys):
    if os.geteuid() == 0:  # root writes through permission bits: use a folder nobody can add to
        if not Path("/proc/self").is_dir():
            pytest.skip("needs /proc (Linux) when running as root")
        ro = Path("/proc")
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
    session = tmp_path / "s.toml"
    rc, err = run_main(capsys, *RUN, "--out", str(session), "--csv", str(ro / "out.csv"))
    assert rc == 2
    line = one_error_line(err)
    assert f"--csv {ro / 'out.csv'}: cannot write in folder {ro}" in line
    assert not (tmp_path / "s.autosave.toml").exists()  # nothing was simulated


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_failing_csv_never_loses_the_session(tmp_path, capsys):
    session = tmp_path / "s.toml"
    rc, err = run_main(capsys, *RUN, "--out", str(session), "--csv", "/dev/full")
    assert rc == 2
    line = one_error_line(err)
    assert (
        "--csv /dev/full: cannot write: No space left on device" in line
        and "s.toml is saved" in line
    )
    assert load_session(session).simulation.period == 1
    assert not (tmp_path / "s.autosave.toml").exists()
    assert Path("/dev/full").is_char_device()  # written in place, never replaced


def test_export_refuses_foreign_files_and_replaces_its_own(tmp_path, capsys):
    session = tmp_path / "s.toml"
    assert run_main(capsys, *RUN, "--out", str(session))[0] == 0
    kpis = tmp_path / "k.csv"
    assert run_main(capsys, "export", str(session), "--csv", str(kpis))[0] == 0
    assert run_main(capsys, "export", str(session), "--csv", str(kpis))[0] == 0  # its own: replaced
    decisions = tmp_path / "k.decisions.csv"
    decisions.write_text("budget notes\n")
    rc, err = run_main(capsys, "export", str(session), "--csv", str(kpis))
    assert rc == 2
    assert "--decisions" in one_error_line(err) and "not a stratsim CSV table" in err
    assert decisions.read_text() == "budget notes\n"
    assert run_main(capsys, "export", str(session), "--csv", str(kpis), "--force")[0] == 0
    assert decisions.read_text().startswith("period,budget,")


def test_output_problem_is_what_a_dialog_asks_about(tmp_path):
    """The engine function the TUI's save-as asks with (no write, no exception)."""
    from stratsim.engine.outputs import output_problem
    from stratsim.engine.session import SESSION_FILE

    assert output_problem(tmp_path / "new.toml", SESSION_FILE) is None
    (tmp_path / "notes.txt").write_text("x\n")
    assert (
        output_problem(tmp_path / "notes.txt", SESSION_FILE)
        == "exists and is not a stratsim session file"
    )
    (tmp_path / "l.toml").symlink_to(tmp_path / "notes.txt")
    assert "symbolic link" in output_problem(tmp_path / "l.toml", SESSION_FILE)
    assert output_problem("/dev/null", SESSION_FILE) is None  # a stream is written in place
    assert output_problem("/dev/stdout", SESSION_FILE) is None  # even when redirected to a file
    (tmp_path / "empty").touch()  # e.g. from mktemp: nothing to lose
    assert output_problem(tmp_path / "empty", SESSION_FILE) is None


def test_non_utf8_file_names_round_trip_through_run_check_export(tmp_path, capsys, monkeypatch):
    """A file name with byte 0xE9 (Latin-1 'é'): run, check and export work, and their
    messages show the byte as \\xe9 even on a strict UTF-8 stdout (a UTF-8 locale)."""
    folder = os.fsencode(tmp_path)
    session = os.fsdecode(folder + b"/plan-\xe9.toml")
    kpis = os.fsdecode(folder + b"/kpis-\xe9.csv")
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)
    monkeypatch.setattr(sys, "stdout", stdout)
    rc, err = run_main(capsys, *RUN, "--out", session)
    assert rc == 0, err
    assert "saved session " in err and "plan-\\xe9.toml" in err
    assert tomllib.loads(Path(session).read_text(encoding="utf-8"))["meta"]["name"] == "plan-\\xe9"
    rc, err = run_main(capsys, "check", session)
    assert rc == 0, err
    assert b"plan-\\xe9.toml: schema 4" in stdout.buffer.getvalue()
    rc, err = run_main(capsys, "export", session, "--csv", kpis)
    assert rc == 0, err
    assert "kpis-\\xe9.csv" in err and Path(kpis).read_text().startswith("period,kpi,")
    # An error about such a file is one printable line too.
    rc, err = run_main(capsys, "check", os.fsdecode(folder + b"/gone-\xe9.toml"))
    assert rc == 2 and "gone-\\xe9.toml" in one_error_line(err)


def test_error_lines_stay_one_printable_line():
    from stratsim.engine.fileio import printable

    assert printable("a\nb\x1b[31m") == "a\\nb\\x1b[31m"
    assert printable(os.fsdecode(b"plan-\xe9.toml")) == "plan-\\xe9.toml"


# ======================================================================= models


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny trained satisfaction model: (TrainResult, folder it was saved to)."""
    from stratsim.engine.data import load_training_data, sample_data_path
    from stratsim.engine.modelsave import save_model
    from stratsim.engine.training import TrainConfig, train_model

    data = load_training_data(sample_data_path("satisfaction"), "satisfaction").subset(
        slice(0, 200)
    )
    result = train_model(
        data, TrainConfig(role="satisfaction", epochs=2, device="cpu", num_threads=1)
    )
    folder = tmp_path_factory.mktemp("proj") / "models"
    save_model(result, folder)
    return result, folder


@pytest.fixture
def model_dir(trained) -> Path:
    return trained[1]


def copy_models(model_dir: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(model_dir, dest)
    return dest


def test_a_symlinked_model_folder_pointing_outside_is_caught(tmp_path, model_dir, capsys):
    project = tmp_path / "project"
    project.mkdir()
    models = copy_models(model_dir, project / "models")
    session = project / "s.toml"
    assert run_main(capsys, *RUN, "--models", str(models), "--out", str(session))[0] == 0
    assert run_main(capsys, "check", str(session))[0] == 0
    # The model folder becomes a link to a folder elsewhere: the path in the session is
    # still "models/satisfaction.pt", but the file lives outside the session's folder.
    outside = tmp_path / "outside"
    models.rename(outside)
    models.symlink_to(outside, target_is_directory=True)
    rc, err = run_main(capsys, "check", str(session))
    assert rc == 2
    line = one_error_line(err)
    assert (
        "models.satisfaction.path" in line and f"resolves to {outside / 'satisfaction.pt'}" in line
    )
    assert "--allow-external-models" in line and "allow_external_models=True" not in line
    assert run_main(capsys, "check", str(session), "--allow-external-models")[0] == 0


def test_an_edited_features_order_is_refused(tmp_path, model_dir, capsys):
    models = copy_models(model_dir, tmp_path / "models")
    meta_path = models / "satisfaction.toml"
    meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))
    assert run_main(capsys, *RUN, "--models", str(models))[0] == 0
    meta["features"] = list(reversed(meta["features"]))  # ux<->functionality: results change
    meta_path.write_text(tomli_w.dumps(meta), encoding="utf-8")
    rc, err = run_main(capsys, *RUN, "--models", str(models))
    assert rc == 2
    line = one_error_line(err)
    assert "satisfaction.toml" in line and "metadata_sha256" in line and "features order" in line


def test_a_foreign_file_in_the_model_folder_is_not_replaced(tmp_path, trained):
    from stratsim.engine.fileio import OutputError
    from stratsim.engine.modelsave import save_model
    from stratsim.engine.trained import load_model

    result, _ = trained
    folder = tmp_path / "m"
    folder.mkdir()
    data = folder / "satisfaction.toml"
    data.write_text("[survey]\nanswers = [1, 2, 3]\n")  # the user's own file, same name
    with pytest.raises(OutputError, match="not a stratsim model metadata file"):
        save_model(result, folder)
    assert data.read_text() == "[survey]\nanswers = [1, 2, 3]\n"
    assert not (folder / "satisfaction.pt").exists()  # both checked before either is written
    save_model(result, folder, force=True)
    save_model(result, folder)  # now its own files: replaced without force
    assert load_model(folder, "satisfaction").features == tuple(result.features)


# ============================================================== every file read


def _deep(n: int) -> str:
    return "[" * n + "]" * n


HOSTILE = {
    "deep nesting": (
        f"[allocation]\nbudget = {_deep(1000)}\n",
        "allocation.budget",
        "nested too deeply",
    ),
    "5,000-digit integer": (
        "[allocation]\nbudget = " + "9" * 5000 + "\n",
        "allocation.budget",
        "5000 digits",
    ),
    "401-digit integer": (
        "[allocation]\nbudget = " + "9" * 401 + "\n",
        "allocation.budget",
        "float64",
    ),
    "float overflow": ("[allocation]\nbudget = 1e400\n", "allocation.budget", "float64"),
    "bad UTF-8": (b'[allocation]\nname = "\xff"\n', "allocation.name", "not UTF-8"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_scenarios_fail_in_one_line(tmp_path, capsys, case):
    text, key, what = HOSTILE[case]
    scenario = tmp_path / "scn.toml"
    scenario.write_bytes(text if isinstance(text, bytes) else text.encode())
    rc, err = run_main(capsys, *RUN, "--scenario", str(scenario))
    assert rc == 2
    line = one_error_line(err)
    assert str(scenario) in line and key in line and what in line


@pytest.fixture(scope="module")
def saved_session(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sess") / "s.toml"
    assert main([*RUN, "--out", str(path)]) == 0
    return path


@pytest.mark.parametrize(
    "value, what",
    [
        ("9" * 401, "401 digits"),
        ("9" * 5000, "5000 digits"),
        (_deep(1000), "nested too deeply"),
        ("1e999", "float64"),
    ],
    ids=["401-digits", "5000-digits", "deep", "1e999"],
)
def test_hostile_session_values_exit_2_not_1(tmp_path, capsys, saved_session, value, what):
    """check's exit 1 means "replay differs": a broken file must be 2, naming the key."""
    text = saved_session.read_text(encoding="utf-8")
    head, sep, tail = text.partition("[[decisions]]\nperiod = 1\nbudget = ")
    assert sep
    path = tmp_path / "hostile.toml"
    path.write_text(head + sep + value + tail[tail.index("\n") :], encoding="utf-8")
    rc, err = run_main(capsys, "check", str(path))
    assert rc == 2
    line = one_error_line(err)
    assert "decisions" in line and "budget" in line and what in line


def test_hostile_model_metadata_fails_in_one_line(tmp_path, model_dir, capsys):
    models = copy_models(model_dir, tmp_path / "models")
    meta_path = models / "satisfaction.toml"
    text = meta_path.read_text(encoding="utf-8")
    meta_path.write_text(
        text.replace("schema_version = 1", "schema_version = " + "1" * 5000, 1), encoding="utf-8"
    )
    rc, err = run_main(capsys, *RUN, "--models", str(models))
    assert rc == 2
    line = one_error_line(err)
    assert "satisfaction.toml" in line and "schema_version" in line and "5000 digits" in line


TOML_PIECES = st.sampled_from(
    [
        "[",
        "]",
        "{",
        "}",
        "=",
        "x",
        "a.b",
        '"',
        "'",
        "1",
        "9" * 5000,
        "1e400",
        "\n",
        ",",
        "[[t]]",
        "inf",
        "\\",
        "#",
        "\xff",
    ]
)


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.lists(TOML_PIECES, max_size=60).map("".join),
        st.integers(1, 3000).map(_deep),
    )
)
def test_the_toml_reader_fails_only_with_the_callers_error(raw):
    """Whatever the bytes, read_toml's parser returns a document or raises the caller's
    error in one line: never RecursionError, ValueError, OverflowError, UnicodeError."""
    from stratsim.engine.errors import ScenarioError
    from stratsim.engine.fileio import parse_toml

    data = (
        raw
        if isinstance(raw, bytes)
        else f"x = {raw}"
        if raw.startswith("[[[")
        else raw.encode("utf-8", "surrogateescape")
    )
    try:
        doc = parse_toml(data, "f.toml", ScenarioError)
    except ScenarioError as exc:
        assert str(exc).startswith("f.toml: ")
    else:
        assert isinstance(doc, dict)
