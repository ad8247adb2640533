"""Scenario: the shipped default file, per-path uncertain parameters, TOML errors."""

from __future__ import annotations

import math
import tomllib

import pytest
import tomli_w
import torch

from stratsim.engine.errors import ScenarioError
from stratsim.engine.scenario import (
    DEFAULT_SCENARIO_PATH,
    PARAM_SECTIONS,
    Scenario,
    load_scenario,
    scenario_from_dict,
)
from stratsim.engine.scenario_draw import draw_parameters
from stratsim.sample_data.write_default_scenario import render

N = 200_000


def draw(section: str, name: str, dist: dict, n: int = N, seed: int = 0) -> torch.Tensor:
    d = Scenario().to_dict()
    d[section][name] = dist
    params = draw_parameters(
        scenario_from_dict(d),
        n,
        torch.Generator().manual_seed(seed),
        torch.float64,
        torch.device("cpu"),
    )
    return params[f"{section}.{name}"]


# ------------------------------------------------------------------ default file


def test_shipped_default_scenario_loads_to_exactly_the_defaults():
    assert load_scenario() == Scenario()
    assert load_scenario(DEFAULT_SCENARIO_PATH) == Scenario()


def test_shipped_default_scenario_is_what_the_writer_renders():
    """The TOML on disk is regenerated from scenario.py (no hand edits drift)."""
    assert DEFAULT_SCENARIO_PATH.read_text(encoding="utf-8") == render(Scenario())


def test_every_parameter_documents_its_source_in_the_shipped_file():
    text = DEFAULT_SCENARIO_PATH.read_text(encoding="utf-8")
    for section in PARAM_SECTIONS:
        for name, info in type(getattr(Scenario(), section)).model_fields.items():
            assert info.description and len(info.description) > 10, (
                f"{section}.{name} has no source"
            )
            assert f"# {info.description}\n{name} = " in text, f"{section}.{name}"


def test_draw_parameters_covers_every_float_parameter_with_constant_tensors():
    params = draw_parameters(
        Scenario(), 7, torch.Generator().manual_seed(0), torch.float32, torch.device("cpu")
    )
    expected = {
        f"{s}.{n}" for s in PARAM_SECTIONS for n in type(getattr(Scenario(), s)).model_fields
    }
    assert set(params) == expected
    for key, t in params.items():
        section, name = key.split(".")
        assert t.shape == (7,) and t.dtype == torch.float32
        value = getattr(getattr(Scenario(), section), name)
        if isinstance(value, float):
            assert torch.all(t == value), key
        else:  # the default ships uncertain where the literature gives a range
            assert len(set(t.tolist())) == 7, key


# ------------------------------------------------------------ uncertain params


def test_normal_draws_have_the_given_mean_and_sd():
    t = draw("to_c", "churn_free", {"dist": "normal", "mean": 0.5, "sd": 0.1})
    assert float(t.mean()) == pytest.approx(0.5, abs=0.002)
    assert float(t.std()) == pytest.approx(0.1, rel=0.02)
    assert len(set(t[:100].tolist())) == 100  # drawn per path


def test_lognormal_draws_have_the_given_median_and_log_sd():
    t = draw("to_c", "bass_p", {"dist": "lognormal", "median": 0.0025, "sigma": 0.3})
    assert float(t.median()) == pytest.approx(0.0025, rel=0.01)
    assert float(t.log().std()) == pytest.approx(0.3, rel=0.02)
    assert float(t.mean()) == pytest.approx(0.0025 * math.exp(0.3**2 / 2), rel=0.01)


def test_uniform_draws_have_the_right_mean_spread_and_support():
    t = draw("to_b", "win_rate", {"dist": "uniform", "low": 0.1, "high": 0.4})
    assert float(t.mean()) == pytest.approx(0.25, abs=0.002)
    assert float(t.std()) == pytest.approx(0.3 / math.sqrt(12), rel=0.02)
    assert float(t.min()) >= 0.1 and float(t.max()) <= 0.4
    assert float(t.min()) < 0.101 and float(t.max()) > 0.399


def test_triangular_draws_have_the_right_mean_spread_mode_and_support():
    a, c, b = 3.0, 5.0, 11.0
    t = draw("to_b", "sales_cycle_months", {"dist": "triangular", "low": a, "mode": c, "high": b})
    assert float(t.mean()) == pytest.approx((a + b + c) / 3, rel=0.01)
    var = (a * a + b * b + c * c - a * b - a * c - b * c) / 18
    assert float(t.std()) == pytest.approx(math.sqrt(var), rel=0.02)
    assert float(t.min()) >= a and float(t.max()) <= b
    # CDF at the mode is (c - a) / (b - a).
    assert float((t < c).double().mean()) == pytest.approx((c - a) / (b - a), abs=0.005)


def test_degenerate_triangular_is_constant():
    t = draw("to_b", "win_rate", {"dist": "triangular", "low": 0.3, "mode": 0.3, "high": 0.3}, n=10)
    assert torch.all(t == 0.3)


@pytest.mark.parametrize(
    ("section", "name", "dist", "lo", "hi"),
    [
        ("to_c", "churn_paid", {"dist": "normal", "mean": 0.95, "sd": 0.2}, 0.0, 1.0),  # le=1
        ("to_c", "bass_q", {"dist": "normal", "mean": 0.05, "sd": 0.05}, 0.0, 1.0),  # ge=0
        ("privacy", "brand_decay", {"dist": "lognormal", "median": 0.9, "sigma": 0.5}, 0.0, 1.0),
        ("capability", "init_posture", {"dist": "normal", "mean": 9.5, "sd": 1.0}, 0.0, 10.0),
        (
            "to_c",
            "market_potential",
            {"dist": "normal", "mean": 2e6, "sd": 1.5e6},
            0.0,
            math.inf,
        ),  # gt=0
    ],
)
def test_draws_are_truncated_to_the_parameter_range_by_redrawing_the_tail(
    section, name, dist, lo, hi
):
    """Truncation, not clipping: no draw lands on a bound, and the draws follow the
    distribution conditioned on the range (its mean is the truncated mean)."""
    t = draw(section, name, dist, n=20_000)
    assert float(t.min()) > lo or (float(t.min()) >= lo and name != "market_potential")
    assert float(t.max()) <= hi
    assert float(((t == lo) | (t == hi)).double().mean()) < 1e-3
    if dist["dist"] == "normal":
        # Mean of a normal truncated to [a, b] (in sd units): mu + sd*(phi(a) - phi(b))/(Phi(b) - Phi(a)).
        a, b = (lo - dist["mean"]) / dist["sd"], (hi - dist["mean"]) / dist["sd"]
        pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi) if math.isfinite(z) else 0.0  # noqa: E731
        cdf = lambda z: 0.5 * math.erfc(-z / math.sqrt(2))  # noqa: E731
        expected = dist["mean"] + dist["sd"] * (pdf(a) - pdf(b)) / (cdf(b) - cdf(a))
        assert float(t.mean()) == pytest.approx(expected, rel=0.02)


def test_distribution_with_most_mass_outside_the_range_is_refused():
    d = Scenario().to_dict()
    d["to_b"]["win_rate"] = {"dist": "normal", "mean": 0.9, "sd": 1.0}
    with pytest.raises(ScenarioError, match=r"key to_b.win_rate: .*inside the parameter's bounds"):
        scenario_from_dict(d, "s.toml")


@pytest.mark.parametrize(
    ("section", "name", "value", "key"),
    [
        ("finance", "fixed_costs", 1e39, "finance.fixed_costs"),
        ("finance", "initial_cash", 1e308, "finance.initial_cash"),
        (
            "to_c",
            "market_potential",
            {"dist": "normal", "mean": 2e6, "sd": 1e39},
            "to_c.market_potential.sd",
        ),
        (
            "to_c",
            "bass_p",
            {"dist": "lognormal", "median": 0.002, "sigma": 50.0},
            "to_c.bass_p.sigma",
        ),
    ],
)
def test_values_the_arithmetic_cannot_hold_are_refused_naming_the_key(section, name, value, key):
    d = Scenario().to_dict()
    d[section][name] = value
    with pytest.raises(ScenarioError, match=rf"s.toml: key {key}: value"):
        scenario_from_dict(d, "s.toml")


def test_draws_are_reproducible_and_seed_dependent():
    dist = {"dist": "uniform", "low": 0.01, "high": 0.05}
    assert torch.equal(
        draw("to_c", "bass_q", dist, n=100, seed=3), draw("to_c", "bass_q", dist, n=100, seed=3)
    )
    assert not torch.equal(
        draw("to_c", "bass_q", dist, n=100, seed=3), draw("to_c", "bass_q", dist, n=100, seed=4)
    )


def test_distribution_outside_the_parameter_range_is_refused():
    d = Scenario().to_dict()
    d["to_b"]["win_rate"] = {"dist": "uniform", "low": 0.5, "high": 1.5}
    with pytest.raises(ScenarioError, match=r"key to_b\.win_rate: value 1\.5: expected <= 1"):
        scenario_from_dict(d, "s.toml")


# ----------------------------------------------------------------- TOML errors


def write(tmp_path, text: str):
    p = tmp_path / "scn.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "key", "expect"),
    [
        ("[to_c]\nbass_p = -0.1\n", "to_c.bass_p", "expected >= 0"),
        ("[to_b]\nwin_rate = 1.2\n", "to_b.win_rate", "expected <= 1"),
        ("[to_c]\nmarket_potential = 0\n", "to_c.market_potential", "expected > 0"),
        ("[to_c]\nbass_q = nan\n", "to_c.bass_q", "finite"),
        ("[finance]\ninitial_cash = inf\n", "finance.initial_cash", "finite"),
        ("[to_c]\nbass_qq = 0.03\n", "to_c.bass_qq", "unknown key"),
        ("[marketing]\nbudget = 1\n", "marketing", "unknown key"),
        ("[to_c]\nbass_p = 'lots'\n", "to_c.bass_p", "expected a number or a distribution"),
        ("[to_c]\nbass_p = {dist = 'normal', mean = 0.1}\n", "to_c.bass_p", "lacks key normal.sd"),
        ("[to_c]\nbass_p = {dist = 'cauchy', loc = 0.1}\n", "to_c.bass_p", "dist"),
        (
            "[to_c]\nbass_p = {dist = 'uniform', low = 0.2, high = 0.1}\n",
            "to_c.bass_p",
            "must be >= low",
        ),
        ("[to_c]\nbass_p = {dist = 'normal', mean = 0.1, sd = -1}\n", "to_c.bass_p", "sd"),
        ("[allocation]\nc_share = 1.5\n", "allocation.c_share", "1"),
        ("[allocation.c_split]\nproduct = 0.5\n", "allocation.c_split.ux", "field required"),
        ("[simulation]\nhorizon_months = 0\n", "simulation.horizon_months", "1"),
        # strict types: TOML has real numbers and booleans, so no silent coercion
        ("[capability]\neta = '0.6'\n", "capability.eta", "expected a number"),
        ("[simulation]\nhorizon_months = true\n", "simulation.horizon_months", "valid integer"),
        ("[allocation]\nbudget = '300000'\n", "allocation.budget", "valid number"),
    ],
)
def test_toml_errors_name_the_file_the_key_and_the_expectation(tmp_path, text, key, expect):
    p = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert msg.startswith(str(p)), msg
    assert f"key {key}" in msg, msg
    assert expect.lower() in msg.lower(), msg
    assert "\n" not in msg


def test_toml_syntax_error_names_the_file_and_line(tmp_path):
    p = write(tmp_path, "[to_c]\nbass_p = = 3\n")
    with pytest.raises(ScenarioError, match=rf"^{p}: invalid TOML: .*line 2"):
        load_scenario(p)


def test_missing_and_non_utf8_files_are_named(tmp_path):
    with pytest.raises(ScenarioError, match=r"nope\.toml: cannot read scenario file"):
        load_scenario(tmp_path / "nope.toml")
    p = tmp_path / "bin.toml"
    p.write_bytes(b"name = '\xff\xfe'\n")
    with pytest.raises(ScenarioError, match=rf"^{p}: not UTF-8"):
        load_scenario(p)


def test_partial_file_keeps_defaults_and_uncertain_values_round_trip(tmp_path):
    d = Scenario().to_dict()
    d["to_c"]["bass_q"] = {"dist": "triangular", "low": 0.02, "mode": 0.03, "high": 0.05}
    d["to_b"]["logo_churn"] = {"dist": "lognormal", "median": 0.012, "sigma": 0.2}
    full = scenario_from_dict(d)
    p = write(tmp_path, tomli_w.dumps(full.to_dict()))
    assert load_scenario(p) == full
    assert tomllib.loads(p.read_text())["to_c"]["bass_q"]["mode"] == 0.03
    partial = load_scenario(write(tmp_path, "name = 'x'\n[to_c]\nbass_p = 0.004\n"))
    assert partial.to_c.bass_p == 0.004 and partial.name == "x"
    assert partial.to_b == Scenario().to_b and partial.to_c.bass_q == Scenario().to_c.bass_q
