"""Command-line entry point: ``stratsim [run|train|check|export|optimize|sweep|sensitivity|tui] ...``.

Without a subcommand ``stratsim [ARGS]`` means ``stratsim tui [ARGS]``: the TUI. Each
subcommand lives in its own module exposing ``register(subparsers)``, which adds the
parser and sets ``func`` (``args -> exit status``). Heavy imports (torch, textual) happen
inside the handlers so ``--help`` stays fast.

Exit status: 0 success; 1 a check failed (``check``); 2 bad input (one line on stderr,
no traceback); 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__

SUBCOMMANDS = ("run", "train", "check", "export", "optimize", "sweep", "sensitivity", "tui")
#: Longest error message printed (characters): one that quotes huge cells or headers is
#: cut in the middle (:func:`stratsim.engine.fileio.printable`).
MAX_MESSAGE = 2000


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line on stderr, exit 2 (no usage dump)
        self.exit(2, f"stratsim: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = _Parser(
        prog="stratsim",
        description="Local Monte-Carlo strategy simulation of a To C / To B resource balance. "
        "Without a subcommand, opens the terminal UI on the default scenario.",
    )
    parser.add_argument("--version", action="version", version=f"stratsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}_cmd").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..engine.errors import StratsimError

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # `stratsim`, `stratsim SESSION.toml` and `stratsim --paths 200` mean `stratsim tui ...`.
    first = argv[0] if argv else ""
    if not argv or (
        first not in ("-h", "--help", "--version")
        and (first.startswith("-") or first.endswith(".toml"))
    ):
        argv = ["tui", *argv]
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if args.command == "tui":  # the TUI names settings by their own names, not flags
            return int(args.func(args) or 0)
        from ..engine.terms import naming
        from ._common import CLI_FLAGS

        with naming(CLI_FLAGS):
            return int(args.func(args) or 0)
    except StratsimError as exc:
        from ..engine.fileio import printable

        print(f"stratsim: error: {printable(exc, MAX_MESSAGE)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stratsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
