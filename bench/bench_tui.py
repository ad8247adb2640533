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

Options: ``--runs N`` (startup runs per app, default 7), ``--presses N`` (default 20).
"""

from __future__ import annotations

import argparse
import asyncio
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


def time_spawn(argv: list[str], env: dict[str, str], timeout: float = 60.0, marker: bytes | None = None) -> float:
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
    minimal = [sys.executable, "-c", MINIMAL_APP.replace("self.call_after_refresh(self.exit)", "pass")]
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
    print(f"main screen drawn: stratsim {mc * 1000:.0f} ms; ratio to the minimal app's first frame {mc / mb:.2f}")


async def _latency(presses: int, training: bool) -> dict[str, float]:
    from textual import events

    from stratsim.tui.app import StratsimApp, TuiOptions
    from stratsim.tui.screen_text import screen_text
    from stratsim.tui.training_job import TrainRequest

    with tempfile.TemporaryDirectory() as tmp:
        app = StratsimApp(TuiOptions(device="cpu", check_recovery=False, autosave=False, models_dir=None))
        os.chdir(tmp)
        async with app.run_test(size=(80, 24)) as pilot:
            while not app.engine_ready:
                await pilot.pause(0.05)
            if training:
                app.start_training(TrainRequest("satisfaction", "mlp", epochs=1_000_000, patience=1_000_000, device="cpu"))
                while not app.screen.query_one("#training").val_losses:
                    await pilot.pause(0.05)
            app.screen.query_one("Tabs").focus()
            keys = {"focus move (tab/shift+tab)": ("tab", "shift+tab"), "policy switch (p)": ("p", "p")}
            out: dict[str, list[float]] = {k: [] for k in keys}
            for i in range(presses):
                for label, pair in keys.items():
                    before = screen_text(app)
                    t0 = time.perf_counter()
                    # post the key as the terminal driver does (Pilot.press also waits for
                    # the process to go idle, which never happens while training runs)
                    key = pair[i % 2]
                    app.post_message(events.Key(key, key if len(key) == 1 else None))
                    while screen_text(app) == before:  # rendered frame differs: the update is visible
                        await asyncio.sleep(0.001)
                    out[label].append(time.perf_counter() - t0)
                await asyncio.sleep(0.03)
            if training:
                assert app.training, "training ended early: the latency was not measured under load"
                app.action_cancel()
                while app.training:
                    await pilot.pause(0.05)
        return {k: statistics.median(v) for k, v in out.items()}


def bench_latency(presses: int) -> None:
    idle = asyncio.run(_latency(presses, training=False))
    busy = asyncio.run(_latency(presses, training=True))
    for key in idle:
        print(f"key to screen, {key}: {busy[key] * 1000:.1f} ms while training, "
              f"{idle[key] * 1000:.1f} ms idle (medians of {presses}); ratio {busy[key] / idle[key]:.2f}; "
              f"target < 100 ms while training")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--presses", type=int, default=20)
    args = parser.parse_args()
    here = os.getcwd()
    if args.runs:
        bench_startup(args.runs)
    os.chdir(here)
    bench_latency(args.presses)


if __name__ == "__main__":
    main()
