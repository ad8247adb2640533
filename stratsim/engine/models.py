"""Pluggable response models used by the simulation step.

The step asks two models for numbers it cannot derive from accounting identities:

* a **satisfaction model**: satisfaction (0..10 survey scale) from functionality F,
  user experience U and service response R (each 0..10), optionally the segment;
* a **privacy model**: the probability (fraction 0..1) that a path suffers a
  data-leak incident in a period.

Both follow one interface, :class:`ResponseModel`: a tuple of ``features`` the model
needs and ``predict(features) -> Tensor[n_paths]``. The simulation supplies the
features in :data:`SATISFACTION_FEATURES` and :data:`PRIVACY_FEATURES`; a model that
needs anything else is refused by :func:`check_features` with a message naming what is
missing. Trained models (``stratsim.engine.trained``) implement the same interface.

Until a model is trained the step uses the shipped defaults below, whose coefficients
are the ground truth of the sample-data generator (``stratsim/sample_data/generate.py``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import ModelError

if TYPE_CHECKING:
    import torch

#: The roles a model plays in the simulation (one vocabulary: the model of data-leak
#: incidents is the ``privacy`` model everywhere: CLI, TUI, files and code).
ROLES = ("satisfaction", "privacy")
#: Model role -> the attribute holding it on a Simulation (``privacy_model``, ...).
MODEL_ATTRS = {role: f"{role}_model" for role in ROLES}

#: Features the simulation can supply to a satisfaction model, each ``[n_paths]``.
#: functionality, ux, service_response: capability stocks, 0..10.
#: segment: 0.0 for To C, 1.0 for To B.
SATISFACTION_FEATURES = ("functionality", "ux", "service_response", "segment")

#: Features the simulation can supply to a privacy model, each ``[n_paths]``.
#: records_log10: log10(1 + personal-data records held); security_posture: P, 0..10;
#: enterprise_share: fraction 0..1 of records that belong to To B customers;
#: third_party_access: 0/1, whether third parties process the data.
PRIVACY_FEATURES = ("records_log10", "security_posture", "enterprise_share", "third_party_access")


@runtime_checkable
class ResponseModel(Protocol):
    """What the simulation needs of a satisfaction or privacy model.

    Attributes:
        features: names of the inputs the model reads (a subset of the features the
            simulation supplies).
        description: a short human-readable label (shown in the TUI header / CLI).
    """

    features: tuple[str, ...]
    description: str

    def predict(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return ``[n_paths]`` predictions (satisfaction 0..10, or probability 0..1)."""
        ...


def check_features(model: ResponseModel, available: tuple[str, ...], role: str) -> None:
    """Refuse a model that needs a feature the simulation cannot supply.

    Raises:
        ModelError: naming the role, the missing features and the available ones.
    """
    missing = [f for f in model.features if f not in available]
    if missing:
        raise ModelError(
            f"{role} model {model.description!r} needs feature(s) {', '.join(missing)} "
            f"that the simulation cannot supply; available: {', '.join(available)}"
        )


@dataclass(frozen=True)
class LinearSatisfaction:
    """S = alpha*F + beta*U + gamma*R + intercept, clipped to 0..10.

    Defaults are the generator's ground truth (see ``sample_data/generate.py``); the
    weights follow the ECSI/ACSI finding that perceived quality is the strongest
    driver of satisfaction (Fornell et al. 1996, J. Marketing 60(4)), with user
    experience close behind and service response weaker.
    """

    alpha: float = 0.45
    beta: float = 0.30
    gamma: float = 0.15
    intercept: float = 0.9
    features: tuple[str, ...] = ("functionality", "ux", "service_response")
    description: str = "linear (shipped defaults)"

    def predict(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        s = (
            self.alpha * features["functionality"]
            + self.beta * features["ux"]
            + self.gamma * features["service_response"]
            + self.intercept
        )
        return s.clamp(0.0, 10.0)


@dataclass(frozen=True)
class LogisticPrivacy:
    """p = sigmoid(b0 + b_rec*records_log10 + b_pos*P + b_ent*enterprise_share + b_tp*third_party).

    Defaults are the generator's ground truth (``sample_data/generate.py``): at one
    million records, posture 5 and no third-party access about 1.3% a month; with the
    default scenario (about 2*10^5 records, posture ~7, third-party access) about 1.1-1.5% a
    month, close to the ~25-30% two-year breach likelihood reported by the Ponemon/IBM Cost of a Data
    Breach studies (2017-2019) for firms holding 10^5..10^6 records.
    """

    intercept: float = -5.4
    b_records: float = 0.55
    b_posture: float = -0.45
    b_enterprise: float = 0.6
    b_third_party: float = 0.8
    features: tuple[str, ...] = PRIVACY_FEATURES
    description: str = "logistic (shipped defaults)"
    #: The period one label of the training data covered (the generator's: a month).
    label_period: str = "month"

    def predict(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        import torch

        z = (
            self.intercept
            + self.b_records * features["records_log10"]
            + self.b_posture * features["security_posture"]
            + self.b_enterprise * features["enterprise_share"]
            + self.b_third_party * features["third_party_access"]
        )
        return torch.sigmoid(z)


#: Former names of :class:`LogisticPrivacy` and :data:`PRIVACY_FEATURES`, kept so that user
#: scripts written against them keep working (deprecated: write the new names).
LogisticIncident = LogisticPrivacy
INCIDENT_FEATURES = PRIVACY_FEATURES


def renamed_keyword(new: Any, old: Any, old_name: str, new_name: str) -> Any:
    """The value of a keyword argument renamed from ``old_name`` to ``new_name`` (the
    privacy model was once called the incident model): ``new`` unless only ``old`` was
    given, in which case a :class:`DeprecationWarning` names the new keyword."""
    if old is None:
        return new
    warnings.warn(f"{old_name}= is deprecated: write {new_name}=", DeprecationWarning, stacklevel=3)
    return old if new is None else new


#: Label periods a privacy model may declare (``label_period`` in its metadata), in months.
LABEL_PERIODS = {"month": 1, "year": 12}


def label_period_months(model: ResponseModel) -> int:
    """Months covered by one label of a privacy model: 12 when its metadata says
    ``label_period = "year"``, 1 for ``"month"`` and for models without the key (every
    model before the key existed was trained on monthly labels).

    Raises:
        ModelError: an unknown ``label_period`` value.
    """
    lp = getattr(model, "label_period", None)
    if lp is None:
        meta = getattr(model, "metadata", None)
        lp = meta.get("label_period", "month") if isinstance(meta, dict) else "month"
    if lp not in LABEL_PERIODS:
        raise ModelError(
            f"privacy model {model.description!r}: label_period {lp!r}: expected one of {', '.join(LABEL_PERIODS)}"
        )
    return LABEL_PERIODS[lp]


def model_noise_sd(model: ResponseModel) -> float | None:
    """The satisfaction model's test RMSE (survey points) when it reports one, else None."""
    metrics = getattr(model, "metrics", None)
    rmse = metrics.get("rmse") if isinstance(metrics, dict) else None
    return float(rmse) if isinstance(rmse, int | float) and rmse >= 0 else None


#: Test R² below which a satisfaction model is flagged as weak.
WEAK_R2 = 0.3


def model_warnings(satisfaction_model: ResponseModel, privacy_model: ResponseModel) -> list[str]:
    """Plain-text warnings about models whose use would mislead the simulation.

    * a satisfaction model with a test R² below :data:`WEAK_R2`;
    * a satisfaction model in which more functionality, ux or service response *lowers*
      the prediction somewhere on 0..10 (others at mid-scale; a sign change of a linear
      coefficient, or a non-monotone MLP): spending on that capability then hurts;
    * a privacy model in which a better security posture *raises* the incident probability.

    Returns:
        one line per problem (empty when none), naming the model and the feature.
    """
    import torch

    out = []
    metrics = getattr(satisfaction_model, "metrics", None)
    r2 = metrics.get("r2") if isinstance(metrics, dict) else None
    if isinstance(r2, int | float) and r2 < WEAK_R2:
        out.append(
            f"satisfaction model {satisfaction_model.description!r}: test R² {r2:.2f} is low (< {WEAK_R2}): its predictions barely follow the data"
        )
    grid = torch.linspace(0.0, 10.0, 21, dtype=torch.float64)
    mid = torch.full_like(grid, 5.0)
    with torch.no_grad():
        for feat in ("functionality", "ux", "service_response"):
            if feat not in satisfaction_model.features:
                continue
            for seg in (0.0, 1.0):
                x = {f: mid for f in SATISFACTION_FEATURES}
                x = {**x, feat: grid, "segment": torch.full_like(grid, seg)}
                diffs = torch.diff(satisfaction_model.predict(x).to(torch.float64))
                if bool((diffs < -1e-6).any()):
                    where = grid[1:][diffs < -1e-6]
                    out.append(
                        f"satisfaction model {satisfaction_model.description!r}: more {feat} lowers predicted satisfaction "
                        f"(around {float(where[0]):g}..{float(where[-1]):g} on 0..10, {'To B' if seg else 'To C'}): spending on it hurts in the simulation"
                    )
                    break
        if "security_posture" in privacy_model.features:
            x = {
                "records_log10": torch.full_like(grid, 5.0),
                "security_posture": grid,
                "enterprise_share": torch.full_like(grid, 0.1),
                "third_party_access": torch.ones_like(grid),
            }
            diffs = torch.diff(privacy_model.predict(x).to(torch.float64))
            if bool((diffs > 1e-9).any()):
                out.append(
                    f"privacy model {privacy_model.description!r}: a better security posture raises the incident probability: privacy spending hurts in the simulation"
                )
    return out
