"""Crash safety: a writer killed at random moments never leaves a broken session, and
SIGHUP/SIGTERM autosave before the process exits."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

from stratsim.engine.session import autosave_path, load_session, save_session
from stratsim.engine.simulation import Simulation

KILLS = 40


def _without_times(doc: dict) -> dict:
    doc = dict(doc)
    doc["meta"] = {k: v for k, v in doc["meta"].items() if k not in ("saved", "created")}
    return doc


class _SlowFile:
    """A file whose ``write`` goes to disk in 8 KiB chunks with a pause between them: a
    slow disk, so that the kills often land in the middle of writing a file (on a fast
    local disk the window is a few microseconds and a writer that truncates the target in
    place would almost never be caught)."""

    def __init__(self, f) -> None:
        self._f = f

    def write(self, data) -> int:
        for i in range(0, len(data), 8192):
            self._f.write(data[i : i + 8192])
            self._f.flush()
            time.sleep(0.001)
        return len(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


def _slow_disk() -> None:
    import builtins

    real_fdopen, real_open = os.fdopen, builtins.open
    os.fdopen = lambda *a, **k: _SlowFile(real_fdopen(*a, **k))
    builtins.open = lambda *a, **k: _SlowFile(real_open(*a, **k))


def _writer(sims: list[Simulation], target: str, started, saves) -> None:
    """Child process: save the two sessions over the target, alternately, forever;
    ``saves`` counts the saves completed."""
    _slow_disk()
    started.set()
    i = 0
    while True:
        i += 1
        save_session(sims[i % 2], target, name=f"session-{i % 2}")
        saves.value = i


def test_sigkill_during_saves_leaves_old_or_new_file(tmp_path):
    # Two sessions of different lengths, so a mix of the two cannot parse as either.
    a = Simulation(seed=1, n_paths=8, device="cpu")
    a.run(24)
    b = Simulation(seed=2, n_paths=8, device="cpu", policy="feedback")
    b.run(36)
    target = tmp_path / "s.toml"
    expected = []
    for i, sim in enumerate((a, b)):
        p = save_session(sim, tmp_path / f"ref{i}.toml", name=f"session-{i}")
        expected.append(_without_times(tomllib.loads(p.read_text(encoding="utf-8"))))
    save_session(a, target, name="session-0")

    ctx = multiprocessing.get_context(
        "fork"
    )  # the child inherits the imported modules: no start-up cost
    rng = random.Random(1234)
    seen = set()
    for _ in range(KILLS):
        started, saves = ctx.Event(), ctx.Value("i", 0, lock=False)
        proc = ctx.Process(target=_writer, args=([a, b], str(target), started, saves), daemon=True)
        proc.start()
        assert started.wait(30)
        # kill after 0, 1 or 2 completed saves, at a random moment of the next one
        wait_for = rng.randint(0, 2)
        while saves.value < wait_for:
            time.sleep(0.001)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
        assert proc.exitcode == -signal.SIGKILL
        doc = _without_times(tomllib.loads(target.read_text(encoding="utf-8")))
        assert doc in expected, "the target is neither the old nor the new session"
        seen.add(doc["meta"]["name"])
    # the target is always a complete session that loads and replays to its history
    assert load_session(target).matches
    assert "session-1" in seen  # the children did replace the initial file
    # kills that landed mid-write left their temporary file behind (never read as a session)
    strays = list(tmp_path.glob(".s.toml.*.tmp"))
    print(f"{len(strays)} of {KILLS} kills landed while a temporary file was being written")


CHILD = textwrap.dedent(
    """
    import sys
    from stratsim.engine.session import install_signal_autosave
    from stratsim.engine.simulation import Simulation

    sim = Simulation(seed=9, n_paths=32, device="cpu", policy="feedback")
    install_signal_autosave(lambda: sim, sys.argv[1])
    sim.step()
    print("ready", flush=True)
    while True:
        sim.step()
    """
)


def test_sighup_leaves_a_valid_autosave_and_exits_129(tmp_path):
    """A lost SSH connection: the process gets SIGHUP while stepping (SIGTERM takes the
    same path; tests/test_session.py checks it in-process)."""
    signum = signal.SIGHUP
    target = tmp_path / "remote.toml"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err
    auto = autosave_path(target)
    assert auto.exists() and not target.exists()
    loaded = load_session(auto)
    assert loaded.simulation.period >= 1
    assert loaded.matches  # the autosave is a complete, consistent session
    assert loaded.meta.name == "remote"
    assert not list(Path(tmp_path).glob(".*.tmp"))
