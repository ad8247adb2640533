"""Scenario: every parameter of the market model, typed, with defaults and their sources.

A scenario is a TOML file with the tables below (``stratsim/sample_data/default_scenario.toml``
ships every key with its default). Any float parameter may instead be *uncertain*: a
table such as ``bass_p = {dist = "lognormal", median = 0.0025, sigma = 0.3}`` that is drawn
once per Monte-Carlo path (:func:`~.scenario_draw.draw_parameters`), so the P10..P90 bands
show parameter uncertainty as well as period noise. Distributions: ``normal`` (mean, sd), ``lognormal``
(median, sigma), ``uniform`` (low, high), ``triangular`` (low, mode, high). Draws are
truncated to the parameter's valid range by the inverse CDF (never clipped onto a bound);
a normal or lognormal with most of its mass outside the range is refused, as is any value
of magnitude above :data:`MAX_MAGNITUDE`.

Units: currency per month for money flows, fractions 0..1 for shares and rates (per
month unless said), 0..10 for capability stocks and satisfaction (survey scale).

Validation errors are :class:`~stratsim.engine.errors.ScenarioError` naming the file,
the key path (``to_c.bass_p``), the value and the expectation.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..sample_data import sample_file
from .errors import ScenarioError

if TYPE_CHECKING:
    pass

DEFAULT_SCENARIO_PATH = sample_file("default_scenario.toml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)


class Normal(_Strict):
    dist: Literal["normal"]
    mean: float
    sd: float = Field(ge=0)


class LogNormal(_Strict):
    dist: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(ge=0)


class Uniform(_Strict):
    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _order(self):
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self


class Triangular(_Strict):
    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _order(self):
        if not self.low <= self.mode <= self.high:
            raise ValueError(f"need low <= mode <= high, got {self.low}, {self.mode}, {self.high}")
        return self


Distribution = Annotated[Normal | LogNormal | Uniform | Triangular, Field(discriminator="dist")]


def _p(
    default: float,
    source: str,
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
):
    """A float parameter that may be uncertain; ``source`` documents the default."""
    return Field(
        default=default,
        description=source,
        ge=None,
        le=None,
        json_schema_extra={"ge": ge, "le": le, "gt": gt},
    )


Param = float | Distribution


class _Section(_Strict):
    pass


def _dist_support(d: Any) -> list[float]:
    if isinstance(d, Normal):
        return [d.mean]
    if isinstance(d, LogNormal):
        return [d.median]
    if isinstance(d, Uniform):
        return [d.low, d.high]
    if isinstance(d, Triangular):
        return [d.low, d.mode, d.high]
    return []


#: Largest magnitude of any scenario value, decision value or draw: money flows are summed
#: over months, squared in variances and multiplied by 12 for ARR, and must stay finite in
#: float32 (max 3.4e38) with room to spare; 1e15 is a thousand times any plausible budget.
MAX_MAGNITUDE = 1e15
#: Largest lognormal sigma (a factor of e^5 = 148 per standard deviation).
MAX_LOG_SIGMA = 5.0


def _bound_problem(v: float, extra: dict) -> str | None:
    if not math.isfinite(v):
        return "expected a finite number"
    if abs(v) > MAX_MAGNITUDE:
        return f"expected a magnitude <= {MAX_MAGNITUDE:g} (larger values overflow the simulation's arithmetic)"
    ge, le, gt = extra.get("ge"), extra.get("le"), extra.get("gt")
    if ge is not None and v < ge:
        return f"expected >= {ge}"
    if gt is not None and v <= gt:
        return f"expected > {gt}"
    if le is not None and v > le:
        return f"expected <= {le}"
    return None


def _check_bounds(scenario: Scenario, source: str) -> None:
    from .scenario_draw import mass_inside

    for section in PARAM_SECTIONS:
        sec = getattr(scenario, section)
        for name, info in type(sec).model_fields.items():
            value = getattr(sec, name)
            values = [value] if isinstance(value, int | float) else _dist_support(value)
            for v in values:
                problem = _bound_problem(float(v), info.json_schema_extra or {})
                if problem:
                    raise ScenarioError(f"{source}: key {section}.{name}: value {v!r}: {problem}")
            if isinstance(value, int | float):
                continue
            for k, v in value.model_dump().items():
                if k != "dist" and not (math.isfinite(v) and abs(v) <= MAX_MAGNITUDE):
                    raise ScenarioError(
                        f"{source}: key {section}.{name}.{k}: value {v!r}: expected a finite number of magnitude <= {MAX_MAGNITUDE:g}"
                    )
            if isinstance(value, LogNormal) and value.sigma > MAX_LOG_SIGMA:
                raise ScenarioError(
                    f"{source}: key {section}.{name}.sigma: value {value.sigma!r}: expected <= {MAX_LOG_SIGMA:g}"
                )
            mass = mass_inside(value, info.json_schema_extra or {})
            if mass < 0.5:
                raise ScenarioError(
                    f"{source}: key {section}.{name}: value a table: only {mass:.0%} of the distribution lies inside the "
                    f"parameter's bounds; expected most of it (draws are truncated to the bounds)"
                )


# The scenario's [simulation] table (no docstring: section docstrings are written into the
# shipped default_scenario.toml); the runner is stratsim.engine.simulation.Simulation.
class SimulationSettings(_Strict):
    horizon_months: int = Field(
        36, ge=1, le=600, description="Periods (months) shown as the run's horizon."
    )
    satisfaction_noise: Literal["model", "scenario"] = Field(
        "model",
        description="Satisfaction noise sd: 'model' = the satisfaction model's test RMSE (satisfaction.noise_sd when the model reports none), 'scenario' = satisfaction.noise_sd.",
    )


def _ln(median: float, sigma: float) -> LogNormal:
    return LogNormal(dist="lognormal", median=median, sigma=sigma)


def _tri(low: float, mode: float, high: float) -> Triangular:
    return Triangular(dist="triangular", low=low, mode=mode, high=high)


class Capability(_Section):
    """Capability stocks X in 0..10: X' = X + eta*ln(1 + spend/spend_scale)*(1 - X/10) - delta*X.

    A goodwill-style stock with diminishing returns and depreciation (Nerlove & Arrow 1962,
    Economica 29:129-142); the 0..10 scale matches survey ratings (ECSI/ACSI items).
    A shared core stock K (models, platform) is built by core_share of both segments'
    product spend; the functionality the satisfaction model sees is (1-core_weight)*F + core_weight*K."""

    eta: Param = _p(0.6, "Gain per unit of ln(1+spend/scale); calibration assumption.", ge=0)
    delta: Param = _p(
        0.02,
        "Monthly depreciation (about 22%/yr, product-quality decay; calibration assumption).",
        ge=0,
        le=1,
    )
    spend_scale: Param = _p(
        20_000.0,
        "Spend (currency/month) at which ln(1+x) reaches ln 2; calibration assumption.",
        gt=0,
    )
    init_c: Param = _p(5.0, "Initial F, U, R of the consumer product (mid-scale).", ge=0, le=10)
    init_b: Param = _p(5.0, "Initial F, U, R of the enterprise product (mid-scale).", ge=0, le=10)
    init_posture: Param = _p(5.0, "Initial privacy/security posture P (mid-scale).", ge=0, le=10)
    init_core: Param = _p(5.0, "Initial shared core stock K (mid-scale).", ge=0, le=10)
    core_share: Param = _p(
        0.5,
        "Share of each segment's product spend that builds the shared core K (platform teams; assumption).",
        ge=0,
        le=1,
    )
    core_weight: Param = _p(
        0.4,
        "Weight of K in the functionality both segments see (shared model/platform; assumption).",
        ge=0,
        le=1,
    )


class Satisfaction(_Section):
    reference_capability: Param = _p(
        5.0,
        "Capability level (F, U, R and core K, 0..10) of the market's typical product: the satisfaction the model predicts there is the reference at which the base rates (churn, conversion, word of mouth, win rate) hold, so a product that starts better than the market's typical one starts with better rates (mid-scale; assumption).",
        ge=0,
        le=10,
    )
    noise_sd: Param = _p(
        0.3,
        "Per-period noise of satisfaction, survey points, when the model reports no test RMSE (ECSI item sd ~1.5 / sqrt(25) respondents).",
        ge=0,
    )


class ToC(_Section):
    """Consumer market: Bass diffusion (Bass 1969, Management Science 15:215-227), freemium,
    perceived value V = S - value_price_weight*(price/reference_price - 1), a lapsed pool."""

    market_potential: Param = _p(4_000_000.0, "M_c, addressable users; scenario assumption.", gt=0)
    bass_p: Param = _p(
        _ln(0.0025, 0.35),
        "Innovation coefficient per month: p=0.03/yr mean of Sultan, Farley & Lehmann 1990 (JMR 27:70-77) / 12; their spread across studies ~x/1.4.",
        ge=0,
        le=1,
    )
    bass_q: Param = _p(
        _ln(0.032, 0.3),
        "Imitation coefficient per month: q=0.38/yr mean of Sultan, Farley & Lehmann 1990 / 12; spread ~x/1.35.",
        ge=0,
        le=1,
    )
    acquisition_effect: Param = _p(
        0.004,
        "Added to p per unit ln(1+acquisition spend/spend_scale); calibration assumption.",
        ge=0,
    )
    wom_sat_slope: Param = _p(
        0.3,
        "Word of mouth q scales by exp(slope*(V - S_ref)); calibration assumption (net-promoter studies: WoM rises with satisfaction).",
        ge=0,
    )
    adoption_noise_sd: Param = _p(
        0.1, "Lognormal sd of monthly adopter counts; calibration assumption.", ge=0
    )
    initial_free: Param = _p(20_000.0, "Free users at period 0; scenario assumption.", ge=0)
    initial_paid: Param = _p(
        600.0, "Paid users at period 0 (3% of users); scenario assumption.", ge=0
    )
    conversion_max: Param = _p(
        0.01,
        "Ceiling of the monthly free->paid conversion rate; freemium benchmarks (Kumar 2014, HBR) put paid shares at 2-5%.",
        ge=0,
        le=1,
    )
    conversion_logit0: Param = _p(
        -1.6,
        "Logit of conversion/conversion_max at reference satisfaction and price: 0.17% a month (freemium monthly free->paid conversion 0.1-0.5%), calibrated to a 2-5% paid share at month 36.",
    )
    conversion_sat_slope: Param = _p(
        0.25, "Conversion logit change per point of perceived value V; calibration assumption."
    )
    value_price_weight: Param = _p(
        _ln(2.0, 0.25),
        "Perceived value V = S - w*(price/reference_price - 1): points lost per reference price of extra price (logit choice, price linear); price elasticity of paid users ~(conversion+churn slopes)*w*price/ref = 0.7 at the reference (consumer subscriptions 0.5-2).",
        ge=0,
    )
    reference_price: Param = _p(
        12.0,
        "Reference consumer price, currency/month (median consumer AI subscription ~USD 10-20).",
        gt=0,
    )
    churn_free: Param = _p(
        0.08,
        "Monthly churn of free users at reference satisfaction (consumer apps 5-10%/month).",
        ge=0,
        le=1,
    )
    churn_paid: Param = _p(
        _tri(0.03, 0.045, 0.07),
        "Monthly churn of paid users at reference value (consumer subscriptions 3-7%/month, Recurly 2023).",
        ge=0,
        le=1,
    )
    churn_sat_slope: Param = _p(
        0.12, "Churn multiplier exp(-slope*(V-S_ref)); calibration assumption.", ge=0
    )
    price_churn_shock: Param = _p(
        0.5,
        "Extra paid churn in the month of a price rise, per unit ln(new/old price) (one-month shock; price-increase churn studies).",
        ge=0,
    )
    lapse_return_rate: Param = _p(
        0.03,
        "Monthly share of lapsed (churned) consumers who return to the untapped market (re-acquirable after ~3 years on average); assumption.",
        ge=0,
        le=1,
    )
    compute_cost_per_user: Param = _p(
        0.10,
        "Inference compute per active user (free or paid), currency/month; the freemium trade-off.",
        ge=0,
    )


class ToB(_Section):
    """Enterprise market: sales reps (hiring lag, ramp, bounded opportunities a month), a
    k=3 Erlang sales pipeline, seats, price response, NRR/GRR."""

    market_potential: Param = _p(
        5_000.0, "M_b, addressable enterprise accounts; scenario assumption.", gt=0
    )
    rep_cost: Param = _p(
        16_000.0,
        "Loaded cost of a sales rep, currency/month (AE OTE ~USD 150-200k/yr plus ~20% overhead; Bridge Group 2023).",
        gt=0,
    )
    hiring_lag_months: Param = _p(
        2.0, "Mean months from budget to hired rep (first-order; time-to-hire ~40-60 days).", ge=1
    )
    ramp_months: Param = _p(
        4.0,
        "Mean months for a hired rep to reach full productivity (AE ramp 3-6 months; Bridge Group 2023).",
        ge=1,
    )
    opportunities_per_rep: Param = _p(
        4.0,
        "New opportunities a fully ramped rep can work a month; leads beyond capacity are lost (assumption, mid-market AE ~4-8).",
        gt=0,
    )
    lead_rate: Param = _p(
        0.004,
        "Share of open (not yet won) accounts that become sales-ready leads a month; assumption.",
        ge=0,
        le=1,
    )
    bottom_up_rate: Param = _p(
        0.0001,
        "Enterprise leads per active consumer a month (bottom-up adoption: 1 per 10,000 users); assumption.",
        ge=0,
    )
    sales_cycle_months: Param = _p(
        6.0, "Mean sales cycle, a k=3 Erlang delay (B2B SaaS 3-9 months).", ge=3
    )
    win_rate: Param = _p(
        _tri(0.15, 0.22, 0.30),
        "Win rate of resolved deals at reference price, satisfaction and with the security review passed (B2B SaaS 15-30%).",
        ge=0,
        le=1,
    )
    win_sat_slope: Param = _p(
        0.15, "Win-rate multiplier exp(slope*(S_b - S_ref)); assumption.", ge=0
    )
    security_review_threshold: Param = _p(
        6.0, "Posture P below which enterprise security reviews mostly fail.", ge=0, le=10
    )
    security_review_steepness: Param = _p(
        3.0, "Slope of the logistic security-review pass rate per posture point.", ge=0
    )
    reference_seat_price: Param = _p(
        40.0,
        "Reference seat price, currency/seat/month (business AI assistant seats USD 20-60).",
        gt=0,
    )
    price_elasticity: Param = _p(
        _tri(0.5, 1.0, 1.5),
        "Win-rate price sensitivity: win scales by exp(-e*(price/ref - 1)), a logit choice with price entering linearly (elasticity e*price/ref: e at the reference; B2B elasticities 0.5-1.5).",
        ge=0,
    )
    seat_price_sensitivity: Param = _p(
        0.004,
        "Monthly seat contraction at retained accounts per unit (price/ref - 1), linear like the other price responses; assumption.",
        ge=0,
    )
    churn_price_elasticity: Param = _p(
        0.5, "Logo churn scales by exp(e*(price/ref - 1)); assumption.", ge=0
    )
    seats_per_new_account: Param = _p(
        40.0, "Seats of a newly won account (mid-market; scenario assumption).", gt=0
    )
    seat_expansion_max: Param = _p(
        0.02,
        "Max monthly seat growth of retained accounts (NRR 100-120%/yr, KeyBanc SaaS survey).",
        ge=0,
        le=1,
    )
    expansion_sat_mid: Param = _p(
        5.0, "Satisfaction at which seats neither grow nor shrink (from satisfaction).", ge=0, le=10
    )
    logo_churn: Param = _p(
        _tri(0.006, 0.009, 0.013),
        "Monthly logo churn at reference satisfaction and price (B2B SaaS GRR 85-93%/yr: 0.6-1.3%/month).",
        ge=0,
        le=1,
    )
    churn_sat_slope: Param = _p(0.25, "Logo-churn multiplier exp(-slope*(S-S_ref)).", ge=0)
    leads_noise_sd: Param = _p(0.15, "Lognormal sd of monthly leads.", ge=0)
    initial_accounts: Param = _p(20.0, "Accounts at period 0.", ge=0)
    initial_seats: Param = _p(500.0, "Seats at period 0.", ge=0)
    initial_pipeline: Param = _p(
        30.0, "Open opportunities at period 0 (spread over the 3 pipeline stages).", ge=0
    )
    initial_reps: Param = _p(3.0, "Ramped sales reps at period 0.", ge=0)
    cost_per_seat: Param = _p(4.0, "Serving cost per seat, currency/month.", ge=0)


class Privacy(_Section):
    """Data-leak incidents and their costs (IBM Cost of a Data Breach 2025: USD 4.44M average,
    of which lost business about a third)."""

    records_per_seat: Param = _p(
        50.0, "Personal-data records held per enterprise seat (its customers' data).", ge=0
    )
    third_party_access: Param = _p(
        1.0, "1 if third parties (sub-processors) access the data, else 0.", ge=0, le=1
    )
    exposed_fraction: Param = _p(
        0.01,
        "Share of records exposed in an incident (IBM 2025: a typical breach exposes tens of thousands of records, a few per cent of what a firm holds at most); assumption.",
        ge=0,
        le=1,
    )
    cost_per_record: Param = _p(
        160.0,
        "Remediation per exposed record, currency (IBM Cost of a Data Breach 2025: ~USD 160).",
        ge=0,
    )
    response_cost: Param = _p(
        _ln(1_200_000.0, 0.5),
        "Detection, escalation, notification and post-breach response per incident, currency (IBM 2025: ~2/3 of USD 4.44M for large firms; scaled down).",
        ge=0,
    )
    fine_cap_fixed: Param = _p(
        21_600_000.0, "Fixed GDPR cap, currency (Art. 83(5): EUR 20M at 1.08 USD/EUR).", ge=0
    )
    fine_cap_share: Param = _p(
        0.04,
        "Revenue part of the cap: share of trailing-12-month revenue (GDPR Art. 83(5): 4% of worldwide turnover).",
        ge=0,
        le=1,
    )
    fine_fraction_of_cap: Param = _p(
        0.01,
        "Share of the cap max(fixed, share*revenue) actually levied (most GDPR fines are far below the cap).",
        ge=0,
        le=1,
    )
    churn_shock_c: Param = _p(
        0.03, "Extra share of consumers lost in an incident month.", ge=0, le=1
    )
    churn_shock_b: Param = _p(
        0.05,
        "Extra share of enterprise accounts lost in an incident month (stronger for To B).",
        ge=0,
        le=1,
    )
    brand_hit: Param = _p(
        0.7,
        "Brand penalty added by an incident; acquisition (To C adoption, To B leads) scales by exp(-penalty).",
        ge=0,
    )
    brand_decay: Param = _p(0.8, "Monthly persistence of the brand penalty.", ge=0, le=1)


class Finance(_Section):
    """Money: NPV at a monthly rate from the annual discount rate, with a terminal value."""

    initial_cash: Param = _p(10_000_000.0, "Cash at period 0, currency; scenario assumption.")
    fixed_costs: Param = _p(60_000.0, "Fixed operating costs, currency/month.", ge=0)
    discount_rate_annual: Param = _p(
        0.12, "Annual discount rate for NPV (growth-stage SaaS WACC ~10-15%).", ge=0.06, le=1
    )
    terminal_growth: Param = _p(
        0.03,
        "Long-run annual growth after the horizon in the Gordon terminal value: of the steady-state costs, and at most of each segment's margin (which also follows its volume trend and its installed base's own growth); nominal GDP ~2-4%; must stay below the discount rate.",
        ge=-0.05,
        le=0.05,
    )
    overdraft_rate_annual: Param = _p(
        0.15,
        "Annual interest on negative cash (the cost of financing a shortfall: venture debt and revolving credit for growth-stage software companies ran ~10-15% a year plus fees in 2023-2025), charged monthly on the month's opening cash below zero, fraction/year.",
        ge=0,
        le=1,
    )
    arr_multiple: Param = _p(
        5.0,
        "Enterprise value / ARR for the ARR-multiple terminal value (public SaaS median EV/ARR ~5-7x, 2023-2025).",
        ge=0,
    )


class Split(_Strict):
    product: float = Field(ge=0, le=1)
    ux: float = Field(ge=0, le=1)
    service: float = Field(ge=0, le=1)
    acquisition: float = Field(ge=0, le=1)


class Allocation(_Strict):
    """The scenario's allocation, used by the ``fixed`` policy and as the initial decision."""

    budget: float = Field(300_000.0, ge=0, description="Spend per month, currency.")
    privacy_share: float = Field(0.10, ge=0, le=1)
    c_share: float = Field(0.5, ge=0, le=1)
    c_split: Split = Split(product=0.2, ux=0.2, service=0.1, acquisition=0.5)
    b_split: Split = Split(product=0.2, ux=0.1, service=0.1, acquisition=0.6)
    c_price: float = Field(12.0, ge=0)
    b_seat_price: float = Field(40.0, ge=0)


class Scenario(_Strict):
    """Every parameter of the model. Build with :func:`load_scenario` or ``Scenario()``."""

    name: str = "default"
    simulation: SimulationSettings = SimulationSettings()
    capability: Capability = Capability()
    satisfaction: Satisfaction = Satisfaction()
    to_c: ToC = ToC()
    to_b: ToB = ToB()
    privacy: Privacy = Privacy()
    finance: Finance = Finance()
    allocation: Allocation = Allocation()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (TOML-ready, no None) of every parameter."""
        return self.model_dump(mode="python", exclude_none=True)


PARAM_SECTIONS = ("capability", "satisfaction", "to_c", "to_b", "privacy", "finance")


def scenario_from_dict(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a mapping into a :class:`Scenario`.

    Raises:
        ScenarioError: ``source: key a.b: value V: expectation`` for the first problems.
    """
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, source)) from None
    _check_bounds(scenario, source)
    return scenario


def _format_errors(exc: ValidationError, source: str) -> str:
    parts: dict[str, str] = {}
    for err in exc.errors():
        key_parts, detail = [], []
        in_union = False
        for x in err["loc"]:
            x = str(x)
            if x == "float" or x.startswith(("tagged-union", "function-after")):
                in_union = True
                continue
            (detail if in_union else key_parts).append(x)
        key = ".".join(key_parts) or "(top level)"
        value = err.get("input")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (a typo? see the default scenario for every key)"
        elif in_union and detail and err["type"] == "missing":
            msg = f"distribution table lacks key {'.'.join(detail)}"
        elif in_union and detail:
            msg = f"distribution key {'.'.join(detail)}: {msg}"
        elif in_union:
            msg = "expected a number or a distribution table {dist = normal|lognormal|uniform|triangular, ...}"
        if key in parts and in_union and not detail:
            continue
        shown = "a table" if isinstance(value, dict) else repr(value)
        parts[key] = f"{source}: key {key}: value {shown}: {msg}"
    items = list(parts.values())
    more = len(items) - 3
    return "; ".join(items[:3]) + (f" (and {more} more)" if more > 0 else "")


def _is_scenario_document(document: dict[str, Any]) -> bool:
    return bool(document) and set(document) <= set(Scenario.model_fields)


def _scenario_file_kind():
    from .outputs import toml_kind

    return toml_kind("scenario file", _is_scenario_document)


#: Output kind of scenario files (the shipped default, ``stratsim optimize --out``): an
#: existing file is replaced without ``--force`` only when its top-level keys are scenario keys.
SCENARIO_FILE = _scenario_file_kind()


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read and validate a scenario TOML file (the shipped default when ``path`` is None).

    Raises:
        ScenarioError: missing or unreadable file, TOML syntax error, unknown key, wrong
            type, out-of-range value (message names file, key path, value, expectation).
    """
    from .fileio import printable, read_toml

    p = Path(path) if path is not None else DEFAULT_SCENARIO_PATH
    data = read_toml(p, ScenarioError, "scenario file")
    return scenario_from_dict(data, printable(p))
