"""A terminal that can vanish: detect it, treat it like SIGHUP, and never hang on exit.

Over SSH or tmux the terminal can disappear at any moment. Three cases, all handled here:

* The kernel sends SIGHUP (we lead the terminal's session): the session store's signal
  handler autosaves (:func:`stratsim.engine.session.install_signal_autosave`).
* No SIGHUP arrives (``sh -c "trap '' HUP; stratsim"``: the shell leads the session and
  ignores it): reads then return EOF (``b""``) or fail with EIO, and Textual's input
  thread spins forever. :class:`StratsimDriver` watches the terminal
  (``termios.tcgetattr`` fails with EIO on a hung-up terminal; a read that fails with
  EIO stops the input thread) and calls :func:`terminal_lost`, which raises SIGHUP in
  this process, so the same autosave path runs.
* After the autosave the app exits, but Textual's shutdown writes to the dead terminal
  through a bounded writer queue whose thread died on EIO (the main thread then blocks
  forever in ``queue.put``), and running thread workers (a replay at a million paths,
  training) keep the interpreter alive. :func:`exit_within` bounds that: the process
  ends ``grace`` seconds later whatever is still running (``os._exit`` after trying to
  reset the terminal's modes). A quit with a worker still running
  (:func:`exit_after_restore`) counts that time from when Textual gave the terminal
  back, so the shell is left clean.

Measured on a 2-core machine (``tests/test_terminal_loss.py``): with the terminal closed
mid-run or mid-training, the process was gone within 5 s in every trial, and the autosave
held the last period simulated.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

from . import glyphs

#: How often the terminal is checked (seconds).
POLL_S = 0.2
#: Sequences that undo what Textual set on the terminal: leave the alternate screen, show
#: the cursor, mouse reporting, bracketed paste, focus events and the Kitty keyboard off.
RESET_SEQUENCE = (
    b"\x1b[<u\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l"
    b"\x1b[?2004l\x1b[?1004l\x1b[?7h"
)
#: A quit's bound on the exit (:func:`exit_after_restore`) when the terminal is never
#: given back (the UI thread hangs in Textual's shutdown): seconds from the quit.
RESTORE_BACKSTOP_S = 10.0
_HUP = getattr(signal, "SIGHUP", None)
_lost_once = threading.Event()
#: Set once the driver gave the terminal back (left application mode): a forced exit
#: then writes nothing more to it.
_restored = threading.Event()
#: (code, grace) of the bounded exits that wait for the terminal to be given back.
_after_restore: list[tuple[int, float]] = []


def terminal_alive(fd: int) -> bool:
    """False once the terminal on ``fd`` has hung up (``tcgetattr`` fails: EIO on Linux,
    ENXIO/EBADF/ENOTTY elsewhere). True when it answers, or when ``fd`` was never a
    terminal (nothing to watch)."""
    import termios

    try:
        termios.tcgetattr(fd)
    except termios.error as exc:
        code = exc.args[0] if exc.args else None
        return code not in (errno.EIO, errno.ENXIO, errno.EBADF, errno.ENOTTY)
    return True


def terminal_lost() -> None:
    """The terminal is gone: act as if SIGHUP arrived (once per process).

    When a Python handler is installed for SIGHUP (the TUI's autosave), SIGHUP is sent to
    this process so that handler runs on the main thread. Otherwise (no session to save
    yet, ``--no-autosave``, or SIGHUP ignored by the parent shell) the process exits at
    once with status 129, as SIGHUP's default action would end it.
    """
    if _lost_once.is_set():
        return
    _lost_once.set()
    handler = signal.getsignal(_HUP) if _HUP is not None else None
    if _HUP is not None and callable(handler):
        os.kill(os.getpid(), _HUP)
        return
    _reset_and_exit(128 + (_HUP or 1))


def _reset_and_exit(code: int) -> None:
    """Try to reset the terminal's modes without blocking (unless the driver already gave
    the terminal back: a second "leave the alternate screen" would move the shell's
    cursor), then end the process now."""
    if _restored.is_set():
        os._exit(code)
    for stream in (sys.__stderr__, sys.__stdout__):
        with contextlib.suppress(Exception):
            fd = stream.fileno()
            if os.isatty(fd):
                os.set_blocking(fd, False)
                os.write(fd, RESET_SEQUENCE)
                break
    os._exit(code)


def exit_within(code: int, grace: float = 1.5) -> threading.Thread:
    """End the process with ``code`` after ``grace`` seconds unless it ended before.

    Call right after the autosave on a signal: a normal exit usually takes well under a
    second, but it can block forever on a dead terminal or wait for a worker thread.
    Also ends the process as soon as the interpreter starts its own exit (an ``atexit``
    hook, which runs once the non-daemon threads are done): tearing down torch's modules
    took seconds on a busy machine, and no daemon thread runs during that teardown, so the
    timer alone could not end it. Returns the (daemon) timer thread.
    """

    def later() -> None:
        time.sleep(grace)
        _reset_and_exit(code)

    def now() -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)

    atexit.register(now)
    t = threading.Thread(target=later, name="stratsim-exit-within", daemon=True)
    t.start()
    return t


def exit_after_restore(
    code: int, grace: float, backstop: float = RESTORE_BACKSTOP_S
) -> threading.Thread:
    """The bounded exit of a quit: like :func:`exit_within`, but the ``grace`` seconds
    count from when the driver gave the terminal back (:func:`terminal_restored`), so a
    slow shutdown (a busy machine after a resize storm) is never cut before Textual has
    left the alternate screen and restored the terminal's modes; ``backstop`` seconds
    from now bound it if that never happens. Returns the backstop's timer thread."""
    if _restored.is_set():
        return exit_within(code, grace)
    _after_restore.append((code, grace))
    return exit_within(code, backstop)


def terminal_restored() -> None:
    """Called by the driver once it left application mode: start the waiting exits."""
    _restored.set()
    while _after_restore:
        code, grace = _after_restore.pop(0)
        exit_within(code, grace)


class TerminalWatch(threading.Thread):
    """Calls ``on_lost()`` once when the terminal on ``fd`` hangs up (checked every
    :data:`POLL_S` seconds); stop it with :meth:`stop`."""

    def __init__(self, fd: int, on_lost: Callable[[], object] = terminal_lost) -> None:
        super().__init__(name="stratsim-terminal-watch", daemon=True)
        self.fd = fd
        self.on_lost = on_lost
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(POLL_S):
            if not terminal_alive(self.fd):
                self.on_lost()
                return

    def stop(self) -> None:
        self._stop_event.set()


def driver_class() -> type | None:
    """:class:`StratsimDriver` on Linux/macOS; None (Textual's own choice) on Windows or
    when ``TEXTUAL_DRIVER`` names another driver (``textual serve`` runs the app with its
    web driver that way)."""
    if sys.platform == "win32" or os.environ.get("TEXTUAL_DRIVER"):
        return None
    return _make_driver()


def _make_driver() -> type:
    from textual.drivers.linux_driver import LinuxDriver

    class StratsimDriver(LinuxDriver):
        """Textual's Linux driver, plus: a hung-up terminal (EOF or EIO) is a lost terminal
        (:func:`terminal_lost`), not a crash with a traceback nor a spinning input thread;
        in ASCII mode (:mod:`stratsim.tui.glyphs`) every character written is ASCII."""

        _watch: TerminalWatch | None = None

        def write(self, data: str) -> None:
            if glyphs.is_ascii():
                data = glyphs.to_ascii(data)
            super().write(data)

        def start_application_mode(self) -> None:
            _restored.clear()  # (again after a suspend)
            super().start_application_mode()
            if os.isatty(self.fileno):
                self._watch = TerminalWatch(self.fileno)
                self._watch.start()

        def stop_application_mode(self) -> None:
            if self._watch is not None:
                self._watch.stop()
            super().stop_application_mode()
            terminal_restored()

        def _run_input_thread(self) -> None:
            try:
                self.run_input_thread()
            except BaseException as exc:
                if isinstance(exc, OSError) and (
                    exc.errno in (errno.EIO, errno.ENXIO, errno.EBADF)
                    or not terminal_alive(self.fileno)
                ):
                    terminal_lost()
                    return
                import rich.traceback  # what Textual's own driver does with other errors

                self._app.call_later(self._app.panic, rich.traceback.Traceback())

    return StratsimDriver
