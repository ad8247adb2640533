"""TUI benchmarks, measured side by side in one run (``python bench/bench_tui.py``).

1. Time to first frame: ``stratsim tui`` against a minimal Textual app, each spawned as
   a subprocess on a pseudo-terminal (80x24) and timed until its first frame's text
   appears in what it writes (stratsim: the splash line "starting stratsim"; the minimal
   app: "hello"), then killed. Runs alternate; medians and the ratio are printed
   (target: ratio <= 1.5, DESIGN.md section 6), and, for reference, the time until
   stratsim's main screen (its footer) is drawn.
2. Key-press latency while training runs: Pilot (headless, 80x24), an MLP training in
   the thread worker; press a key that changes the screen (move the focus with
   ``tab``/``shift+tab``, and switch policy with ``p``, which also recomputes the
   preview) and time until a rendered screen shows the change. Median over presses, with the same measured with
   no training for reference (target: median < 100 ms).

3. Step latency: ``stratsim tui --paths 100000`` (``--step-paths``), press ``n`` and time
   until the header shows the next ``Period N`` (the step, the KPI summary and the redraw;
   target < 200 ms at 100,000 paths).

Options: ``--runs N`` (startup runs per app, default 7), ``--presses N`` (default 20),
``--step-paths N`` (default 100000), ``--steps N`` (step presses, default 10; 0 skips).
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time

MINIMAL_APP = """
from textual.app import App
from textual.widgets import Footer, Header, Static
class Minimal(App):
    def compose(self):
        yield Header()
        yield Static("hello")
        yield Footer()
    def on_mount(self):
        self.call_after_refresh(self.exit)
Minimal().run()
"""


def time_spawn(
    argv: list[str], env: dict[str, str], timeout: float = 60.0, marker: bytes | None = None
) -> float:
    """Seconds from spawn of ``argv`` on a pseudo-terminal (80x24) to its exit, or, with
    ``marker``, to the moment ``marker`` first appears in what it wrote to the terminal
    (the first frame as a person sees it); the process is then killed."""
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    end = t0 + timeout
    seen = b""
    while proc.poll() is None and time.perf_counter() < end:
        r, _, _ = select.select([master], [], [], 0.005)
        if r:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
            if marker is not None and marker in seen:
                dt = time.perf_counter() - t0
                proc.kill()
                proc.wait()
                os.close(master)
                return dt
    proc.wait(timeout=max(0.1, end - time.perf_counter()))
    dt = time.perf_counter() - t0
    os.close(master)
    if marker is not None:
        raise RuntimeError(f"{argv} never showed {marker!r}")
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited with {proc.returncode}")
    return dt


def bench_startup(runs: int) -> None:
    """First frame of ``stratsim tui`` (its splash: status header + "starting stratsim")
    against the first frame of a minimal Textual app ("hello"), alternating runs; also
    the time until stratsim's main screen (footer "Help") is drawn, for reference."""
    env = {**os.environ, "TERM": "xterm-256color"}
    stratsim = [sys.executable, "-m", "stratsim", "tui", "--no-autosave"]
    minimal = [
        sys.executable,
        "-c",
        MINIMAL_APP.replace("self.call_after_refresh(self.exit)", "pass"),
    ]
    with tempfile.TemporaryDirectory() as cwd:
        os.chdir(cwd)
        time_spawn(minimal, env, marker=b"hello")  # warm the file cache for both
        time_spawn(stratsim, env, marker=b"starting")
        a, b, c = [], [], []
        for _ in range(runs):
            a.append(time_spawn(stratsim, env, marker=b"starting"))
            b.append(time_spawn(minimal, env, marker=b"hello"))
            c.append(time_spawn(stratsim, env, marker=b"Help"))
    ma, mb, mc = statistics.median(a), statistics.median(b), statistics.median(c)
    print(f"first frame: stratsim {ma * 1000:.0f} ms, minimal Textual app {mb * 1000:.0f} ms "
          f"(medians of {runs} alternating runs); ratio {ma / mb:.2f} (target <= 1.5)")  # fmt: skip
    print(
        f"main screen drawn: stratsim {mc * 1000:.0f} ms; ratio to the minimal app's first frame {mc / mb:.2f}"
    )


class PtyApp:
    """``stratsim tui`` running in a subprocess on an 80x24 pseudo-terminal, driven and
    read as a person's terminal would be (the measurement never runs in the app's own
    event loop, so it cannot slow the app down)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        import fcntl
        import struct
        import termios

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.buffer = b""

    def read_until(self, markers: tuple[bytes, ...], timeout: float = 60.0) -> float:
        """Read output until one of ``markers`` appears in what arrived since the last
        call; returns the seconds waited. Raises TimeoutError."""
        t0 = time.perf_counter()
        self.buffer = b""
        while time.perf_counter() - t0 < timeout:
            r, _, _ = select.select([self.master], [], [], 0.002)
            if r:
                self.buffer += os.read(self.master, 65536)
                if any(m in self.buffer for m in markers):
                    return time.perf_counter() - t0
        raise TimeoutError(f"none of {markers} appeared within {timeout} s")

    def press(self, key: bytes, markers: tuple[bytes, ...]) -> float:
        """Seconds from writing ``key`` to the terminal until a marker is drawn."""
        self.buffer = b""
        os.write(self.master, key)
        return self.read_until(markers)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self.master)


POLICY_AFTER_P = {b"fixed": b"feedback", b"feedback": b"manual", b"manual": b"fixed"}


def _press_policy(app: PtyApp, current: list[bytes]) -> float:
    """Press ``p`` and time until the header shows the next policy's name."""
    nxt = POLICY_AFTER_P[current[0]]
    t0 = time.perf_counter()
    os.write(app.master, b"p")
    app.buffer = b""
    app.read_until((b"policy " + nxt,))
    current[0] = nxt
    return time.perf_counter() - t0


def bench_latency(presses: int) -> None:
    """Median latency from a key press (``p``: switch policy, which re-renders the header
    and recomputes the preview) to its effect on the terminal, idle and while the privacy
    MLP trains in the app's worker thread."""
    env = {**os.environ, "TERM": "xterm-256color"}
    argv = [sys.executable, "-m", "stratsim", "tui", "--no-autosave", "--epochs", "100000"]
    with tempfile.TemporaryDirectory() as cwd:
        os.chdir(cwd)
        app = PtyApp(argv, env)
        try:
            app.read_until((b"Period 0",))  # engine loaded
            time.sleep(0.5)
            current = [b"fixed"]
            idle = []
            for _ in range(presses):
                idle.append(_press_policy(app, current))
                time.sleep(0.1)
            os.write(app.master, b"t")
            app.read_until((b"Train a model",))
            os.write(app.master, b"4")
            time.sleep(0.2)
            os.write(app.master, b"\r")
            app.read_until((b"samples/s",))
            busy = []
            for _ in range(presses):
                busy.append(_press_policy(app, current))
                time.sleep(0.1)
            os.write(app.master, b"\x1b")  # leave any focus; training may still run
            still = app.proc.poll() is None
        finally:
            app.close()
    mi, mb = statistics.median(idle), statistics.median(busy)
    print(
        f"key to screen (p, policy switch), on a pty: {mb * 1000:.1f} ms while training, "
        f"{mi * 1000:.1f} ms idle (medians of {presses}); target < 100 ms while training"
        + ("" if still else " [app exited early]")
    )


def bench_step_latency(paths: int, steps: int) -> float:
    """Median time from pressing ``n`` (step one month) to the next ``Period N`` on screen,
    in seconds (printed)."""
    env = {**os.environ, "TERM": "xterm-256color"}
    argv = [sys.executable, "-m", "stratsim", "tui", "--no-autosave", "--paths", str(paths)]
    times = []
    with tempfile.TemporaryDirectory() as cwd:
        os.chdir(cwd)
        app = PtyApp(argv, env)
        try:
            app.read_until((b"Period 0",))
            time.sleep(0.5)
            for period in range(1, steps + 1):
                times.append(app.press(b"n", (f"Period {period}/".encode(),)))
                time.sleep(0.2)
        finally:
            app.close()
    print(
        f"key to next period (n), {paths:,} paths, on a pty: median {statistics.median(times) * 1000:.0f} ms, "
        f"min {min(times) * 1000:.0f} ms over {steps} presses; target < 200 ms"
    )
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--presses", type=int, default=20)
    parser.add_argument("--step-paths", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    here = os.getcwd()
    if args.runs:
        bench_startup(args.runs)
    os.chdir(here)
    if args.presses:
        bench_latency(args.presses)
    os.chdir(here)
    if args.steps:
        bench_step_latency(args.step_paths, args.steps)


if __name__ == "__main__":
    main()
