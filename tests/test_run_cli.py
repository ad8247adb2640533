"""``stratsim run``: CSV of every KPI per period, the final table, and bad input
(exit 2, one error line on stderr, no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from stratsim.cli import main
from stratsim.engine.kpi import KPIS, OPTIONAL_KPIS, PROBABILITY_KPIS
from stratsim.engine.simulation import Simulation


def test_run_writes_every_kpi_for_every_period_and_prints_the_final_table(tmp_path, capsys):
    out = tmp_path / "out.csv"
    rc = main(["run", "--steps", "24", "--paths", "10000", "--csv", str(out), "--device", "cpu"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "Period 24 of 36 (10000 paths, policy fixed)" in captured.out
    for label in (
        "To C active users",
        "MRR To B",
        "P(cash < 0)",
        "NPV + terminal value",
        "To B CAC payback",
    ):
        assert label in captured.out
    assert f"wrote {out} (24 periods x {len(KPIS)} KPIs)" in captured.err
    df = pd.read_csv(out)
    assert list(df.columns) == ["period", "kpi", "mean", "p10", "p50", "p90"]
    assert len(df) == 24 * len(KPIS)
    assert sorted(df["period"].unique()) == list(range(1, 25))
    for _, group in df.groupby("period"):
        assert list(group["kpi"]) == list(KPIS)
    defined = df[~df.kpi.isin(PROBABILITY_KPIS | OPTIONAL_KPIS)]
    assert defined[["mean", "p10", "p50", "p90"]].notna().all().all()
    assert ((defined["p10"] <= defined["p50"]) & (defined["p50"] <= defined["p90"])).all()
    # Probabilities are reported without quantiles; a CAC is n/a only before any acquisition.
    probs = df[df.kpi.isin(PROBABILITY_KPIS)]
    assert probs["mean"].between(0, 1).all() and probs[["p10", "p50", "p90"]].isna().all().all()
    assert df[(df.kpi == "cac_b") & (df.period == 24)]["mean"].notna().all()
    users = df[df.kpi == "users_c"].sort_values("period")["mean"].tolist()
    assert users[-1] > users[0] > 0


def test_run_csv_holds_the_simulations_numbers(tmp_path, capsys):
    out = tmp_path / "small.csv"
    assert (
        main(
            [
                "run",
                "--steps",
                "5",
                "--paths",
                "300",
                "--seed",
                "7",
                "--csv",
                str(out),
                "--device",
                "cpu",
                "--policy",
                "feedback",
            ]
        )
        == 0
    )
    capsys.readouterr()
    sim = Simulation(seed=7, n_paths=300, device="cpu", policy="feedback")
    sim.run(5)
    expected = sim.kpi_frame()
    got = pd.read_csv(out)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_run_without_steps_uses_the_scenario_horizon(tmp_path, capsys):
    scn = tmp_path / "short.toml"
    scn.write_text("[simulation]\nhorizon_months = 3\n")
    assert main(["run", "--scenario", str(scn), "--paths", "50", "--device", "cpu"]) == 0
    assert "Period 3 of 3" in capsys.readouterr().out


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("stratsim: error:")]
    assert len(errors) == 1, stderr
    assert stderr.rstrip("\n").splitlines()[-1] == errors[0]
    return errors[0]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "stratsim", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize(
    ("paths", "expect"),
    [
        ("0", "0 must be at least 1"),
        ("ten", "'ten' is not an integer"),
        ("-3", "must be at least 1"),
    ],
)
def test_bad_paths_exit_2_subprocess(paths, expect):
    r = cli("run", "--paths", paths, "--steps", "1")
    assert r.returncode == 2
    line = one_error_line(r.stderr)
    assert "--paths" in line and expect in line
    assert r.stdout == ""


def test_missing_scenario_file_exits_2_with_one_line(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    assert (
        main(
            ["run", "--scenario", str(missing), "--steps", "1", "--paths", "10", "--device", "cpu"]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert (
        one_error_line(err)
        == f"stratsim: error: {missing}: cannot read scenario file: No such file or directory"
    )


def test_bad_scenario_value_exits_2_naming_file_and_key(tmp_path, capsys):
    scn = tmp_path / "bad.toml"
    scn.write_text("[to_b]\nlogo_churn = 1.5\n")
    assert (
        main(["run", "--scenario", str(scn), "--steps", "1", "--paths", "10", "--device", "cpu"])
        == 2
    )
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert captured.err.count("\n") == 1
    assert (
        str(scn) in line
        and "key to_b.logo_churn" in line
        and "1.5" in line
        and "expected <= 1" in line
    )


@pytest.mark.parametrize("where", ["missing_folder", "is_a_folder", "under_a_file"])
def test_unwritable_csv_exits_2_before_simulating(tmp_path, capsys, where):
    target = {
        "missing_folder": tmp_path / "no" / "such" / "out.csv",
        "is_a_folder": tmp_path,
        "under_a_file": tmp_path / "f.txt" / "out.csv",
    }[where]
    (tmp_path / "f.txt").write_text("x")
    rc = main(["run", "--steps", "1", "--paths", "10", "--csv", str(target), "--device", "cpu"])
    captured = capsys.readouterr()
    assert rc == 2
    line = one_error_line(captured.err)
    assert str(target) in line
    assert captured.out == ""  # refused before the run: no table printed
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("flag", ["--csv", "--out"])
def test_an_output_never_overwrites_the_scenario(tmp_path, capsys, flag):
    scn = tmp_path / "my.toml"
    scn.write_text('name = "mine"\n')
    before = scn.read_bytes()
    assert (
        main(
            [
                "run",
                "--scenario",
                str(scn),
                flag,
                str(scn),
                "--steps",
                "1",
                "--paths",
                "10",
                "--device",
                "cpu",
            ]
        )
        == 2
    )
    line = one_error_line(capsys.readouterr().err)
    assert f"{flag} would overwrite the file given to --scenario" in line
    assert scn.read_bytes() == before


def test_csv_and_out_must_differ(tmp_path, capsys):
    target = tmp_path / "s.toml"
    assert (
        main(
            [
                "run",
                "--out",
                str(target),
                "--csv",
                str(target),
                "--steps",
                "1",
                "--paths",
                "10",
                "--device",
                "cpu",
            ]
        )
        == 2
    )
    assert "--csv would overwrite the file given to --out" in one_error_line(
        capsys.readouterr().err
    )
    assert not target.exists()


@pytest.mark.parametrize("args", [["--steps", "0x"], ["--policy", "foo"], ["--csv", ""]])
def test_usage_errors_are_one_line(capsys, args):
    assert main(["run", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(see 'stratsim run --help')" in one_error_line(err)


def test_steps_past_the_horizon_warn(tmp_path, capsys):
    scn = tmp_path / "short.toml"
    scn.write_text("[simulation]\nhorizon_months = 2\n")
    assert (
        main(["run", "--scenario", str(scn), "--steps", "4", "--paths", "10", "--device", "cpu"])
        == 0
    )
    err = capsys.readouterr().err
    assert "periods 3..4 lie past the scenario's horizon of 2 months" in err
