"""Seed derivation: independent random streams for each purpose of a run."""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, purpose: str) -> int:
    """An independent 63-bit seed for one purpose of a run's ``seed`` (``"params"``,
    ``"shocks"``, one uncertain parameter's key, ...): SHA-256 of
    ``stratsim:SEED:PURPOSE``, so streams never overlap and adding a purpose changes
    no other stream."""
    digest = hashlib.sha256(f"stratsim:{seed}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
