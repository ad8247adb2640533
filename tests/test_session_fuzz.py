"""Corrupted session files: only SessionError (with a message) and the file never changes.

Byte-level corruptions (truncation, flipped/inserted/deleted bytes, non-UTF-8 bytes,
duplicated lines, hence duplicate keys) and structural ones (a key deleted, a value
replaced by a value of another type, NaN/inf, huge integers, dates, arrays) of a valid
session. Loading either succeeds (some corruptions leave a valid file, e.g. a changed
digit in the history) or raises SessionError naming the file; nothing else escapes, and
the bytes on disk are the same before and after.
"""

from __future__ import annotations

import math
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratsim.engine.errors import SessionError
from stratsim.engine.session import LoadedSession, load_session, save_session
from stratsim.engine.simulation import Simulation

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> tuple[bytes, dict]:
    sim = Simulation(seed=3, n_paths=6, device="cpu", policy="feedback")
    sim.run(3)
    path = save_session(sim, tmp_path_factory.mktemp("fuzz") / "valid.toml")
    data = path.read_bytes()
    return data, tomllib.loads(data.decode("utf-8"))


def load_unchanged(path: Path) -> LoadedSession | None:
    """Load ``path``; only SessionError may escape, and the file must not change."""
    before = path.read_bytes()
    try:
        result = load_session(path)
    except SessionError as exc:
        message = str(exc)
        assert message.startswith(str(path)), message
        assert len(message) > len(str(path)) + 10, message
        result = None
    else:
        # what `stratsim check` and the TUI do next must not raise either
        result.first_difference()
        assert result.simulation.period == len(result.stored_history)
        assert all(
            isinstance(x, float)
            for h in result.stored_history
            for st_ in h.values()
            for x in st_.values()
        )
    assert path.read_bytes() == before
    return result


# ---------------------------------------------------------------------- byte level


@st.composite
def byte_corruption(draw, data: bytes) -> bytes:
    n = len(data)
    op = draw(
        st.sampled_from(
            ["truncate", "flip", "insert", "delete", "non_utf8", "duplicate_line", "swap_lines"]
        )
    )
    i = draw(st.integers(0, n - 1))
    if op == "truncate":
        return data[:i]
    if op == "flip":
        return data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
    if op == "insert":
        return data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
    if op == "delete":
        return data[:i] + data[i + draw(st.integers(1, 64)) :]
    if op == "non_utf8":
        return (
            data[:i]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]))
            + data[i:]
        )
    lines = data.split(b"\n")
    j = draw(st.integers(0, len(lines) - 1))
    if op == "duplicate_line":
        return b"\n".join([*lines[: j + 1], lines[j], *lines[j + 1 :]])
    k = draw(st.integers(0, len(lines) - 1))
    lines[j], lines[k] = lines[k], lines[j]
    return b"\n".join(lines)


@FUZZ
@given(data=st.data())
def test_byte_corruptions_raise_only_session_errors(tmp_path, valid, data):
    corrupted = data.draw(byte_corruption(valid[0]))
    path = tmp_path / "corrupt.toml"
    path.write_bytes(corrupted)
    load_unchanged(path)


def test_duplicate_key_and_truncation_examples(tmp_path, valid):
    """Deterministic instances of the corruptions above, checked for their messages."""
    text = valid[0]
    path = tmp_path / "dup.toml"
    path.write_bytes(text.replace(b"seed = 3\n", b"seed = 3\nseed = 4\n"))
    with pytest.raises(SessionError, match="invalid TOML"):
        load_session(path)
    path.write_bytes(text[: len(text) // 2])
    with pytest.raises(SessionError):
        load_session(path)
    path.write_bytes(b"\xff\xfe" + text)
    with pytest.raises(SessionError, match="not UTF-8"):
        load_session(path)
    path.write_bytes(b"")
    with pytest.raises(SessionError, match="schema_version is missing"):
        load_session(path)


# ---------------------------------------------------------------------- structural


def key_paths(doc, prefix=()):
    """Every (path) to a value in a nested dict/list document."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc)
    for k, v in items:
        yield (*prefix, k)
        if isinstance(v, dict | list):
            yield from key_paths(v, (*prefix, k))


def _parent(doc, path):
    for k in path[:-1]:
        doc = doc[k]
    return doc


replacement_values = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 0.0, -1.0, 5e-324]),
    st.sampled_from([-1, 0, 1, 7, 2**63 - 1, 2**63, -(2**64), 10**30]),
    st.booleans(),
    st.text(max_size=10),
    st.just(date(2020, 1, 1)),
    st.just(datetime(2020, 1, 1, 12, 0)),  # no offset
    st.just(datetime(2020, 1, 1, 12, 0, tzinfo=UTC)),
    st.lists(st.integers(-3, 3), max_size=3),
    st.builds(dict),  # fresh objects: a shared one would be mutated across examples
    st.builds(lambda: {"dist": "normal", "mean": 1.0, "sd": 1e300}),
)


@FUZZ
@given(data=st.data())
def test_structural_corruptions_raise_only_session_errors(tmp_path, valid, data):
    import copy

    doc = copy.deepcopy(valid[1])
    for _ in range(data.draw(st.integers(1, 3))):
        if not doc:
            break
        # a top-level key first (uniformly), then a path inside it: the history's many
        # floats must not drown the few keys of [run], [meta] and schema_version
        top = data.draw(st.sampled_from(sorted(doc)))
        inside = list(key_paths(doc[top], (top,))) if isinstance(doc[top], dict | list) else []
        target = data.draw(st.sampled_from([(top,), *inside]))
        parent = _parent(doc, target)
        if data.draw(st.booleans()):
            del parent[target[-1]]
        else:
            parent[target[-1]] = data.draw(replacement_values)
    path = tmp_path / "mutated.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    load_unchanged(path)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("run.n_paths = nan", r"key run\.n_paths: value nan"),
        (
            "run.seed = 99999999999999999999999",
            r"key run\.seed: value 99999999999999999999999: expected an integer in 0\.\.",
        ),
        (
            "history[1].mrr.mean = inf",
            r"key history\[1\]\.mrr\.mean: value inf: expected a finite number",
        ),
        (
            "decisions[2].budget = -inf",
            r"key decisions\[2\]\.budget: value -inf: expected a finite number",
        ),
        (
            "scenario.to_b.win_rate = nan",
            r"key scenario\.to_b\.win_rate: value nan: expected a finite number",
        ),
    ],
)
def test_non_finite_and_huge_numbers_are_named(tmp_path, valid, text, expected):
    """NaN, infinities and 65-bit integers written by hand (TOML can spell them)."""
    doc = tomllib.loads(valid[0].decode("utf-8"))
    key, value = (s.strip() for s in text.split("="))
    parts: list = []
    for part in key.split("."):
        if "[" in part:
            name, idx = part.rstrip("]").split("[")
            parts += [name, int(idx) - 1]
        else:
            parts.append(part)
    _parent(doc, parts)[parts[-1]] = "__PLACEHOLDER__"
    path = tmp_path / "hand.toml"
    path.write_text(tomli_w.dumps(doc).replace('"__PLACEHOLDER__"', value), encoding="utf-8")
    with pytest.raises(SessionError, match=expected):
        load_unchanged_or_raise(path)


def load_unchanged_or_raise(path: Path):
    before = path.read_bytes()
    try:
        return load_session(path)
    finally:
        assert path.read_bytes() == before
