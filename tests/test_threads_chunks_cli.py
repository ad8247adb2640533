"""The one torch thread policy (engine.device.configure_threads) at every entry point, and
``stratsim run`` in chunks (--chunk-paths; automatic above 5,000,000 paths)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from stratsim.cli import main
from stratsim.engine import device
from stratsim.engine.chunked import ChunkedRun
from stratsim.engine.errors import StratsimError


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_policy_one_thread_below_the_threshold_explicit_count_wins():
    torch.set_num_threads(2)
    assert device.configure_threads(0, 10_000) == 1 == torch.get_num_threads()
    assert device.configure_threads(None, None) == 1  # size unknown (training): one thread
    assert device.configure_threads(3, 10) == 3
    default = device._TORCH_DEFAULT[0]
    assert device.configure_threads(0, device.SINGLE_THREAD_BELOW_PATHS) == default
    with pytest.raises(StratsimError, match="threads -1: expected an integer >= 0"):
        device.configure_threads(-1, 10)


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--steps", "1", "--paths", "50", "--device", "cpu"],
        ["train", "--role", "satisfaction", "--help"],
    ],
)
def test_entry_points_apply_the_policy(argv, capsys):
    torch.set_num_threads(2)
    try:
        rc = main(argv)
    except SystemExit as exc:  # --help
        rc = exc.code
    capsys.readouterr()
    assert rc == 0
    if argv[0] == "run":
        assert torch.get_num_threads() == 1


def test_check_and_tui_accept_threads(tmp_path, capsys):
    session = tmp_path / "s.toml"
    assert (
        main(["run", "--steps", "2", "--paths", "40", "--device", "cpu", "--out", str(session)])
        == 0
    )
    torch.set_num_threads(2)
    assert main(["check", str(session), "--threads", "0"]) == 0
    assert torch.get_num_threads() == 1  # set before the replay
    assert main(["check", str(session), "--threads", "2"]) == 0
    assert torch.get_num_threads() == 2
    capsys.readouterr()
    assert main(["tui", "--threads", "x"]) == 2
    assert "argument --threads: 'x' is not an integer" in capsys.readouterr().err


def test_run_in_chunks_writes_the_merged_summary(tmp_path, capsys):
    out = tmp_path / "chunked.csv"
    argv = [
        "run",
        "--steps",
        "2",
        "--paths",
        "900",
        "--chunk-paths",
        "400",
        "--seed",
        "3",
        "--device",
        "cpu",
    ]
    assert main([*argv, "--csv", str(out)]) == 0
    captured = capsys.readouterr()
    assert "Period 2 of 36 (900 paths, policy fixed)" in captured.out
    run = ChunkedRun(seed=3, n_paths=900, chunk_paths=400, device="cpu")
    run.run(2)
    df = pd.read_csv(out)
    want = run.kpi_frame()
    assert len(df) == len(want)
    for col in ("mean", "p50"):
        for g, w in zip(df[col], want[col], strict=True):
            assert (math.isnan(g) and math.isnan(w)) or math.isclose(g, w, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--out", "s.toml"], "--out s.toml: --chunk-paths cannot be saved as a session"),
        (["--policy", "feedback"], "--policy feedback: --chunk-paths needs --policy fixed"),
        (["--chunk-paths", "0"], "argument --chunk-paths:"),
    ],
)
def test_chunked_refusals_are_one_line(extra, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = [
        "run",
        "--steps",
        "1",
        "--paths",
        "100",
        "--chunk-paths",
        "50",
        "--device",
        "cpu",
        *extra,
    ]
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "s.toml").exists()


def test_over_the_simulation_limit_runs_chunked_and_over_the_chunked_limit_is_refused(capsys):
    with pytest.raises(StratsimError, match="paths 100000001: expected an integer in 1..100000000"):
        ChunkedRun(n_paths=100_000_001)
    assert main(["run", "--steps", "1", "--paths", "100000001", "--device", "cpu"]) == 2
    assert "paths 100000001: expected an integer in 1..100000000" in capsys.readouterr().err
