"""Sessions: round trip, validation messages, models, replay, undo, autosave, migration."""

from __future__ import annotations

import os
import signal
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratsim.engine.decisions import Decision
from stratsim.engine.errors import SessionError
from stratsim.engine.scenario import LogNormal, Normal, Triangular, Uniform
from stratsim.engine.session import (
    SCHEMA_VERSION,
    autosave,
    autosave_path,
    discard_autosave,
    find_recovery,
    install_signal_autosave,
    load_session,
    read_session,
    save_session,
)
from stratsim.engine.session_migrate import V1_APP_VERSION
from stratsim.engine.simulation import Simulation
from stratsim.engine.trained import load_models

FIXTURES = Path(__file__).parent / "fixtures"


def small_sim(steps: int = 3, **kw) -> Simulation:
    kw = {"seed": 11, "n_paths": 24, "device": "cpu", **kw}
    sim = Simulation(**kw)
    sim.run(steps)
    return sim


def states_equal(a: Simulation, b: Simulation) -> bool:
    ta, tb = a.state.tensors(), b.state.tensors()
    return (
        a.period == b.period
        and ta.keys() == tb.keys()
        and all(torch.equal(ta[k], tb[k]) for k in ta)
    )


def write_doc(path: Path, doc: dict) -> Path:
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path


# ------------------------------------------------------------------- strategies

from strategies import decisions  # noqa: E402


@st.composite
def scenarios(draw):
    from stratsim.engine.scenario import Scenario

    base = Scenario()
    to_c = {}
    if draw(st.booleans()):
        to_c["bass_p"] = LogNormal(
            dist="lognormal", median=draw(st.floats(1e-4, 0.01)), sigma=draw(st.floats(0.0, 0.5))
        )
    if draw(st.booleans()):
        lo = draw(st.floats(0.01, 0.05))
        to_c["bass_q"] = Uniform(dist="uniform", low=lo, high=lo + draw(st.floats(0.0, 0.02)))
    cap = {}
    if draw(st.booleans()):
        cap["eta"] = Normal(
            dist="normal", mean=draw(st.floats(0.1, 1.0)), sd=draw(st.floats(0.0, 0.2))
        )
    if draw(st.booleans()):
        cap["delta"] = Triangular(
            dist="triangular", low=0.01, mode=0.02, high=draw(st.floats(0.02, 0.05))
        )
    if draw(st.booleans()):
        cap["spend_scale"] = draw(st.floats(1e3, 1e5))
    return base.model_copy(
        update={
            "name": draw(st.text(max_size=20)),
            "to_c": base.to_c.model_copy(update=to_c),
            "capability": base.capability.model_copy(update=cap),
        }
    )


@st.composite
def simulations(draw):
    sim = Simulation(
        draw(scenarios()),
        seed=draw(st.integers(0, 2**63 - 1)),
        n_paths=draw(st.integers(1, 12)),
        dtype=draw(st.sampled_from(["float32", "float64"])),
        device="cpu",
        policy=draw(st.sampled_from(["fixed", "manual", "feedback"])),
    )
    for _ in range(draw(st.integers(0, 4))):
        sim.step(draw(decisions()) if draw(st.booleans()) else None)
    if draw(st.booleans()):
        sim.set_decision(draw(decisions()))  # held for the next period, not yet stepped
    return sim


# ------------------------------------------------------------------- round trip


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sim=simulations(), name=st.text(max_size=30))
def test_random_sessions_save_and_load_equal(tmp_path, sim, name):
    path = tmp_path / "s.toml"
    created = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    save_session(sim, path, name=name, created=created)
    loaded = load_session(path)
    got = loaded.simulation
    assert loaded.warnings == []
    assert loaded.meta.name == name and loaded.meta.created == created
    assert loaded.meta.schema_version == SCHEMA_VERSION
    assert got.scenario == sim.scenario
    assert (got.seed, got.n_paths, got.dtype, got.policy_name) == (
        sim.seed,
        sim.n_paths,
        sim.dtype,
        sim.policy_name,
    )
    assert got.decisions == sim.decisions
    assert got.decision == sim.decision
    assert loaded.stored_history == sim.history  # floats round-trip exactly through TOML
    assert got.history == sim.history  # replay is bit-identical
    assert loaded.matches and loaded.first_difference(0.0) is None
    assert states_equal(got, sim)
    # and the next period is the one the unsaved simulation would take
    assert got.step() == sim.step()
    assert states_equal(got, sim)


@pytest.mark.parametrize("policy", ["fixed", "feedback", "manual"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reload_then_step_equals_never_saved(tmp_path, policy, dtype):
    k = 5
    original = small_sim(k, policy=policy, dtype=dtype)
    if policy == "manual":
        original.set_decision(Decision(budget=410_000.0, c_share=0.8))  # held, not stepped yet
    path = tmp_path / "s.toml"
    save_session(original, path)
    loaded = load_session(path).simulation

    reference = small_sim(k, policy=policy, dtype=dtype)
    if policy == "manual":
        reference.set_decision(Decision(budget=410_000.0, c_share=0.8))
    ref_summary = reference.step()
    got_summary = loaded.step()
    assert got_summary == ref_summary
    assert states_equal(loaded, reference)
    if policy == "manual":
        assert loaded.decisions[-1].c_share == 0.8
    if policy == "feedback":
        assert loaded.decisions[-1] == reference.decisions[-1]


def test_undo_after_reload_equals_shorter_run(tmp_path):
    path = tmp_path / "s.toml"
    save_session(small_sim(5, policy="feedback"), path)
    loaded = load_session(path).simulation
    loaded.undo(2)
    shorter = small_sim(3, policy="feedback")
    assert loaded.history == shorter.history
    assert states_equal(loaded, shorter)
    assert loaded.step() == shorter.step()


def test_saved_file_has_the_documented_layout(tmp_path):
    sim = small_sim(2)
    path = save_session(sim, tmp_path / "plan.toml")
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["meta"]["name"] == "plan" and doc["meta"]["app_version"]
    assert doc["meta"]["saved"].utcoffset().total_seconds() == 0
    assert doc["run"] | {"next_decision": None} == {
        "seed": 11, "n_paths": 24, "dtype": "float32", "device": "cpu", "policy": "fixed", "period": 2, "next_decision": None,
    }  # fmt: skip
    assert doc["scenario"] == sim.scenario.to_dict()
    assert [d["period"] for d in doc["decisions"]] == [1, 2]
    assert doc["decisions"][0]["c_split"] == sim.decisions[0].to_dict()["c_split"]
    assert doc["history"][1]["mrr"] == sim.history[1]["mrr"]
    assert "models" not in doc  # shipped default models are omitted
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed


def test_uncertain_parameters_are_tables(tmp_path):
    from stratsim.engine.scenario import Scenario

    base = Scenario()
    sc = base.model_copy(
        update={
            "to_c": base.to_c.model_copy(
                update={"bass_p": LogNormal(dist="lognormal", median=0.003, sigma=0.3)}
            )
        }
    )
    sim = Simulation(sc, n_paths=8, device="cpu")
    sim.step()
    doc = tomllib.loads(save_session(sim, tmp_path / "u.toml").read_text(encoding="utf-8"))
    assert doc["scenario"]["to_c"]["bass_p"] == {"dist": "lognormal", "median": 0.003, "sigma": 0.3}


def test_nan_is_refused_before_writing_naming_the_key(tmp_path):
    path = tmp_path / "s.toml"
    sim = small_sim(2)
    save_session(sim, path)
    before = path.read_bytes()
    sim.history[1]["mrr"]["p90"] = float("nan")
    with pytest.raises(SessionError, match=r"key history\[2\]\.mrr\.p90: value nan"):
        save_session(sim, path)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_save_into_missing_folder_is_a_session_error(tmp_path):
    with pytest.raises(SessionError, match="cannot save"):
        save_session(small_sim(1), tmp_path / "nope" / "s.toml")


def test_save_keeps_file_mode(tmp_path):
    path = tmp_path / "s.toml"
    save_session(small_sim(1), path)
    os.chmod(path, 0o640)
    save_session(small_sim(2), path)
    assert path.stat().st_mode & 0o777 == 0o640


# ------------------------------------------------------------------- validation


def valid_doc(tmp_path: Path) -> dict:
    path = save_session(small_sim(3), tmp_path / "base.toml")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _set(doc, keys, value):
    *head, last = keys
    for k in head:
        doc = doc[k]
    doc[last] = value


def _del(doc, keys):
    *head, last = keys
    for k in head:
        doc = doc[k]
    del doc[last]


@pytest.mark.parametrize(
    "keys, value, expected",
    [
        (
            ["run", "n_paths"],
            "ten",
            r"key run\.n_paths: value 'ten': expected an integer in 1\.\.5000000",
        ),
        (["run", "n_paths"], 0, r"key run\.n_paths: value 0: expected an integer"),
        (["run", "seed"], True, r"key run\.seed: value True: expected an integer"),
        (
            ["run", "dtype"],
            "float16",
            r"key run\.dtype: value 'float16': expected one of 'float32', 'float64'",
        ),
        (["run", "policy"], "greedy", r"key run\.policy: value 'greedy': expected one of"),
        (
            ["run", "period"],
            2,
            r"key decisions: value an array of 3 item\(s\): expected one table per period simulated \(run\.period = 2\)",
        ),
        (
            ["meta", "created"],
            "yesterday",
            r"key meta\.created: value 'yesterday': expected a date-time with a UTC offset",
        ),
        (["meta", "name"], 3, r"key meta\.name: value 3: expected a string"),
        (
            ["decisions", 1, "c_split", "ux"],
            2.0,
            r"key decisions\[2\]: decision c_split\.ux: value 2\.0: expected a fraction in 0\.\.1",
        ),
        (
            ["decisions", 0, "budget"],
            "lots",
            r"key decisions\[1\]\.budget: value 'lots': expected a finite number",
        ),
        (
            ["decisions", 2, "period"],
            7,
            r"key decisions\[3\]\.period: value 7: expected an integer in 3\.\.3",
        ),
        (
            ["history", 0, "mrr", "p10"],
            "x",
            r"key history\[1\]\.mrr\.p10: value 'x': expected a finite number",
        ),
        (
            ["history", 2, "cash"],
            5.0,
            r"key history\[3\]\.cash: value 5\.0: expected a table of mean, p10, p50, p90",
        ),
        (
            ["scenario", "to_c", "bass_p"],
            -1.0,
            r"key scenario\.to_c\.bass_p: value -1\.0: expected >= 0",
        ),
        (["scenario", "to_c", "bass_q"], {"dist": "gamma"}, r"key scenario\.to_c\.bass_q"),
        (
            ["schema_version"],
            "2",
            r"key schema_version: value '2': expected an integer in 1\.\." + str(SCHEMA_VERSION),
        ),
        (
            ["decisions"],
            {"a": 1},
            r"key decisions: value a table: expected an array of \[\[decisions\]\] tables",
        ),
    ],
)
def test_invalid_values_name_file_key_value_and_expectation(tmp_path, keys, value, expected):
    doc = valid_doc(tmp_path)
    _set(doc, keys, value)
    path = write_doc(tmp_path / "bad.toml", doc)
    with pytest.raises(SessionError, match=expected) as info:
        load_session(path)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize(
    "keys, expected",
    [
        (["meta"], r"key meta is missing: expected a table"),
        (["run", "seed"], r"key run\.seed is missing"),
        (["history"], r"key history is missing"),
        (["history", 1, "mrr", "p50"], r"key history\[2\]\.mrr\.p50 is missing"),
        (["decisions", 0, "b_split"], r"key decisions\[1\]\.b_split is missing"),
        (["schema_version"], r"key schema_version is missing"),
        (["scenario"], r"key scenario is missing"),
    ],
)
def test_missing_keys_are_named(tmp_path, keys, expected):
    doc = valid_doc(tmp_path)
    _del(doc, keys)
    with pytest.raises(SessionError, match=expected):
        load_session(write_doc(tmp_path / "bad.toml", doc))


def test_newer_schema_is_refused_clearly(tmp_path):
    doc = valid_doc(tmp_path)
    doc["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(SessionError, match=r"newer stratsim .* upgrade stratsim"):
        load_session(write_doc(tmp_path / "new.toml", doc))


def test_unknown_keys_are_warnings_and_load_anyway(tmp_path):
    doc = valid_doc(tmp_path)
    doc["colour"] = "blue"
    doc["run"]["speed"] = 3
    doc["decisions"][0]["note"] = "hello"
    doc["history"][2]["mood"] = {"mean": 1.0, "p10": 1.0, "p50": 1.0, "p90": 1.0}
    doc["scenario"]["to_c"]["bass_z"] = 1.0
    doc["scenario"]["extra_section"] = {}
    loaded = load_session(write_doc(tmp_path / "w.toml", doc))
    text = "\n".join(loaded.warnings)
    for key in (
        "colour",
        "run.speed",
        "decisions[1].note",
        "history[3].mood",
        "scenario.to_c.bass_z",
        "scenario.extra_section",
    ):
        assert f"unknown key {key} ignored" in text
    assert len(loaded.warnings) == 6
    assert loaded.matches


def test_invalid_toml_and_bad_encoding(tmp_path):
    p = tmp_path / "broken.toml"
    p.write_text("schema_version = 2\n[meta\n", encoding="utf-8")
    with pytest.raises(SessionError, match="invalid TOML"):
        load_session(p)
    p.write_bytes(b'schema_version = 2\nname = "\xff"\n')
    with pytest.raises(SessionError, match="not UTF-8"):
        load_session(p)
    with pytest.raises(SessionError, match="cannot read session file"):
        load_session(tmp_path / "missing.toml")


def test_hand_edited_history_is_detected(tmp_path):
    doc = valid_doc(tmp_path)
    doc["history"][1]["paid_c"]["p50"] *= 1.001
    loaded = load_session(write_doc(tmp_path / "edited.toml", doc))
    diff = loaded.first_difference()
    assert not loaded.matches
    assert (diff.period, diff.kpi, diff.stat) == (2, "paid_c", "p50")
    assert any(
        "replay differs from the stored history at period 2, KPI paid_c (p50)" in w
        for w in loaded.warnings
    )
    assert "period 2, KPI paid_c (p50)" in str(diff)
    # a tolerance larger than the edit accepts it
    assert loaded.first_difference(rel_tol=0.01) is None
    # the comparison is with the replay at load time, not with later steps
    loaded.simulation.step()
    assert loaded.first_difference(rel_tol=0.01) is None


# ------------------------------------------------------------------------ models


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A folder with trained satisfaction and privacy models (tiny, 2 epochs)."""
    import numpy as np

    from stratsim.engine.data import from_arrays
    from stratsim.engine.modelsave import save_model
    from stratsim.engine.training import TrainConfig, train_model

    d = tmp_path_factory.mktemp("proj") / "models"
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, (300, 3))
    y = 0.5 * x[:, 0] + 0.3 * x[:, 1] + 0.1 * x[:, 2] + 1 + rng.normal(0, 0.3, 300)
    save_model(
        train_model(
            from_arrays("satisfaction", x, y),
            TrainConfig(role="satisfaction", epochs=2, device="cpu"),
        ),
        d,
    )
    x = np.column_stack(
        [
            rng.uniform(3, 7, 400),
            rng.uniform(0, 10, 400),
            rng.uniform(0, 1, 400),
            rng.integers(0, 2, 400),
        ]
    )
    y = (rng.uniform(size=400) < 0.2).astype(float)
    save_model(
        train_model(
            from_arrays("privacy", x, y), TrainConfig(role="privacy", epochs=2, device="cpu")
        ),
        d,
    )
    return d


def sim_with_models(model_dir: Path, steps: int = 3) -> Simulation:
    models = load_models(model_dir)
    sim = Simulation(
        n_paths=16,
        seed=5,
        device="cpu",
        satisfaction_model=models["satisfaction"],
        privacy_model=models["privacy"],
    )
    sim.run(steps)
    return sim


def test_models_are_referenced_and_reloaded(model_dir):
    from stratsim.engine.outputs import file_sha256

    path = model_dir.parent / "s.toml"
    sim = sim_with_models(model_dir)
    save_session(sim, path)
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    sat = doc["models"]["satisfaction"]
    assert sat["path"] == "models/satisfaction.pt"
    assert sat["sha256"] == file_sha256(model_dir / "satisfaction.pt")
    assert sat["kind"] == "linear" and "r2" in sat["metrics"]
    assert doc["models"]["privacy"]["kind"] == "logistic"
    loaded = load_session(path)
    assert loaded.matches
    assert loaded.simulation.history == sim.history
    assert loaded.simulation.step() == sim.step()
    # a session made from the loaded session references the same files
    save_session(loaded.simulation, path)
    assert tomllib.loads(path.read_text(encoding="utf-8"))["models"] == doc["models"]


def test_changed_model_file_is_refused(model_dir, tmp_path):
    import shutil

    proj = tmp_path / "proj"
    shutil.copytree(model_dir, proj / "models")
    path = proj / "s.toml"
    save_session(sim_with_models(proj / "models"), path)
    weights = proj / "models" / "privacy.pt"
    weights.write_bytes(weights.read_bytes() + b"\0")
    with pytest.raises(
        SessionError,
        match=r"key models\.privacy\.sha256: model file .*privacy\.pt has SHA-256 .* refusing",
    ):
        load_session(path)
    weights.unlink()
    with pytest.raises(
        SessionError,
        match=r"key models\.privacy\.path: value 'models/privacy\.pt': cannot read model file",
    ):
        load_session(path)


def test_edited_sha_in_session_is_refused(model_dir):
    path = model_dir.parent / "sha.toml"
    save_session(sim_with_models(model_dir), path)
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    doc["models"]["satisfaction"]["sha256"] = "0" * 64
    write_doc(path, doc)
    with pytest.raises(SessionError, match=r"models\.satisfaction\.sha256"):
        load_session(path)


def test_external_model_paths_need_explicit_permission(model_dir):
    elsewhere = model_dir.parent / "sessions"
    elsewhere.mkdir(exist_ok=True)
    path = elsewhere / "s.toml"
    save_session(sim_with_models(model_dir), path)
    assert (
        tomllib.loads(path.read_text(encoding="utf-8"))["models"]["satisfaction"]["path"]
        == "../models/satisfaction.pt"
    )
    with pytest.raises(
        SessionError,
        match=r"key models\.satisfaction\.path: value '\.\./models/satisfaction\.pt' \(it resolves to .*\): expected a model file inside .*allow external models \(allow_external_models on",
    ):
        load_session(path)
    assert load_session(path, allow_external_models=True).matches
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    doc["models"]["satisfaction"]["path"] = str((model_dir / "satisfaction.pt").resolve())
    write_doc(path, doc)
    with pytest.raises(SessionError, match="expected a model file inside"):
        load_session(path)
    assert load_session(path, allow_external_models=True).matches


def test_in_memory_model_cannot_be_saved(tmp_path):
    from stratsim.engine.models import LinearSatisfaction

    sim = Simulation(n_paths=4, device="cpu", satisfaction_model=LinearSatisfaction(alpha=0.5))
    sim.step()
    with pytest.raises(SessionError, match="not loaded from a model file"):
        save_session(sim, tmp_path / "s.toml")
    assert not (tmp_path / "s.toml").exists()


# ---------------------------------------------------------------------- autosave


def test_autosave_and_recovery(tmp_path):
    path = tmp_path / "plan.toml"
    assert autosave_path(path) == tmp_path / "plan.autosave.toml"
    assert autosave_path(autosave_path(path)) == tmp_path / "plan.autosave.toml"
    assert find_recovery(path) is None
    sim = small_sim(2)
    auto = autosave(sim, path)
    assert auto == tmp_path / "plan.autosave.toml"
    assert find_recovery(path) == auto  # session does not exist yet
    loaded = load_session(auto)
    assert loaded.meta.name == "plan" and loaded.simulation.history == sim.history
    save_session(sim, path)
    os.utime(auto, ns=(1_000_000_000, 1_000_000_000))
    assert find_recovery(path) is None  # session newer than its autosave
    os.utime(auto, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert find_recovery(path) == auto
    discard_autosave(path)
    assert not auto.exists() and find_recovery(path) is None
    discard_autosave(path)  # no error when absent


def test_signal_handler_autosaves_and_restores_previous(tmp_path):
    path = tmp_path / "sig.toml"
    sim = small_sim(2)
    received = []
    previous = signal.getsignal(signal.SIGHUP)
    guard = install_signal_autosave(lambda: sim, path, on_saved=received.append)
    try:
        assert signal.getsignal(signal.SIGHUP) != previous
        os.kill(os.getpid(), signal.SIGHUP)
        assert received == [signal.SIGHUP]
        assert guard.last_saved == autosave_path(path)
        assert load_session(autosave_path(path)).simulation.history == sim.history
    finally:
        guard.uninstall()
    assert signal.getsignal(signal.SIGHUP) == previous
    assert signal.getsignal(signal.SIGTERM) != guard._handle


def test_sigterm_autosaves_then_exits_with_143(tmp_path):
    sim = small_sim(2)
    previous = signal.getsignal(signal.SIGTERM)
    guard = install_signal_autosave(lambda: sim, tmp_path / "x.toml")
    assert set(guard.signals) == {signal.SIGHUP, signal.SIGTERM}
    try:
        with pytest.raises(SystemExit) as info:
            os.kill(os.getpid(), signal.SIGTERM)
        assert info.value.code == 128 + signal.SIGTERM == 143
        assert signal.getsignal(signal.SIGTERM) == previous  # restored before exiting
    finally:
        guard.uninstall()
    assert load_session(tmp_path / "x.autosave.toml").simulation.history == sim.history


# --------------------------------------------------------------------- migration


def test_version_1_fixture_is_migrated():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "session_v1_make", FIXTURES / "session_v1_make.py"
    )
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    DECISIONS = make.DECISIONS
    path = FIXTURES / "session_v1.toml"
    assert tomllib.loads(path.read_text(encoding="utf-8"))["schema_version"] == 1
    loaded = load_session(path)
    sim = loaded.simulation
    assert loaded.meta.schema_version == 1
    assert loaded.meta.app_version == V1_APP_VERSION
    assert loaded.meta.name == "migration fixture"
    assert loaded.meta.created == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    assert any(f"schema version 1 migrated to {SCHEMA_VERSION}" in w for w in loaded.warnings)
    assert (sim.n_paths, sim.seed, sim.dtype_name, sim.policy_name, sim.period) == (
        16,
        7,
        "float64",
        "manual",
        3,
    )
    assert sim.decisions == DECISIONS
    assert sim.decision == DECISIONS[-1]  # v1 had no next_decision: the last one is held
    assert len(loaded.stored_history) == 3 and loaded.stored_history[0]["mrr"]["mean"] > 0


def test_migrated_session_saves_as_current_version(tmp_path):
    loaded = load_session(FIXTURES / "session_v1.toml")
    out = save_session(
        loaded.simulation, tmp_path / "v2.toml", name=loaded.meta.name, created=loaded.meta.created
    )
    again = read_session(out)
    assert again.meta.schema_version == SCHEMA_VERSION and again.warnings == []
    assert again.decisions == loaded.simulation.decisions
    assert again.meta.created == loaded.meta.created


def test_version_1_with_a_missing_flattened_split_key(tmp_path):
    text = (FIXTURES / "session_v1.toml").read_text(encoding="utf-8")
    broken = text.replace("c_split_ux = 0.2\n", "", 1)
    assert broken != text
    path = tmp_path / "v1.toml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(
        SessionError,
        match=r"\(schema 1, migrated to "
        + str(SCHEMA_VERSION)
        + r"\): key decisions\[1\]\.c_split\.ux is missing",
    ):
        load_session(path)


def test_session_of_the_economic_model_v1_loads_with_a_note_that_results_differ(tmp_path):
    """A session saved by stratsim 0.1.0 (schema 2, model v1: its scenario has keys model v2
    dropped) loads, keeps its decisions, replays with model v2 and says results differ."""
    path = FIXTURES / "session_v2_model_v1.toml"
    assert tomllib.loads(path.read_text(encoding="utf-8"))["schema_version"] == 2
    assert "cost_per_lead" in path.read_text(encoding="utf-8")
    loaded = load_session(path)
    sim = loaded.simulation
    assert (
        sim.period == 3 and sim.decisions[1].c_share == 0.7 and sim.decisions[2].budget == 500_000.0
    )
    assert any("economic model v1" in w and "results differ" in w for w in loaded.warnings)
    assert not any("unknown key scenario" in w for w in loaded.warnings)
    assert loaded.stored_history[0]["mrr"]["mean"] != sim.history[0]["mrr"]["mean"]
    again = read_session(save_session(sim, tmp_path / "v3.toml"))
    assert again.meta.schema_version == SCHEMA_VERSION and again.warnings == []
