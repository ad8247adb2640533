"""Model v2 mechanisms, one test each: label period, satisfaction noise and reference level
from the model, weak-model warnings, the Erlang pipeline, sales capacity, one brand
penalty, the price-rise churn shock, CAC n/a."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from stratsim.cli import main
from stratsim.engine import market
from stratsim.engine.decisions import Decision
from stratsim.engine.errors import ModelError
from stratsim.engine.models import (
    LinearSatisfaction,
    LogisticPrivacy,
    label_period_months,
    model_warnings,
)
from stratsim.engine.params import draw_params
from stratsim.engine.scenario import Scenario, scenario_from_dict
from stratsim.engine.simulation import Simulation
from stratsim.engine.trained import load_model

F64 = torch.float64
CPU = torch.device("cpu")


def scenario(**changes) -> Scenario:
    d = Scenario().to_dict()
    for key, value in changes.items():
        section, name = key.split("__")
        d[section][name] = value
    return scenario_from_dict(d)


class _Fitted(LinearSatisfaction):
    """The linear model with test metrics, as a trained model reports them."""


def fitted(metrics: dict, **coef) -> LinearSatisfaction:
    m = LinearSatisfaction(**coef, description="fitted")
    object.__setattr__(m, "metrics", metrics)
    return m


# ----------------------------------------------------------------- incidents


def test_yearly_label_model_is_converted_to_a_monthly_probability():
    monthly = LogisticPrivacy(intercept=-2.0)
    yearly = replace(monthly, label_period="year")
    a = Simulation(seed=1, n_paths=50, dtype="float64", device="cpu", privacy_model=monthly).step()
    b = Simulation(seed=1, n_paths=50, dtype="float64", device="cpu", privacy_model=yearly).step()
    p = a["incident_prob"]["mean"]
    assert label_period_months(yearly) == 12 and label_period_months(monthly) == 1
    # Month 1 has the same state in both runs: p_month = 1 - (1 - p_year)^(1/12) path by path.
    assert b["incident_prob"]["mean"] < p / 5
    got = Simulation(seed=1, n_paths=1, dtype="float64", device="cpu", privacy_model=yearly).step()[
        "incident_prob"
    ]["mean"]
    ref = Simulation(
        seed=1, n_paths=1, dtype="float64", device="cpu", privacy_model=monthly
    ).step()["incident_prob"]["mean"]
    assert got == pytest.approx(1 - (1 - ref) ** (1 / 12), rel=1e-12)


def test_a_trained_model_declares_its_label_period_in_its_metadata(tmp_path):
    """The engine side of ``label_period``: the key in a trained model's metadata (written at
    training time) decides the conversion; a model without the key is monthly; an unknown
    value is refused by name."""
    assert main(["train", "privacy", "--out", str(tmp_path), "--epochs", "1", "--quiet"]) == 0
    model = load_model(tmp_path, "privacy")
    model.metadata.pop("label_period", None)
    assert label_period_months(model) == 1  # no key: monthly
    model.metadata["label_period"] = "year"
    assert label_period_months(model) == 12
    sim = Simulation(n_paths=8, device="cpu", privacy_model=model)
    assert label_period_months(sim.privacy_model) == 12
    model.metadata["label_period"] = "decade"
    with pytest.raises(ModelError, match="label_period 'decade': expected one of month, year"):
        Simulation(n_paths=8, device="cpu", privacy_model=model)


# --------------------------------------------------------------- satisfaction


def test_satisfaction_noise_defaults_to_the_models_test_rmse():
    weak = fitted({"rmse": 1.07, "r2": 0.5})
    assert (
        Simulation(n_paths=4, device="cpu", satisfaction_model=weak).params.satisfaction.noise_sd
        == 1.07
    )
    assert (
        Simulation(n_paths=4, device="cpu").params.satisfaction.noise_sd == 0.3
    )  # no RMSE: the scenario's
    own = scenario(simulation__satisfaction_noise="scenario")
    assert (
        Simulation(
            own, n_paths=4, device="cpu", satisfaction_model=weak
        ).params.satisfaction.noise_sd
        == 0.3
    )
    # A noisier model widens the bands.
    wide = Simulation(seed=2, n_paths=2000, device="cpu", satisfaction_model=weak)
    narrow = Simulation(
        seed=2, n_paths=2000, device="cpu", satisfaction_model=fitted({"rmse": 0.1, "r2": 0.5})
    )
    for sim in (wide, narrow):
        sim.run(12)
    band = lambda s: s.history[-1]["satisfaction_c"]["p90"] - s.history[-1]["satisfaction_c"]["p10"]  # noqa: E731
    assert band(wide) > 3 * band(narrow)


def test_reference_level_follows_the_model():
    """A model that predicts one point lower everywhere leaves conversion, churn and win
    rate unchanged: the base rates hold at the model's own level for the initial product."""
    base = Simulation(seed=3, n_paths=64, dtype="float64", device="cpu")
    low = Simulation(
        seed=3,
        n_paths=64,
        dtype="float64",
        device="cpu",
        satisfaction_model=LinearSatisfaction(intercept=-0.1),
    )
    assert float(low.state.s_ref_c[0]) == pytest.approx(float(base.state.s_ref_c[0]) - 1.0)
    a, b = base.step(), low.step()
    for k in ("conversion_c", "churn_paid_c", "churn_free_c", "win_rate_b", "logo_churn_b"):
        assert b[k]["mean"] == pytest.approx(a[k]["mean"], rel=1e-9), k
    assert b["satisfaction_c"]["mean"] == pytest.approx(a["satisfaction_c"]["mean"] - 1.0, rel=1e-9)


def test_weak_or_sign_changing_models_raise_warnings():
    assert model_warnings(LinearSatisfaction(), LogisticPrivacy()) == []
    w = model_warnings(fitted({"rmse": 1.0, "r2": 0.01}), LogisticPrivacy())
    assert len(w) == 1 and "R² 0.01 is low" in w[0]
    w = model_warnings(LinearSatisfaction(beta=-0.2), LogisticPrivacy(b_posture=0.3))
    assert any("more ux lowers predicted satisfaction" in x for x in w)
    assert any("better security posture raises the incident probability" in x for x in w)
    sim = Simulation(n_paths=4, device="cpu", satisfaction_model=LinearSatisfaction(gamma=-0.1))
    assert any("service_response" in x for x in sim.model_warnings())


# -------------------------------------------------------------------- To B


def _b_params(**changes):
    return draw_params(scenario(**changes), 1, torch.Generator().manual_seed(0), F64, CPU)


def test_pipeline_is_an_erlang_delay_with_the_mean_sales_cycle():
    """100 opportunities entering stage 1 close after 6 months on average (k = 3 stages),
    none in the first month (a first-order delay would close 1/6 at once)."""
    params = _b_params(
        to_b__initial_reps=0.0,
        to_b__initial_pipeline=0.0,
        to_b__lead_rate=0.0,
        to_b__bottom_up_rate=0.0,
    )
    state = market.initial_state(params)
    state = replace(state, opp1=torch.full((1,), 100.0, dtype=F64))
    no_sales = Decision(c_share=1.0)
    resolved = []
    for _ in range(240):
        before = float(state.opp1 + state.opp2 + state.opp3)
        state, _ = market.step(
            params,
            state,
            no_sales,
            torch.Generator().manual_seed(0),
            LinearSatisfaction(),
            LogisticPrivacy(intercept=-40.0),
        )
        resolved.append(before - float(state.opp1 + state.opp2 + state.opp3))
    assert resolved[0] == 0.0
    assert sum(resolved) == pytest.approx(100.0, rel=1e-6)
    mean_delay = sum((t + 1) * r for t, r in enumerate(resolved)) / 100.0
    assert mean_delay == pytest.approx(6.0, abs=1e-6)


def test_sales_spend_beyond_the_leads_buys_nothing():
    """Capacity (ramped reps x opportunities per rep) bounds new opportunities, and leads
    bound them too: doubling sales reps past the lead supply adds no opportunity."""
    sim_lo = Simulation(seed=0, n_paths=32, dtype="float64", device="cpu", policy="manual")
    sim_hi = Simulation(seed=0, n_paths=32, dtype="float64", device="cpu", policy="manual")
    # The same product/ux/service spend; twice the sales spend.
    rich = Decision(budget=5_000_000.0, c_share=0.0, privacy_share=0.0)
    b = 5_000_000.0 * 1.6
    richer = rich.with_changes(
        budget=b,
        b_split={"product": 1e6 / b, "ux": 0.5e6 / b, "service": 0.5e6 / b, "acquisition": 6e6 / b},
    )
    for _ in range(12):
        a, b = sim_lo.step(rich), sim_hi.step(richer)
    assert b["capacity_b"]["mean"] > 1.9 * a["capacity_b"]["mean"]
    assert b["new_opportunities_b"]["mean"] == pytest.approx(
        a["new_opportunities_b"]["mean"], rel=1e-9
    )
    assert a["new_opportunities_b"]["mean"] < a["capacity_b"]["mean"]


def test_an_incident_penalizes_acquisition_once_not_the_win_rate():
    params = draw_params(Scenario(), 1, torch.Generator().manual_seed(0), F64, CPU)
    s0 = market.initial_state(params)
    shocks = market.draw_shocks(torch.Generator().manual_seed(1), 1, F64, CPU)
    sat, inc = LinearSatisfaction(), LogisticPrivacy(intercept=-40.0)
    _, clean = market.advance(params, s0, Decision(), shocks, sat, inc)
    _, hit = market.advance(
        params, replace(s0, brand=torch.ones(1, dtype=F64)), Decision(), shocks, sat, inc
    )
    assert float(hit["win_rate_b"][0]) == float(clean["win_rate_b"][0])
    assert float(hit["new_users_c"][0]) < 0.5 * float(clean["new_users_c"][0])


def test_cac_is_not_available_without_acquisitions():
    sim = Simulation(scenario(to_b__win_rate=0.0), n_paths=16, device="cpu")
    s = sim.step()
    assert all(math.isnan(s["cac_b"][k]) for k in ("mean", "p10", "p50", "p90"))
    assert all(math.isnan(s["cac_payback_b"][k]) for k in ("mean", "p10", "p50", "p90"))
    assert s["cac_c_blended"]["mean"] > 0
    for k in ("p_cash_negative", "p_incident_so_far", "incidents"):
        assert 0 <= s[k]["mean"] <= 1 and math.isnan(s[k]["p10"])


# -------------------------------------------------------------------- To C


def test_a_price_rise_shocks_paid_churn_for_one_month():
    sim = Simulation(seed=0, n_paths=64, dtype="float64", device="cpu", policy="manual")
    sim.step(Decision())
    rise = sim.step(Decision(c_price=24.0))
    after = sim.step(Decision(c_price=24.0))
    shock = Scenario().to_c.price_churn_shock * math.log(2.0)
    assert rise["churn_paid_c"]["mean"] - after["churn_paid_c"]["mean"] == pytest.approx(
        shock, rel=0.05
    )


def test_model_document_lists_every_parameter():
    from pathlib import Path

    from stratsim.engine.scenario import PARAM_SECTIONS

    text = (Path(__file__).resolve().parent.parent / "docs" / "MODEL.md").read_text(
        encoding="utf-8"
    )
    for section in PARAM_SECTIONS:
        assert f"### `[{section}]`" in text
        for name, info in type(getattr(Scenario(), section)).model_fields.items():
            assert f"| `{name}` |" in text and info.description in text, f"{section}.{name}"


def test_real_survey_model_sets_noise_and_reference_level(tmp_path, capsys):
    """The ECSI mobile-phone survey model (a real, noisy survey): the simulation's
    satisfaction noise is the model's test RMSE and its reference level is the model's own
    prediction at the initial stocks (not a fixed 7.0), so a model with a different level
    does not by itself move churn, conversion and win rate."""
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "ecsi_mobi_survey.csv"
    if not data.exists():
        pytest.skip("real survey data not found")
    args = ["train", "satisfaction", "--data", str(data), "--scale", "1:10", "--quiet"]
    args += ["--map", "functionality=PERQ2,PERQ4,PERQ5,PERQ6", "--map", "ux=PERQ7"]
    args += ["--map", "service_response=PERQ3,CUSCO", "--target", "CUSA1", "--out", str(tmp_path)]
    assert main(args) == 0
    model = load_model(tmp_path, "satisfaction")
    sim = Simulation(seed=0, n_paths=200, dtype="float64", device="cpu", satisfaction_model=model)
    assert (
        sim.params.satisfaction.noise_sd == pytest.approx(model.metrics["rmse"])
        and model.metrics["rmse"] > 0.5
    )
    five = {
        k: torch.full((1,), 5.0, dtype=F64) for k in ("functionality", "ux", "service_response")
    }
    assert float(sim.state.s_ref_c[0]) == pytest.approx(
        float(model.predict({**five, "segment": torch.zeros(1, dtype=F64)})[0]), rel=1e-6
    )


def test_run_and_check_print_model_warnings(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(
        Simulation, "model_warnings", lambda self: ["satisfaction model 'x': test R² 0.01 is low"]
    )
    out = tmp_path / "s.toml"
    assert main(["run", "--steps", "2", "--paths", "20", "--device", "cpu", "--out", str(out)]) == 0
    assert (
        "stratsim: warning: satisfaction model 'x': test R² 0.01 is low" in capsys.readouterr().err
    )
    assert main(["check", str(out)]) == 0
    assert "stratsim: warning: satisfaction model 'x'" in capsys.readouterr().err


def test_cohort_nrr_is_what_a_closed_cohort_measures():
    """With no new accounts (win rate 0), To B MRR at month 36 over MRR at month 24 is the
    closed cohort's revenue retention: nrr_b at month 36 equals it path by path."""
    sim = Simulation(
        scenario(to_b__win_rate=0.0), seed=4, n_paths=50, dtype="float64", device="cpu"
    )
    mrr = {}
    for t in range(1, 37):
        state, outs = market.step(
            sim.params, sim.state, Decision(), sim._gen, sim.satisfaction_model, sim.privacy_model
        )
        sim.state = state
        if t in (24, 36):
            mrr[t] = outs["mrr_b"]
    assert torch.allclose(outs["nrr_b"], mrr[36] / mrr[24], rtol=1e-9)
    assert float(outs["grr_b"].max()) <= 1.0


def test_default_bands_show_parameter_risk():
    """The shipped uncertain parameters widen the bands beyond period noise alone."""
    d = Scenario().to_dict()
    for values in d.values():
        if isinstance(values, dict):
            for k, v in values.items():
                if isinstance(v, dict) and "dist" in v:
                    values[k] = v.get("median", v.get("mode", v.get("mean")))
    certain = scenario_from_dict(d)
    width = {}
    for name, scn in (("uncertain", Scenario()), ("certain", certain)):
        sim = Simulation(scn, seed=0, n_paths=400, device="cpu")
        sim.run(24)
        s = sim.history[-1]
        width[name] = {k: s[k]["p90"] - s[k]["p10"] for k in ("users_c", "accounts_b", "npv_total")}
    for k in width["certain"]:
        assert width["uncertain"][k] > 1.5 * width["certain"][k], (k, width)
