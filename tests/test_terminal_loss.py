"""The terminal vanishes mid-run and mid-training: through a real pseudo-terminal.

Each trial starts ``stratsim tui`` on a fresh pty (80x24), starts a long run to the
horizon (``r``) or a training (``t``), then closes the pty's master side, as a dropped
SSH connection or ``tmux kill-session`` does. Two ways the terminal goes:

* ``hup``: stratsim leads the terminal's session, so the kernel sends it SIGHUP;
* ``eof``: ``sh -c "trap '' HUP; stratsim ...; true"`` leads the session and ignores
  SIGHUP, so stratsim gets no signal at all: only EOF/EIO on the terminal.

Each time the process must be gone within 5 s and the autosave must load and replay to
the same KPIs, holding at least the periods the screen showed. 20 trials in all.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")]

GONE_WITHIN_S = 5.0
#: (what is running when the terminal goes, how it goes) -> trials. 20 in all.
TRIALS = {("run", "hup"): 5, ("run", "eof"): 5, ("train", "hup"): 5, ("train", "eof"): 5}
#: Trials run at once (each mostly waits for its process's start-up).
AT_ONCE = 4
SCENARIO = """
[simulation]
horizon_months = 600
"""


class Pty:
    """A process on a fresh pseudo-terminal; ``screen`` accumulates what it wrote."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

        def controlling_terminal() -> None:  # after setsid: make the pty our terminal
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
            start_new_session=True, preexec_fn=controlling_terminal, close_fds=True,
        )  # fmt: skip
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.output += data

    def text(self) -> str:
        with self._lock:
            return self.output.decode("utf-8", "replace")

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(
            f"{pattern!r} not seen (exit {self.proc.poll()}); last output:\n{self.text()[-2000:]!r}"
        )

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def hang_up(self) -> float:
        """Close the master side (the terminal goes away); returns the time it happened."""
        self._stop.set()
        self._reader.join()
        os.close(self.master)
        return time.monotonic()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _warm_up_session(tmp_path: Path) -> Path:
    from stratsim.engine.session import save_session
    from stratsim.engine.simulation import Simulation

    sim = Simulation(n_paths=10, device="cpu")
    sim.step()
    return save_session(sim, tmp_path / "warm-up.toml")


def _periods_seen(text: str) -> int:
    return max((int(m) for m in re.findall(r"Period (\d+)/600", text)), default=0)


def _trial(tmp_path: Path, what: str, how: str, i: int) -> None:
    from stratsim.engine.session import load_session

    cwd = tmp_path / f"{what}-{how}-{i}"
    cwd.mkdir()
    (cwd / "long.toml").write_text(SCENARIO)
    env = {**os.environ, "TERM": "xterm-256color", "HOME": str(cwd)}
    for var in ("TMUX", "COLUMNS", "LINES", "STRATSIM_EXIT_ON_READY"):
        env.pop(var, None)
    cmd = [
        sys.executable,
        "-m",
        "stratsim",
        "tui",
        "--paths",
        "500",
        "--device",
        "cpu",
        "--scenario",
        "long.toml",
        "--epochs",
        "400",
    ]
    if how == "eof":
        cmd = ["sh", "-c", "trap '' HUP; " + " ".join(cmd) + "; true"]
    term = Pty(cmd, cwd, env)
    try:
        term.wait_for(r"Period 0/600")
        term.send("n")
        term.wait_for(r"Period 1/600")
        if what == "run":
            term.send("r")
            end = time.monotonic() + 30
            while _periods_seen(term.text()) < 4 and time.monotonic() < end:
                time.sleep(0.05)
        else:
            term.send("t")
            term.wait_for(r"Train a model")
            term.send("2\r")  # satisfaction MLP: many epochs, so it is still training
            term.wait_for(r"epoch \d+/400")
        seen = _periods_seen(term.text())
        ended: list[float] = []  # when waitpid returned, taken by a thread blocked in it
        waiter = threading.Thread(
            target=lambda: (term.proc.wait(), ended.append(time.monotonic())), daemon=True
        )
        waiter.start()
        closed = term.hang_up()
        waiter.join(GONE_WITHIN_S + 5)
        gone_after = (ended[0] if ended else time.monotonic()) - closed
        assert ended and gone_after <= GONE_WITHIN_S, (
            f"{what}/{how} #{i}: still running {gone_after:.1f}s after the terminal closed"
        )
    finally:
        term.kill()
    autosave = cwd / "untitled.autosave.toml"
    assert autosave.is_file(), (
        f"{what}/{how} #{i}: no autosave; files: {sorted(p.name for p in cwd.iterdir())}"
    )
    loaded = load_session(autosave)
    assert loaded.matches, (
        f"{what}/{how} #{i}: the autosave does not replay: {loaded.first_difference()}"
    )
    assert loaded.simulation.period >= max(seen, 1), (
        f"{what}/{how} #{i}: autosave at Period {loaded.simulation.period}, screen showed {seen}"
    )


def test_terminal_closed_mid_run_or_training_exits_and_autosaves(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from stratsim.engine.session import load_session

    # import torch before the trials: an import in one thread holds the others up for
    # seconds, which would be counted against the processes being measured
    load_session(_warm_up_session(tmp_path))
    jobs = [(what, how, i) for (what, how), n in TRIALS.items() for i in range(n)]
    with ThreadPoolExecutor(AT_ONCE) as pool:
        futures = [pool.submit(_trial, tmp_path, *job) for job in jobs]
        errors = [str(f.exception()) for f in futures if f.exception() is not None]
    assert not errors, f"{len(errors)} of {len(jobs)} trials failed:\n" + "\n".join(errors)
