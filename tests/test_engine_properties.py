"""Property tests: decision and scenario validation, model invariants, determinism,
replay/undo and preview."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stratsim.engine import market
from stratsim.engine.decisions import SPLIT_KEYS, Decision
from stratsim.engine.errors import DecisionError, ScenarioError, StratsimError
from stratsim.engine.kpi import OPTIONAL_KPIS
from stratsim.engine.models import LinearSatisfaction, LogisticPrivacy
from stratsim.engine.scenario import PARAM_SECTIONS, Normal, Scenario, scenario_from_dict
from stratsim.engine.scenario_draw import draw_parameters, mass_inside
from stratsim.engine.simulation import Simulation

FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

from strategies import decisions  # noqa: E402

bad_number = st.sampled_from([-1.0, -1e-9, math.nan, math.inf, -math.inf])


@st.composite
def bad_decisions(draw) -> tuple[Decision, str]:
    """A valid decision with one field made invalid; returns it and the field's name."""
    d = draw(decisions())
    kind = draw(
        st.sampled_from(["number", "share", "split_value", "split_sum", "split_keys", "type"])
    )
    if kind == "number":
        name = draw(
            st.sampled_from(["budget", "c_price", "b_seat_price", "privacy_share", "c_share"])
        )
        return d.with_changes(**{name: draw(bad_number)}), name
    if kind == "share":
        name = draw(st.sampled_from(["privacy_share", "c_share"]))
        return d.with_changes(**{name: draw(st.floats(1.0 + 1e-9, 1e6))}), name
    name = draw(st.sampled_from(["c_split", "b_split"]))
    sp = dict(getattr(d, name))
    key = draw(st.sampled_from(SPLIT_KEYS))
    if kind == "split_value":
        sp[key] = draw(st.one_of(bad_number, st.floats(1.0 + 1e-9, 10.0)))
    elif kind == "split_sum":
        sp[key] = sp[key] + draw(st.one_of(st.floats(1e-5, 0.5), st.floats(-0.5, -1e-5)))
        assume(0.0 <= sp[key] <= 1.0)
    elif kind == "split_keys":
        sp[key + "_x"] = sp.pop(key)
    else:
        sp[key] = "0.25"
    return d.with_changes(**{name: sp}), name


# ------------------------------------------------------------------- decisions


@FAST
@given(decisions())
def test_valid_decisions_are_accepted_and_spend_sums_to_budget(d):
    assert d.validate() is d
    sp = d.spend()
    assert set(sp) == {"privacy"} | {f"{s}_{k}" for s in "cb" for k in SPLIT_KEYS}
    assert all(v >= 0 for v in sp.values())
    assert math.fsum(sp.values()) == pytest.approx(d.budget, rel=1e-9, abs=1e-6)
    rest = d.budget * (1 - d.privacy_share)
    assert math.fsum(sp[f"c_{k}"] for k in SPLIT_KEYS) == pytest.approx(
        rest * d.c_share, rel=1e-9, abs=1e-6
    )
    assert sp["b_acquisition"] == pytest.approx(
        rest * (1 - d.c_share) * d.b_split["acquisition"], rel=1e-12, abs=1e-9
    )
    assert Decision.from_dict(d.to_dict()) == d


@pytest.fixture(scope="module")
def stepped_sim() -> Simulation:
    sim = Simulation(seed=9, n_paths=32, device="cpu", policy="manual")
    sim.run(3)
    return sim


def snapshot(sim: Simulation):
    return (
        sim.period,
        {k: v.clone() for k, v in sim.state.tensors().items()},
        [dict(h) for h in sim.history],
        list(sim.decisions),
        sim.decision,
    )


def assert_unchanged(sim: Simulation, snap) -> None:
    period, tensors, hist, decs, held = snap
    assert sim.period == period
    assert all(torch.equal(sim.state.tensors()[k], v) for k, v in tensors.items())
    assert sim.history == hist and sim.decisions == decs and sim.decision == held


@FAST
@given(bad_decisions())
def test_invalid_decisions_are_refused_before_any_state_changes(stepped_sim, case):
    bad, field = case
    sim = stepped_sim
    snap = snapshot(sim)
    with pytest.raises(DecisionError, match=field):
        bad.validate()
    with pytest.raises(DecisionError, match=field):
        sim.step(bad)
    assert_unchanged(sim, snap)
    with pytest.raises(DecisionError):
        sim.preview(bad)
    with pytest.raises(DecisionError):
        sim.set_decision(bad)
    with pytest.raises(DecisionError):
        sim.replay([*sim.decisions, bad])
    assert_unchanged(sim, snap)


def test_refused_step_does_not_consume_random_draws():
    """After a refused step, the next step equals the same step of an untouched twin."""
    a = Simulation(seed=4, n_paths=50, device="cpu")
    b = Simulation(seed=4, n_paths=50, device="cpu")
    a.step()
    b.step()
    with pytest.raises(DecisionError):
        a.step(Decision(budget=-5.0))
    with pytest.raises(DecisionError):
        a.preview(Decision(c_share=math.nan))
    assert a.step() == b.step()
    assert all(
        torch.equal(x, y)
        for x, y in zip(a.state.tensors().values(), b.state.tensors().values(), strict=True)
    )


# -------------------------------------------------------------------- scenario


def _param_fields():
    out = []
    for section in PARAM_SECTIONS:
        for name, info in type(getattr(Scenario(), section)).model_fields.items():
            out.append((section, name, info.json_schema_extra or {}))
    return out


PARAM_FIELDS = _param_fields()


@st.composite
def bad_scenario_value(draw):
    section, name, extra = draw(st.sampled_from(PARAM_FIELDS))
    choices = [
        math.nan,
        math.inf,
        -math.inf,
        "abc",
        [1.0],
        {"dist": "poisson", "lam": 1.0},
        {"dist": "normal"},
    ]
    if extra.get("ge") is not None:
        choices.append(extra["ge"] - draw(st.floats(1e-6, 1e6)))
    if extra.get("gt") is not None:
        choices.append(extra["gt"] - draw(st.floats(0.0, 1e6)))
    if extra.get("le") is not None:
        choices.append(extra["le"] + draw(st.floats(1e-6, 1e6)))
        choices.append(
            {
                "dist": "uniform",
                "low": extra["le"] - 1e-3,
                "high": extra["le"] + draw(st.floats(1e-3, 10.0)),
            }
        )
    return section, name, draw(st.sampled_from(choices))


@FAST
@given(bad_scenario_value())
def test_bad_scenario_values_name_the_key_path(case):
    section, name, value = case
    d = Scenario().to_dict()
    d[section][name] = value
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(d, "my.toml")
    msg = str(info.value)
    assert msg.startswith("my.toml: key ") and f"{section}.{name}" in msg, msg


@FAST
@given(
    st.sampled_from(["name", *PARAM_SECTIONS, "allocation", "simulation"]),
    st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12),
)
def test_unknown_keys_are_refused_with_their_path(section, key):
    d = Scenario().to_dict()
    if section == "name":
        assume(key not in d)
        d[key] = 1.0
        path = key
    else:
        assume(key not in d[section])
        d[section][key] = 1.0
        path = f"{section}.{key}"
    with pytest.raises(ScenarioError, match=rf"key {path}: value 1\.0: unknown key"):
        scenario_from_dict(d)


@st.composite
def good_scenario_value(draw):
    section, name, extra = draw(st.sampled_from(PARAM_FIELDS))
    lo = extra.get("ge") if extra.get("ge") is not None else extra.get("gt")
    lo = -1e6 if lo is None else lo
    hi = extra.get("le") if extra.get("le") is not None else lo + 1e6
    v = draw(st.floats(lo, hi, exclude_min=extra.get("gt") is not None))
    kind = draw(st.sampled_from(["value", "uniform", "triangular", "normal"]))
    if kind == "value":
        return section, name, v, v
    if kind == "normal":
        dist = {"dist": "normal", "mean": v, "sd": draw(st.floats(0, 10))}
        # Truncation to the bounds keeps at least half of the mass (less is refused).
        assume(mass_inside(Normal(**dist), extra) >= 0.5)
        return section, name, dist, None
    w = draw(st.floats(lo, hi, exclude_min=extra.get("gt") is not None))
    a, b = min(v, w), max(v, w)
    if kind == "uniform":
        return section, name, {"dist": "uniform", "low": a, "high": b}, None
    return section, name, {"dist": "triangular", "low": a, "mode": (a + b) / 2, "high": b}, None


@FAST
@given(good_scenario_value())
def test_good_scenario_values_load_and_draw_within_bounds(case):
    section, name, value, exact = case
    d = Scenario().to_dict()
    d[section][name] = value
    scn = scenario_from_dict(d)
    loaded = getattr(getattr(scn, section), name)
    if exact is not None:
        assert loaded == exact
    params = draw_parameters(
        scn, 64, torch.Generator().manual_seed(0), torch.float64, torch.device("cpu")
    )
    t = params[f"{section}.{name}"]
    extra = dict(PARAM_FIELDS[[(s, n) for s, n, _ in PARAM_FIELDS].index((section, name))][2])
    lo = extra.get("ge") if extra.get("ge") is not None else extra.get("gt")
    assert torch.isfinite(t).all()
    if lo is not None:
        assert float(t.min()) >= lo
    if extra.get("le") is not None:
        assert float(t.max()) <= extra["le"]


# ------------------------------------------------------------------ invariants


@st.composite
def stress_scenarios(draw) -> Scenario:
    d = Scenario().to_dict()
    d["to_c"]["market_potential"] = draw(st.sampled_from([21_000.0, 1e5, 2e6]))
    d["to_c"]["bass_q"] = {"dist": "uniform", "low": 0.0, "high": draw(st.floats(0.0, 1.0))}
    d["to_c"]["churn_free"] = draw(st.floats(0.0, 1.0))
    d["to_c"]["conversion_max"] = draw(st.floats(0.0, 1.0))
    d["to_b"]["market_potential"] = draw(st.sampled_from([20.0, 25.0, 5000.0]))
    d["to_b"]["win_rate"] = draw(st.floats(0.0, 1.0))
    d["to_b"]["sales_cycle_months"] = draw(st.floats(3.0, 12.0))
    d["to_b"]["seat_expansion_max"] = draw(st.floats(0.0, 1.0))
    d["satisfaction"]["noise_sd"] = draw(st.floats(0.0, 5.0))
    # A few more uncertain parameters anywhere, wide and truncated at their bounds.
    for i in draw(st.lists(st.integers(0, len(PARAM_FIELDS) - 1), max_size=4, unique=True)):
        section, name, extra = PARAM_FIELDS[i]
        if name in ("market_potential", "sales_cycle_months", "win_rate", "bass_q"):
            continue
        lo = extra.get("ge") if extra.get("ge") is not None else extra.get("gt")
        center = Scenario().to_dict()[section][name]
        center = center.get("median", center.get("mode")) if isinstance(center, dict) else center
        spread = draw(st.floats(0.01, 1.0)) * (abs(center) + 1.0)
        dist = {"dist": "normal", "mean": center, "sd": spread}
        if mass_inside(Normal(**dist), extra) < 0.5 or (lo is not None and center < lo):
            continue
        d[section][name] = dist
    return scenario_from_dict(d)


@settings(max_examples=25, deadline=None)
@given(
    stress_scenarios(),
    st.lists(decisions(), min_size=1, max_size=4),
    st.sampled_from([torch.float32, torch.float64]),
    st.integers(0, 2**32),
    st.floats(-6.0, 3.0),
)
def test_state_and_kpis_stay_within_their_domains(scn, decs, dtype, seed, incident_intercept):
    n = 64
    gen = torch.Generator().manual_seed(seed)
    params = draw_parameters(scn, n, gen, dtype, torch.device("cpu"))
    state = market.initial_state(params)
    sat, inc = LinearSatisfaction(), LogisticPrivacy(intercept=incident_intercept)
    M, Mb = params["to_c.market_potential"], params["to_b.market_potential"]
    for t in range(12):
        state, out = market.step(params, state, decs[t % len(decs)], gen, sat, inc)
        s = state.tensors()
        assert all(torch.isfinite(v).all() for v in s.values())
        users = s["free_c"] + s["paid_c"]
        assert (users + s["lapsed_c"] <= M * (1 + 1e-6)).all(), (
            "users and lapsed users exceed the market potential"
        )
        assert (s["accounts_b"] <= Mb * (1 + 1e-6)).all(), "accounts exceed M_b"
        for k in (
            "free_c",
            "paid_c",
            "lapsed_c",
            "opp1",
            "opp2",
            "opp3",
            "reps_hired",
            "reps_ramped",
            "accounts_b",
            "seats_b",
            "brand",
        ):
            assert (s[k] >= 0).all(), k
        for k in ("F_c", "U_c", "R_c", "F_b", "U_b", "R_b", "P", "K"):
            assert ((s[k] >= 0) & (s[k] <= 10)).all(), k
        for k in ("satisfaction_c", "satisfaction_b", "posture"):
            assert ((out[k] >= 0) & (out[k] <= 10)).all(), k
        for k in (
            "conversion_c",
            "churn_free_c",
            "churn_paid_c",
            "win_rate_b",
            "logo_churn_b",
            "incident_prob",
            "paid_share_c",
            "p_cash_negative",
            "p_incident_so_far",
        ):
            assert ((out[k] >= 0) & (out[k] <= 1)).all(), k
        assert ((out["incidents"] == 0) | (out["incidents"] == 1)).all()
        for k in (
            "new_users_c",
            "new_accounts_b",
            "incident_cost",
            "users_c",
            "seats_b",
            "mrr",
            "nrr_b",
            "grr_b",
            "capacity_b",
            "new_opportunities_b",
        ):
            assert (out[k] >= 0).all(), k
        for k, v in out.items():
            if k not in OPTIONAL_KPIS:
                assert torch.isfinite(v).all(), k
        assert torch.equal(out["users_c"], users) and torch.equal(out["cash"], s["cash"])


# --------------------------------------------------- determinism, replay, undo


def _varied() -> list[Decision]:
    d = Decision()
    return [
        d,
        d.with_changes(c_share=0.8),
        d.with_changes(budget=50_000.0),
        d.with_changes(privacy_share=0.3),
        d,
        d.with_changes(c_price=20.0),
    ]


def _run(seed=1, n_paths=200, dtype="float32", **kw) -> Simulation:
    sim = Simulation(seed=seed, n_paths=n_paths, dtype=dtype, device="cpu", **kw)
    for d in _varied():
        sim.step(d)
    return sim


def _same_state(a: Simulation, b: Simulation) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in zip(a.state.tensors().values(), b.state.tensors().values(), strict=True)
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_inputs_give_identical_runs_and_another_seed_differs(dtype):
    a, b = _run(dtype=dtype), _run(dtype=dtype)
    assert a.history == b.history and _same_state(a, b)
    c = _run(seed=2, dtype=dtype)
    assert c.history != a.history and not torch.equal(c.state.cash, a.state.cash)
    # Uncertain parameters are part of the seeded draw too.
    d = Scenario().to_dict()
    d["to_c"]["bass_q"] = {"dist": "uniform", "low": 0.02, "high": 0.05}
    scn = scenario_from_dict(d)
    e, f = _run(dtype=dtype, scenario=scn), _run(dtype=dtype, scenario=scn)
    assert e.history == f.history and e.history != a.history


def test_replay_and_undo_are_bit_identical():
    ref = _run()
    hist, decs = list(ref.history), list(ref.decisions)
    sim = _run()
    sim.undo(2)
    assert sim.period == 4 and sim.history == hist[:4] and sim.decisions == decs[:4]
    four = Simulation(seed=1, n_paths=200, device="cpu")
    for d in decs[:4]:
        four.step(d)
    assert _same_state(sim, four)
    for d in decs[4:]:
        sim.step(d)
    assert sim.history == hist and _same_state(sim, ref)
    sim.replay(decs)
    assert sim.history == hist and _same_state(sim, ref)
    sim.undo(6)
    assert (
        sim.period == 0
        and sim.history == []
        and _same_state(sim, Simulation(seed=1, n_paths=200, device="cpu"))
    )
    with pytest.raises(StratsimError, match="undo 1 period"):
        sim.undo(1)


def test_preview_changes_nothing_and_equals_the_next_step():
    sim = _run()
    snap = snapshot(sim)
    alt = Decision().with_changes(c_share=0.9)
    p1 = sim.preview(alt)
    p_default = sim.preview()
    assert sim.preview(alt) == p1
    assert p_default != p1
    assert_unchanged(sim, snap)
    assert sim.step(alt) == p1
    assert sim.history[-1] == p1


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_saturated_markets_are_capped_at_their_potential(dtype):
    """Word of mouth strong enough to overshoot (q_eff*N/M > 1), no churn: adopters are
    capped by the remaining market, so users approach M_c and never pass it; won deals are
    capped by the open accounts, so accounts never pass M_b."""
    d = Scenario().to_dict()
    d["to_c"].update(
        market_potential=21_000.0, bass_q=1.0, churn_free=0.0, churn_paid=0.0, adoption_noise_sd=0.5
    )
    d["to_b"].update(
        market_potential=21.0,
        win_rate=1.0,
        logo_churn=0.0,
        initial_pipeline=500.0,
        sales_cycle_months=3.0,
    )
    d["capability"].update(init_c=10.0, init_b=10.0, init_posture=10.0)
    scn = scenario_from_dict(d)
    n = 256
    gen = torch.Generator().manual_seed(0)
    params = draw_parameters(scn, n, gen, dtype, torch.device("cpu"))
    state = market.initial_state(params)
    for _ in range(6):
        state, out = market.step(
            params, state, Decision(), gen, LinearSatisfaction(), LogisticPrivacy(intercept=-30.0)
        )
        users = state.free_c + state.paid_c
        assert (users <= 21_000.0 * (1 + 1e-6)).all()
        assert (state.accounts_b <= 21.0 * (1 + 1e-6)).all()
    # The caps bind: the markets are (almost) saturated, not merely below potential.
    assert float(users.min()) > 0.99 * 21_000.0
    assert float(state.accounts_b.min()) > 0.9 * 21.0
