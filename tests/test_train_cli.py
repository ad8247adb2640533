"""`stratsim train`: JSON output, saved files, real data, bad input -> exit 2 without traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stratsim.cli import main
from stratsim.engine.trained import load_models

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(__file__).parents[2] / "shared" / "realdata"


def realdata(name: str) -> Path:
    p = REALDATA / name
    if not p.exists():
        pytest.skip("../shared/realdata not found")
    return p


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}
    return subprocess.run(
        [sys.executable, "-m", "stratsim", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        env=env,
        timeout=120,
    )


def test_train_satisfaction_json_in_process(tmp_path, capsys):
    out = tmp_path / "m"
    code = main(["train", "satisfaction", "--out", str(out), "--json", "--epochs", "8"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    res = json.loads(captured.out)
    assert res["role"] == "satisfaction" and res["kind"] == "linear"
    assert {"r2", "mae"} <= set(res["metrics"]) and res["metrics"]["r2"] > 0.8
    assert res["coefficients"]["functionality"] == pytest.approx(0.45, rel=0.1)
    assert res["epochs_run"] <= 8 and res["rows_used"] == 10_000
    assert (out / "satisfaction.pt").exists() and (out / "satisfaction.toml").exists()
    assert set(load_models(out)) == {"satisfaction"}


def test_train_privacy_subprocess_default_out(tmp_path):
    p = run_cli("train", "privacy", "--json", "--epochs", "3", "--model", "mlp", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["kind"] == "mlp" and res["metrics"]["roc_auc"] > 0.8
    assert 0 < res["metrics"]["brier"] < 0.1 and len(res["reliability"]) >= 3
    assert "Traceback" not in p.stderr
    assert (tmp_path / "models" / "privacy.pt").exists()  # default --out is ./models


def test_table_output(tmp_path, capsys):
    code = main(["train", "privacy", "--out", str(tmp_path), "--epochs", "2", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "ROC-AUC" in out and "Brier score" in out and "reliability" in out
    assert "coefficients" in out and "saved" in out


def test_ecsi_realdata_beats_the_mean(tmp_path, capsys):
    path = realdata("ecsi_mobi_survey.csv")
    args = ["train", "satisfaction", "--data", str(path), "--scale", "1:10"]
    args += ["--map", "functionality=PERQ2,PERQ4,PERQ5,PERQ6", "--map", "ux=PERQ7"]
    args += ["--map", "service_response=PERQ3,CUSCO", "--target", "CUSA1"]
    args += ["--out", str(tmp_path), "--json"]
    assert main(args) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["rows_used"] == 250
    assert res["metrics"]["r2"] > 0  # beats predicting the mean on the held-out split
    assert res["coefficients"]["functionality"] > 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--data", "nope.csv"], "nope.csv: file not found"),
        (["--map", "ux"], "expected FEATURE=COLUMN"),
        (["--scale", "10:1"], "--scale"),
        (["--target", "nope"], "no target column 'nope'"),
        (["--model", "logistic"], "privacy model"),
        (["--epochs", "0"], "--epochs: 0 must be at least 1"),
        (["--device", "cuda"], "'cuda' is not available"),
    ],
)
def test_bad_input_exit_2_one_line(tmp_path, capsys, args, needle):
    if "cuda" in args:
        import torch

        if torch.cuda.is_available():
            pytest.skip("CUDA is available here")
    code = main(["train", "satisfaction", "--out", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("stratsim: error:")]
    assert len(lines) == 1 and "Traceback" not in err
    assert re.search(needle, lines[0]), lines[0]


def test_bad_labels_and_divergence(tmp_path, capsys):
    telco = realdata("telco_customer_churn.csv")
    mapping = [f"--map={f}=SeniorCitizen" for f in ("records_log10", "security_posture")]
    mapping += [f"--map={f}=SeniorCitizen" for f in ("enterprise_share", "third_party_access")]
    args = ["train", "privacy", "--data", str(telco), *mapping, "--target", "Contract"]
    assert main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "column 'Contract'" in err and "row(s) 2, 3, 4" in err and str(telco) in err

    # A saved model survives a diverging run into the same folder.
    out = tmp_path / "m"
    assert main(["train", "satisfaction", "--out", str(out), "--epochs", "2", "--quiet"]) == 0
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    args = ["train", "satisfaction", "--out", str(out), "--lr", "1e30", "--epochs", "3", "--force"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "diverged" in err and "Traceback" not in err
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before


def test_help_mentions_mapping(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--map" in out and "--scale" in out and "--missing" in out
