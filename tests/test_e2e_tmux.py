"""End to end through a real terminal: stratsim in a detached tmux session at 80x24.

Steps three periods, trains the satisfaction model, saves, quits, then reopens the
saved file and checks the period and the model. Skipped when tmux is missing. Every
process it starts is gone when it ends: ``kill-session`` hangs up the pane (stratsim must
then exit by itself within 5 s), anything left is killed, and the private tmux server is
stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


class Pane:
    def __init__(self, cwd, env, command: list[str]) -> None:
        self.name = f"stratsim-e2e-{uuid.uuid4().hex[:8]}"
        self.env = env
        cmd = " ".join(command)
        subprocess.run(
            [TMUX, "-f", "/dev/null", "new-session", "-d", "-s", self.name, "-x", "80", "-y", "24", "-c", str(cwd), cmd],
            check=True, env=env,
        )  # fmt: skip
        out = subprocess.run(
            [TMUX, "display-message", "-p", "-t", self.name, "#{pane_pid}"],
            capture_output=True,
            text=True,
            env=env,
        )
        self.pid = int(out.stdout.strip())  # the pane's process: it leads its own process group

    def text(self) -> str:
        out = subprocess.run(
            [TMUX, "capture-pane", "-p", "-t", self.name],
            capture_output=True,
            text=True,
            env=self.env,
        )
        return out.stdout

    def keys(self, *keys: str) -> None:
        for k in keys:
            subprocess.run([TMUX, "send-keys", "-t", self.name, k], check=True, env=self.env)
            time.sleep(0.15)

    def wait_for(self, needle: str, timeout: float = 40.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.text()
            if needle in text:
                return text
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} not on screen after {timeout}s:\n{self.text()}")

    def alive(self) -> bool:
        return (
            subprocess.run(
                [TMUX, "has-session", "-t", self.name], capture_output=True, env=self.env
            ).returncode
            == 0
        )

    def running(self) -> bool:
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z"

    def kill(self) -> float:
        """Hang up the pane and wait until its process is gone (SIGKILL after 10 s, so
        nothing outlives the test); returns how long it took to go by itself."""
        start = time.monotonic()
        subprocess.run([TMUX, "kill-session", "-t", self.name], capture_output=True, env=self.env)
        while self.running() and time.monotonic() - start < 10:
            time.sleep(0.05)
        took = time.monotonic() - start
        if self.running():
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)
        return took


def stop_server(env) -> None:
    subprocess.run([TMUX, "kill-server"], capture_output=True, env=env)


@pytest.fixture
def env(tmp_path):
    """Environment of a private tmux server (its socket under tmp_path), stopped after."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "TMUX_TMPDIR": str(tmp_path), "TERM": "xterm-256color"}
    env.pop("TMUX", None)
    yield env
    stop_server(env)


def test_step_train_save_reopen(tmp_path, env):
    base = [sys.executable, "-m", "stratsim"]
    pane = Pane(tmp_path, env, [*base, "tui", "--paths", "200", "--device", "cpu", "--epochs", "3"])
    try:
        pane.wait_for("Period 0/36", timeout=60)
        pane.keys("n", "n", "n")
        pane.wait_for("Period 3/36")
        pane.keys("t")
        pane.wait_for("Train a model")
        pane.keys("Enter")
        pane.wait_for("Use the new satisfaction model?", timeout=60)
        pane.keys("1")  # from the next period: Periods 1..3 keep their numbers
        screen = pane.wait_for("satisfaction=linear (trained")
        pane.keys("s")
        pane.wait_for("Save session as")
        pane.keys("Enter")
        screen = pane.wait_for(" saved ")
        assert "Period 3/36" in screen
        assert "satisfaction=linear (trained" in screen
        assert (tmp_path / "session.toml").is_file()
        assert len(list((tmp_path / "models").glob("satisfaction-*/satisfaction.pt"))) == 1
        pane.keys("q")
        end = time.monotonic() + 10
        while pane.alive() and time.monotonic() < end:
            time.sleep(0.2)
        assert not pane.alive(), "q on a saved session should quit without asking"
    finally:
        pane.kill()

    pane = Pane(tmp_path, env, [*base, "tui", "session.toml", "--device", "cpu"])
    try:
        screen = pane.wait_for("Period 3/36", timeout=60)
        assert "session" in screen.splitlines()[0]
        assert "satisfaction=linear (trained" in screen
        pane.keys("n")
        pane.wait_for("Period 4/36")
        took = pane.kill()  # the terminal goes with a modified session: autosave, exit
        assert took < 5 and not pane.running(), (
            f"stratsim still running {took:.1f}s after tmux kill-session"
        )
        assert (tmp_path / "session.autosave.toml").is_file()
    finally:
        pane.kill()
