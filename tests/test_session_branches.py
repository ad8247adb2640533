"""Sessions hold branches and model switches (issue 12): saved, reopened and replayed
exactly; bad entries are one-line errors naming the file and key; older schemas load."""

from __future__ import annotations

import tomllib

import pytest
import tomli_w

from stratsim.engine.errors import SessionError
from stratsim.engine.session import load_session, read_session, save_session
from stratsim.engine.session.branches import BranchRecord, branch_history
from stratsim.engine.simulation import Simulation
from stratsim.engine.trained import load_models


def small_sim(**kw) -> Simulation:
    return Simulation(**{"seed": 3, "n_paths": 32, "device": "cpu", **kw})


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A trained satisfaction model (tiny, 2 epochs) in ``proj/models``."""
    import numpy as np

    from stratsim.engine.data import from_arrays
    from stratsim.engine.modelsave import save_model
    from stratsim.engine.training import TrainConfig, train_model

    d = tmp_path_factory.mktemp("proj") / "models"
    rng = np.random.default_rng(1)
    for folder, slope in ((d, 0.6), (d.parent / "models2", 0.1)):
        x = rng.uniform(0, 10, (300, 3))
        y = 0.2 * x[:, 0] + slope * x[:, 1] + 0.1 * x[:, 2] + 2 + rng.normal(0, 0.3, 300)
        save_model(
            train_model(
                from_arrays("satisfaction", x, y),
                TrainConfig(role="satisfaction", epochs=2, device="cpu"),
            ),
            folder,
        )
    return d


def test_branches_round_trip_exactly(tmp_path):
    from stratsim.engine.decisions import Decision

    sim = small_sim()
    sim.run(2)
    draft = Decision.from_dict({**sim.decision.to_dict(), "c_share": 0.8})
    early = BranchRecord.of("early", sim, draft=draft)
    sim.set_policy("feedback")
    sim.run(2)
    sim.branches = {"early": early, "late feedback": BranchRecord.of("late feedback", sim)}
    path = save_session(sim, tmp_path / "s.toml")
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    assert [b["name"] for b in doc["branches"]] == ["early", "late feedback"]
    loaded = load_session(path)
    got = loaded.simulation.branches
    assert list(got) == ["early", "late feedback"]
    for name, b in sim.branches.items():
        g = got[name]
        assert (g.period, g.policy, g.decisions, g.decision, g.draft) == (
            b.period,
            b.policy,
            b.decisions,
            b.decision,
            b.draft,
        )
    assert got["early"].draft == draft and got["late feedback"].draft is None
    assert got["late feedback"].policy == "feedback" and got["early"].policy == "fixed"
    # saved again, the file is the same
    again = save_session(loaded.simulation, tmp_path / "again.toml")
    assert tomllib.loads(again.read_text(encoding="utf-8"))["branches"] == doc["branches"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda b: b.update(policy="greedy"), r"key branches\[1\]\.policy: value 'greedy': "),
        (
            lambda b: b.update(period=5),
            r"key branches\[1\]\.decisions: value an array of 2 item\(s\): expected one table per period \(period = 5\)",
        ),
        (
            lambda b: b["decisions"][1]["c_split"].update(ux="lots"),
            r"key branches\[1\]\.decisions\[2\]\.c_split\.ux: value 'lots': expected a finite number",
        ),
        (lambda b: b.update(colour="red"), r"key branches\[1\]\.colour: value 'red': unknown key"),
        (lambda b: b.pop("next_decision"), r"key branches\[1\]\.next_decision: .*Field required"),
    ],
)
def test_bad_branch_entries_name_file_and_key(tmp_path, edit, expected):
    sim = small_sim()
    sim.run(2)
    sim.branches = {"b": BranchRecord.of("b", sim)}
    path = save_session(sim, tmp_path / "s.toml")
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    edit(doc["branches"][0])
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    with pytest.raises(SessionError, match=expected) as info:
        read_session(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_branch_stepped_to_the_current_period_with_its_own_policy():
    sim = small_sim()
    sim.run(2)
    branch = BranchRecord.of("p2", sim)
    sim.set_policy("feedback")
    sim.run(3)
    hist = branch_history(sim, branch, 5)
    assert len(hist) == 5
    assert hist[:2] == list(branch.history)  # the kept periods re-simulate bit for bit
    fixed = small_sim()
    fixed.run(5)
    assert hist == fixed.history  # stepped on with its own (fixed) policy
    assert hist[4]["mrr"]["mean"] != sim.history[4]["mrr"]["mean"]
    assert branch_history(sim, BranchRecord.of("p0", small_sim()), 3) == fixed.history[:3]


def test_model_switch_keeps_past_periods_and_replays_exactly(model_dir):
    model = load_models(model_dir)["satisfaction"]
    sim = small_sim()
    sim.run(3)
    past = list(sim.history)
    switch = sim.switch_model("satisfaction", model)
    assert switch is not None and switch.period == 4 and sim.satisfaction_model is model
    assert sim.history == past  # nothing re-simulated
    sim.run(3)
    plain = small_sim()
    plain.run(6)
    assert sim.history[:3] == plain.history[:3]
    assert (
        sim.history[3]["satisfaction_c"] != plain.history[3]["satisfaction_c"]
    )  # the new model from period 4
    path = save_session(sim, model_dir.parent / "switch.toml")
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    assert "models" not in doc  # period 1 used the shipped default model
    assert (
        doc["model_switches"][0]["role"] == "satisfaction"
        and doc["model_switches"][0]["period"] == 4
    )
    loaded = load_session(path)
    assert loaded.matches and loaded.simulation.history == sim.history
    assert (
        loaded.simulation.satisfaction_model.metadata["weights_sha256"]
        == model.metadata["weights_sha256"]
    )
    assert loaded.simulation.step() == sim.step()
    # undo past the switch, then step again: the switch still applies from period 4
    sim.undo(4)
    sim.run(3)
    assert sim.history[:3] == plain.history[:3] and sim.history[3] == loaded.simulation.history[3]


def test_resimulating_with_a_model_changes_the_past(model_dir):
    model = load_models(model_dir)["satisfaction"]
    sim = small_sim()
    sim.run(3)
    past = list(sim.history)
    sim.set_models(satisfaction=model)
    assert sim.period == 3 and sim.history[0] != past[0]
    assert sim.model_switches == []


def test_cli_run_replays_the_switch(model_dir, capsys):
    from stratsim.cli import main

    model = load_models(model_dir)["satisfaction"]
    sim = small_sim()
    sim.run(2)
    sim.switch_model("satisfaction", model)
    path = save_session(sim, model_dir.parent / "cli.toml")
    sim.run(1)
    assert main(["run", "--session", str(path), "--steps", "1"]) == 0
    err = capsys.readouterr().err
    assert "differs" not in err
    reloaded = load_session(path)  # saved back by the run, one period further
    assert reloaded.simulation.period == 3 and reloaded.matches
    assert reloaded.simulation.history == sim.history
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "satisfaction model from Period 3: linear (trained" in out and "replay matches" in out


def test_schema_3_sessions_still_load(tmp_path):
    sim = small_sim()
    sim.run(2)
    path = save_session(sim, tmp_path / "old.toml")
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    doc["schema_version"] = 3
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    loaded = load_session(path)
    assert loaded.matches and loaded.meta.schema_version == 3 and loaded.simulation.branches == {}
    assert any("schema version 3 migrated to 4" in w for w in loaded.warnings)


def test_model_switch_period_out_of_range_is_named(model_dir):
    model = load_models(model_dir)["satisfaction"]
    sim = small_sim()
    sim.run(2)
    sim.switch_model("satisfaction", model)
    path = save_session(sim, model_dir.parent / "range.toml")
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    doc["model_switches"][0]["period"] = 9
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    with pytest.raises(
        SessionError,
        match=r"range\.toml: key model_switches\[1\]\.period: value 9: expected an integer in 2\.\.3",
    ):
        read_session(path)


def test_save_elsewhere_brings_the_models_of_every_period(model_dir, tmp_path):
    from stratsim.engine.relocate import bring_models

    first = load_models(model_dir)["satisfaction"]
    later = load_models(model_dir.parent / "models2")["satisfaction"]
    sim = small_sim(satisfaction_model=first)
    sim.run(2)
    sim.switch_model("satisfaction", later)
    sim.run(1)
    target = tmp_path / "elsewhere" / "s.toml"
    target.parent.mkdir()
    assert len(bring_models(sim, target)) == 2  # the model of periods 1-2 and the one adopted at 3
    save_session(sim, target)
    loaded = load_session(target)  # no external model paths left
    assert loaded.matches and loaded.simulation.history == sim.history
