"""The engine's typed API: per-path decisions, per-path scenario overrides and the
differentiable (relaxed) step."""

from __future__ import annotations

import pytest
import torch

from stratsim.engine import market
from stratsim.engine.decisions import SPLIT_KEYS, Decision, DecisionTensors
from stratsim.engine.errors import DecisionError, ScenarioError
from stratsim.engine.models import LinearSatisfaction, LogisticPrivacy
from stratsim.engine.params import Params, draw_params
from stratsim.engine.scenario import Scenario, scenario_from_dict
from stratsim.engine.scenario_draw import draw_parameters
from stratsim.engine.simulation import Simulation

F64 = torch.float64
CPU = torch.device("cpu")
SAT = LinearSatisfaction()
INC = LogisticPrivacy(intercept=-2.5)

CANDIDATES = [
    Decision(),
    Decision(c_share=0.9, c_price=20.0),
    Decision(c_share=0.1, b_seat_price=90.0, budget=600_000.0),
    Decision(privacy_share=0.5, budget=0.0),
    Decision(
        c_split={"product": 0.0, "ux": 0.0, "service": 0.0, "acquisition": 1.0}, b_seat_price=5.0
    ),
]


def uncertain() -> Scenario:
    d = Scenario().to_dict()
    d["to_c"]["bass_p"] = {"dist": "lognormal", "median": 0.0025, "sigma": 0.4}
    d["to_b"]["win_rate"] = {"dist": "triangular", "low": 0.1, "mode": 0.22, "high": 0.4}
    d["to_b"]["logo_churn"] = {"dist": "normal", "mean": 0.012, "sd": 0.004}
    return scenario_from_dict(d)


def stacked(decisions: list[Decision]) -> DecisionTensors:
    """One decision per path."""
    col = lambda f: torch.tensor([f(d) for d in decisions], dtype=F64)  # noqa: E731
    return DecisionTensors.from_tensors(
        budget=col(lambda d: d.budget),
        privacy_share=col(lambda d: d.privacy_share),
        c_share=col(lambda d: d.c_share),
        c_split={k: col(lambda d, k=k: d.c_split[k]) for k in SPLIT_KEYS},
        b_split={k: col(lambda d, k=k: d.b_split[k]) for k in SPLIT_KEYS},
        c_price=col(lambda d: d.c_price),
        b_seat_price=col(lambda d: d.b_seat_price),
    )


def test_per_path_decisions_equal_each_decision_run_alone():
    """Candidates batched as paths give, path by path, what each gives on its own
    (same params and shocks): the optimizer and sweeps can batch candidates."""
    n = len(CANDIDATES)
    params = draw_params(uncertain(), n, torch.Generator().manual_seed(1), F64, CPU)
    batched = stacked(CANDIDATES).validate(n)
    state_b, outs_b = market.rollout(
        params, market.initial_state(params), batched, torch.Generator().manual_seed(2), SAT, INC, 6
    )
    for i, d in enumerate(CANDIDATES):
        state_i, outs_i = market.rollout(
            params, market.initial_state(params), d, torch.Generator().manual_seed(2), SAT, INC, 6
        )
        for t in range(6):
            for k, v in outs_b[t].items():
                assert torch.allclose(
                    v[i], outs_i[t][k][i], rtol=1e-12, atol=1e-9, equal_nan=True
                ), (t, k, i)
    # The candidates really differ.
    assert len({round(float(x), 3) for x in outs_b[-1]["npv"]}) == n


def test_invalid_per_path_decision_names_field_and_path():
    d = stacked(CANDIDATES)
    bad = DecisionTensors.from_tensors(
        **{**_fields(d), "c_share": torch.tensor([0.5, 0.5, 1.5, 0.5, 0.5], dtype=F64)}
    )
    with pytest.raises(
        DecisionError, match=r"decision c_share: path 2 value 1.5: expected a fraction"
    ):
        bad.validate(5)
    split = dict(d.b_split)
    split["ux"] = split["ux"] + torch.tensor([0, 0, 0, 0.1, 0], dtype=F64)
    with pytest.raises(DecisionError, match=r"decision b_split: path 3"):
        DecisionTensors.from_tensors(**{**_fields(d), "b_split": split}).validate(5)
    with pytest.raises(DecisionError, match=r"decision budget: path 1 value 1e\+39"):
        DecisionTensors.from_tensors(
            **{**_fields(d), "budget": torch.tensor([1.0, 1e39, 0, 0, 0], dtype=F64)}
        ).validate(5)
    with pytest.raises(DecisionError, match=r"decision c_price: shape \(3,\)"):
        DecisionTensors.from_tensors(
            **{**_fields(d), "c_price": torch.ones(3, dtype=F64)}
        ).validate(5)


def _fields(d: DecisionTensors) -> dict:
    return {
        k: getattr(d, k)
        for k in (
            "budget",
            "privacy_share",
            "c_share",
            "c_split",
            "b_split",
            "c_price",
            "b_seat_price",
        )
    }


def test_scalar_decision_values_beyond_the_arithmetic_are_refused():
    with pytest.raises(DecisionError, match=r"decision budget: value 1e\+308"):
        Decision(budget=1e308).validate()


def test_overrides_replace_one_key_per_path_and_leave_other_draws_unchanged():
    scn = uncertain()
    values = torch.linspace(0.05, 0.6, 50, dtype=F64)
    base = draw_params(scn, 50, torch.Generator().manual_seed(7), F64, CPU)
    over = draw_params(
        scn,
        50,
        torch.Generator().manual_seed(7),
        F64,
        CPU,
        overrides={"to_b.win_rate": values, "to_c.churn_free": 0.05},
    )
    assert torch.equal(over.to_b.win_rate, values)
    assert over.to_c.churn_free == 0.05 and isinstance(base.to_c.churn_free, float)
    assert torch.equal(over.to_c.bass_p, base.to_c.bass_p)
    assert torch.equal(over.to_b.logo_churn, base.to_b.logo_churn)
    # The dict form takes the same overrides.
    flat = draw_parameters(
        scn, 50, torch.Generator().manual_seed(7), F64, CPU, overrides={"to_b.win_rate": values}
    )
    assert torch.equal(flat["to_b.win_rate"], values)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"to_b.win_rate": [0.2, 1.2, 0.3]},
            r"override to_b.win_rate: path 1: value 1.2: expected <= 1",
        ),
        ({"to_b.win_rat": 0.2}, r"override key to_b.win_rat: unknown parameter"),
        ({"to_b.win_rate": [0.2, 0.3]}, r"override to_b.win_rate: shape \(2,\)"),
        ({"to_c.market_potential": [1.0, 0.0, 2.0]}, r"path 1: value 0.0: expected > 0"),
    ],
)
def test_bad_overrides_are_refused_naming_key_and_path(overrides, message):
    with pytest.raises(ScenarioError, match=message):
        draw_params(Scenario(), 3, torch.Generator().manual_seed(0), F64, CPU, overrides=overrides)


def test_params_are_typed_sections_with_scalars_for_certain_values():
    p = draw_params(uncertain(), 4, torch.Generator().manual_seed(0), torch.float32, CPU)
    assert isinstance(p, Params)
    assert isinstance(p.to_c.market_potential, float)
    assert p.to_c.bass_p.shape == (4,) and p.to_c.bass_p.dtype == torch.float32
    assert p["to_b.win_rate"] is p.to_b.win_rate
    flat = p.as_tensors()
    assert set(flat) == set(p.keys()) and all(t.shape == (4,) for t in flat.values())


def _relaxed_npv(params, c_share, b_seat_price, budget, periods=8):
    d = DecisionTensors.from_tensors(
        **{
            **_fields(DecisionTensors.from_decision(Decision(), F64)),
            "c_share": c_share,
            "b_seat_price": b_seat_price,
            "budget": budget,
        }
    )
    _, outs = market.rollout(
        params,
        market.initial_state(params),
        d,
        torch.Generator().manual_seed(3),
        SAT,
        INC,
        periods,
        relaxed=True,
    )
    return outs[-1]["npv"].mean()


def test_relaxed_step_is_differentiable_in_the_decision_levers():
    """Autograd flows from NPV to c_share, seat price and budget, and matches finite
    differences (gradcheck on the relaxed step, float64, common random numbers)."""
    params = draw_params(uncertain(), 64, torch.Generator().manual_seed(1), F64, CPU)
    c_share = torch.tensor(0.5, dtype=F64, requires_grad=True)
    price = torch.tensor(40.0, dtype=F64, requires_grad=True)
    budget = torch.tensor(300_000.0, dtype=F64, requires_grad=True)
    npv = _relaxed_npv(params, c_share, price, budget)
    npv.backward()
    for g in (c_share.grad, price.grad, budget.grad):
        assert g is not None and torch.isfinite(g) and float(g) != 0.0
    assert torch.autograd.gradcheck(
        lambda a, b, c: _relaxed_npv(params, a, b, c, periods=4) / 1e6,
        (
            c_share.detach().clone().requires_grad_(),
            price.detach().clone().requires_grad_(),
            budget.detach().clone().requires_grad_(),
        ),
        eps=1e-6,
        atol=1e-5,
        rtol=1e-3,
    )


def test_relaxed_incidents_are_expected_values_and_exact_path_is_default():
    params = draw_params(uncertain(), 200, torch.Generator().manual_seed(1), F64, CPU)
    st0 = market.initial_state(params)
    shocks = market.draw_shocks(torch.Generator().manual_seed(5), 200, F64, CPU)
    _, exact = market.advance(params, st0, Decision(), shocks, SAT, INC)
    _, exact2 = market.advance(params, st0, Decision(), shocks, SAT, INC, relaxed=False)
    _, relaxed = market.advance(params, st0, Decision(), shocks, SAT, INC, relaxed=True)
    assert set(exact["incidents"].tolist()) <= {0.0, 1.0}
    assert torch.equal(relaxed["incidents"], relaxed["incident_prob"])
    assert all(torch.equal(exact[k], exact2[k]) for k in exact)


def test_simulation_runs_scenario_points_as_paths_with_overrides():
    """A sweep over a scenario key in one Simulation: path i gets win rate values[i]."""
    values = torch.tensor([0.05, 0.15, 0.3, 0.6], dtype=F64).repeat_interleave(50)
    sim = Simulation(
        n_paths=200, seed=0, dtype="float64", device="cpu", overrides={"to_b.win_rate": values}
    )
    assert torch.equal(sim.params.to_b.win_rate, values)
    for _ in range(18):
        sim.step()
    accounts = sim.state.accounts_b.reshape(4, 50).mean(1)
    assert bool((accounts[1:] > accounts[:-1]).all())
    with pytest.raises(ScenarioError, match="override to_b.win_rate: path 3"):
        Simulation(n_paths=4, device="cpu", overrides={"to_b.win_rate": [0.1, 0.2, 0.3, 1.5]})


def test_a_simulation_with_overrides_is_not_saved_as_a_session(tmp_path):
    from stratsim.engine.errors import SessionError
    from stratsim.engine.session import save_session

    sim = Simulation(n_paths=4, device="cpu", overrides={"to_b.win_rate": 0.3})
    with pytest.raises(SessionError, match="per-path overrides of to_b.win_rate"):
        save_session(sim, tmp_path / "s.toml")
    assert not (tmp_path / "s.toml").exists()


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (
            ("decisions", 0, "budget"),
            1e39,
            r"key decisions\[1\]: decision budget: value 1e\+39: expected at most 1e\+15",
        ),
        (
            ("scenario", "finance", "fixed_costs"),
            1e308,
            r"key scenario.finance.fixed_costs: value 1e\+308: expected a magnitude",
        ),
    ],
)
def test_a_session_with_values_the_arithmetic_cannot_hold_is_refused(
    tmp_path, where, value, message
):
    import tomllib

    import tomli_w

    from stratsim.engine.errors import SessionError
    from stratsim.engine.session import read_session, save_session

    sim = Simulation(n_paths=4, device="cpu")
    sim.step()
    path = save_session(sim, tmp_path / "s.toml")
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    node = doc
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = value
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    with pytest.raises(SessionError, match=message):
        read_session(path)
