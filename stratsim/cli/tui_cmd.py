"""``stratsim tui [SESSION.toml]``: the terminal UI (also what ``stratsim`` alone opens).

Serving it in a browser (optional extra ``serve``, i.e. ``pip install stratsim[serve]``)::

    textual serve "stratsim tui"          # then open http://localhost:8000

``textual serve`` has no authentication: keep it on localhost and reach it over
``ssh -L 8000:localhost:8000 HOST``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ._common import nonneg_int, positive_int


def register(sub) -> None:
    p = sub.add_parser(
        "tui",
        help="open the terminal UI (the default command)",
        description="Open the terminal UI on a saved session, or on a new session of the default "
        "(or --scenario) scenario. Keys: n step, r run, u undo, p policy, t train, s save, "
        "a save as, o open, b branch, ? help, q quit.",
    )
    p.add_argument(
        "session", nargs="?", type=Path, help="session TOML to open (default: a new session)"
    )
    p.add_argument(
        "--scenario",
        type=Path,
        help="scenario TOML for a new session (default: the shipped default)",
    )
    p.add_argument(
        "--seed", type=nonneg_int, default=0, help="random seed of a new session (default 0)"
    )
    p.add_argument(
        "--paths",
        type=positive_int,
        default=2000,
        help="Monte-Carlo paths of a new session (default 2000)",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda", "mps"),
        default="auto",
        help="torch device (default auto)",
    )
    p.add_argument(
        "--theme", help="Textual theme, e.g. ansi-dark (terminal colours), textual-dark, nord"
    )
    p.add_argument(
        "--models",
        type=Path,
        help="folder for trained models (default: models/ beside the session, or ./models)",
    )
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=30,
        help="max epochs proposed in the training dialog (default 30)",
    )
    p.add_argument(
        "--threads", type=nonneg_int, default=0,
        help="torch CPU threads (default 0: the engine's policy, one thread: a second one measured slower at every size on a shared machine)",
    )  # fmt: skip
    p.add_argument("--no-autosave", action="store_true", help="do not autosave after every period")
    p.add_argument(
        "--ascii", action="store_true",
        help="draw only ASCII (chart markers, symbols, borders); the default when the terminal's locale "
        "(LC_ALL, LC_CTYPE, LANG) or stdout is not UTF-8",
    )  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engine.errors import StratsimError

    if args.session is not None and not os.path.isfile(args.session):  # never raises (long names)
        raise StratsimError(
            f"{args.session}: session file not found (start without it for a new session)"
        )
    if args.scenario is not None and not os.path.isfile(args.scenario):
        raise StratsimError(f"{args.scenario}: scenario file not found")
    if args.theme is not None:
        from textual.theme import BUILTIN_THEMES

        if args.theme not in BUILTIN_THEMES:
            raise StratsimError(
                f"--theme {args.theme!r}: expected one of {', '.join(BUILTIN_THEMES)}"
            )
    import sys

    from ..tui.app import StratsimApp, TuiOptions
    from ..tui.glyphs import terminal_is_utf8
    from ._common import set_threads

    # Once for the process (the TUI's worker threads share torch's pool): --paths of a new
    # session; one thread for a saved one (whatever its size: a core is left to the UI).
    set_threads(args.threads, args.paths if args.session is None else None)

    options = TuiOptions(
        session=args.session,
        scenario=args.scenario,
        seed=args.seed,
        paths=args.paths,
        device=args.device,
        theme=args.theme,
        models_dir=args.models,
        autosave=not args.no_autosave,
        train_epochs=args.epochs,
        ascii=args.ascii or not terminal_is_utf8(os.environ, getattr(sys.stdout, "encoding", None)),
    )
    app = StratsimApp(options)
    app.run()
    return int(app.return_code or 0)
