"""Training refuses data that cannot teach, checks its flags before reading data, and
never destroys its own input or leaves half a model folder (issue 15, sections 6 and 1)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from stratsim.cli import main
from stratsim.engine.data import load_training_data
from stratsim.engine.errors import ModelError
from stratsim.engine.modelsave import save_model
from stratsim.engine.recipe import Recipe
from stratsim.engine.trained import load_models
from stratsim.engine.training import TrainConfig, train_model

REPO = Path(__file__).resolve().parents[1]
HEAD = "functionality,ux,service_response,satisfaction"


def survey(tmp_path: Path, rows=None, head: str = HEAD, name: str = "s.csv") -> Path:
    rows = rows or [(i % 10, (i * 3) % 10, (i * 7) % 10, (i * 5) % 10) for i in range(40)]
    p = tmp_path / name
    p.write_text(head + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return p


def one_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("stratsim: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def train(*args: str) -> int:
    return main(["train", *args, "--epochs", "2", "--quiet"])


def test_constant_feature_column_refused(tmp_path, capsys):
    rows = [(5, (i * 3) % 10, (i * 7) % 10, (i * 5) % 10) for i in range(40)]
    assert (
        train("satisfaction", "--data", str(survey(tmp_path, rows)), "--out", str(tmp_path / "m"))
        == 2
    )
    line = one_error(capsys)
    assert "functionality" in line and "every row is 5" in line and "--set functionality=" in line
    assert not (tmp_path / "m").exists()


def test_constant_target_refused(tmp_path, capsys):
    rows = [(i % 10, (i * 3) % 10, (i * 7) % 10, 7) for i in range(40)]
    assert (
        train("satisfaction", "--data", str(survey(tmp_path, rows)), "--out", str(tmp_path / "m"))
        == 2
    )
    assert "target column 'satisfaction': every usable row is 7" in one_error(capsys)


def test_one_class_test_split_is_avoided_by_stratification(tmp_path):
    # 3 positives in 60 rows: an unstratified (or rounding) split leaves the test split
    # without a positive and ROC-AUC undefined.
    head = "records_log10,security_posture,enterprise_share,third_party_access,incident"
    rows = [(3 + i % 5, i % 10, (i % 10) / 10, i % 2, int(i in (7, 30, 51))) for i in range(60)]
    d = load_training_data(survey(tmp_path, rows, head), "privacy")
    res = train_model(d, TrainConfig(role="privacy", epochs=2, device="cpu"))
    _, val, test = res.split
    assert d.y[test.numpy()].sum() == 1 and d.y[val.numpy()].sum() == 1
    assert np.isfinite(res.test_metrics["roc_auc"])
    # a label target of the satisfaction role is stratified too
    rows2 = [
        (i % 10, (i * 3) % 10, (i * 7) % 10, "yes" if i in (3, 20, 44) else "no") for i in range(60)
    ]
    p = survey(tmp_path, rows2, name="lab.csv")
    d2 = load_training_data(p, "satisfaction", recipe=Recipe(positive=("yes",)))
    res2 = train_model(d2, TrainConfig(role="satisfaction", epochs=2, device="cpu"))
    assert d2.y[res2.split[2].numpy()].max() == 10.0


def test_two_positives_refused(tmp_path, capsys):
    head = "records_log10,security_posture,enterprise_share,third_party_access,incident"
    rows = [(3 + i % 5, i % 10, (i % 10) / 10, i % 2, int(i in (7, 30))) for i in range(60)]
    assert (
        train("privacy", "--data", str(survey(tmp_path, rows, head)), "--out", str(tmp_path)) == 2
    )
    assert "only 2 row(s) of one class" in one_error(capsys)


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (
            ["--target", "functionality"],
            "'functionality' is both the target and feature functionality",
        ),
        (["--map", "ux=satisfaction"], "'satisfaction' is both the target and feature ux"),
        (
            ["--derive", "u2=satisfaction / 2", "--map", "ux=u2"],
            "feature ux (u2) and the target 'satisfaction' are both made from column 'satisfaction'",
        ),
    ],
)
def test_target_used_as_a_feature_refused(tmp_path, capsys, flags, needle):
    assert (
        train("satisfaction", "--data", str(survey(tmp_path)), *flags, "--out", str(tmp_path)) == 2
    )
    assert needle in one_error(capsys)


def test_names_colliding_after_stripping_and_exact_duplicates(tmp_path, capsys):
    rows = [(i % 10, (i * 3) % 10, (i * 7) % 10, (i * 5) % 10, i % 3) for i in range(40)]
    p = survey(tmp_path, rows, HEAD + ",functionality ")
    assert train("satisfaction", "--data", str(p), "--out", str(tmp_path)) == 2
    line = one_error(capsys)
    assert "columns 1 and 5 are named 'functionality', 'functionality '" in line
    p = survey(tmp_path, rows, HEAD + ",ux", name="dup.csv")
    assert train("satisfaction", "--data", str(p), "--out", str(tmp_path)) == 2
    assert "columns 2 and 5 are both named 'ux'" in one_error(capsys)


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--model", "mlp", "--hidden", "100000,100000"], "more than the 10,000,000 allowed"),
        (["--lr", "-1"], "learning rate must be a positive number"),
        (["--lr", "nan"], "learning rate must be a positive number"),
        (["--model", "logistic"], "privacy model"),
        (["--hidden", "64,x"], "--hidden '64,x'"),
    ],
)
def test_flags_checked_before_any_data_is_read(tmp_path, capsys, flags, needle):
    # The data file does not exist: the flag's error must come first.
    assert (
        train("satisfaction", "--data", str(tmp_path / "nope.csv"), *flags, "--out", str(tmp_path))
        == 2
    )
    line = one_error(capsys)
    assert needle in line and "nope.csv" not in line


def test_unavailable_device_checked_before_data(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert train("satisfaction", "--data", str(tmp_path / "nope.csv"), "--device", "cuda") == 2
    line = one_error(capsys)
    assert "'cuda' is not available" in line and "nope.csv" not in line


def test_train_does_not_overwrite_its_own_input(tmp_path, capsys):
    out = tmp_path / "m"
    assert train("satisfaction", "--out", str(out)) == 0
    capsys.readouterr()
    before = (out / "satisfaction.toml").read_bytes()
    assert train("satisfaction", "--data", str(out / "satisfaction.toml"), "--out", str(out)) == 2
    assert "would overwrite the file given to --data" in one_error(capsys)
    assert (out / "satisfaction.toml").read_bytes() == before


def test_non_utf8_file_names_round_trip(tmp_path):
    data = survey(tmp_path)
    bad_data = os.fsencode(tmp_path) + b"/survey-\xe9.csv"
    os.rename(data, bad_data)
    bad_out = os.fsencode(tmp_path) + b"/m-\xe9"
    env = {**os.environ, "PYTHONPATH": str(REPO), "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": ""}
    cmd = [sys.executable, "-m", "stratsim", "train", "satisfaction", "--epochs", "2"]
    p = subprocess.run(
        [*map(os.fsencode, cmd), b"--data", bad_data, b"--out", bad_out],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert b"Traceback" not in p.stderr and b"survey-\\xe9.csv" in p.stderr
    assert set(load_models(os.fsdecode(bad_out))) == {"satisfaction"}
    meta = tomllib.loads((Path(os.fsdecode(bad_out)) / "satisfaction.toml").read_text())
    assert meta["data"]["source"].endswith("survey-\\xe9.csv")


def test_model_folder_is_written_completely_or_not_at_all(tmp_path, monkeypatch):
    d = load_training_data(survey(tmp_path), "satisfaction")
    old = train_model(d, TrainConfig(role="satisfaction", epochs=1, device="cpu"))
    new = train_model(d, TrainConfig(role="satisfaction", epochs=3, device="cpu", seed=5))
    out = tmp_path / "m"
    save_model(old, out)
    (out / "notes.txt").write_text("mine")
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd):
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(28, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(ModelError, match="No space left"):
        save_model(new, out)
    monkeypatch.undo()
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "s.csv"]  # no temporary left
    save_model(new, out)
    assert (out / "notes.txt").read_text() == "mine"
    assert load_models(out)["satisfaction"].metadata["hyperparameters"]["seed"] == 5


def test_model_folder_writer_never_writes_through_links(tmp_path):
    from stratsim.engine.modelfolder import write_model_files

    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text("precious")
    for layout in ("flat", "with-subfolder"):
        d = tmp_path / layout
        d.mkdir()
        if layout == "with-subfolder":
            (d / "sub").mkdir()
        (d / "satisfaction.toml").symlink_to(elsewhere)
        (d / "keep.csv").write_text("a,b\n")
        write_model_files(d, {"satisfaction.pt": b"w", "satisfaction.toml": b"m"})
        assert elsewhere.read_text() == "precious"
        assert not (d / "satisfaction.toml").is_symlink()
        assert (d / "satisfaction.toml").read_bytes() == b"m" and (d / "keep.csv").exists()
    new = tmp_path / "new" / "m"
    write_model_files(new, {"privacy.pt": b"w", "privacy.toml": b"m"})
    assert sorted(p.name for p in new.iterdir()) == ["privacy.pt", "privacy.toml"]
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["m"]
