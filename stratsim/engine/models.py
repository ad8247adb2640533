"""Pluggable response models used by the simulation step.

The step asks two models for numbers it cannot derive from accounting identities:

* a **satisfaction model**: satisfaction (0..10 survey scale) from functionality F,
  user experience U and service response R (each 0..10), optionally the segment;
* an **incident model**: the probability (fraction 0..1) that a path suffers a
  data-leak incident in a period.

Both follow one interface, :class:`ResponseModel`: a tuple of ``features`` the model
needs and ``predict(features) -> Tensor[n_paths]``. The simulation supplies the
features in :data:`SATISFACTION_FEATURES` and :data:`INCIDENT_FEATURES`; a model that
needs anything else is refused by :func:`check_features` with a message naming what is
missing. Trained models (``stratsim.engine.trained``) implement the same interface.

Until a model is trained the step uses the shipped defaults below, whose coefficients
are the ground truth of the sample-data generator (``stratsim/sample_data/generate.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .errors import ModelError

if TYPE_CHECKING:
    import torch

#: Features the simulation can supply to a satisfaction model, each ``[n_paths]``.
#: functionality, ux, service_response: capability stocks, 0..10.
#: segment: 0.0 for To C, 1.0 for To B.
SATISFACTION_FEATURES = ("functionality", "ux", "service_response", "segment")

#: Features the simulation can supply to an incident model, each ``[n_paths]``.
#: records_log10: log10(1 + personal-data records held); security_posture: P, 0..10;
#: enterprise_share: fraction 0..1 of records that belong to To B customers;
#: third_party_access: 0/1, whether third parties process the data.
INCIDENT_FEATURES = ("records_log10", "security_posture", "enterprise_share", "third_party_access")


@runtime_checkable
class ResponseModel(Protocol):
    """What the simulation needs of a satisfaction or incident model.

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
class LogisticIncident:
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
    features: tuple[str, ...] = INCIDENT_FEATURES
    description: str = "logistic (shipped defaults)"

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
