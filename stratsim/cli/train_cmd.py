"""`stratsim train` (placeholder until implemented)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("train", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("not implemented") or 2)
