"""Seeded generator of the shipped sample data, with known ground truth.

Run ``python -m stratsim.sample_data.generate`` to rewrite ``satisfaction_survey.csv``
and ``incidents.csv`` next to this file (byte-identical on every run: numpy's PCG64
stream is stable across versions for ``default_rng(seed)``, and values are written with
fixed formatting).

Ground truth
------------
The linear parts below are **identical** to the shipped defaults of the simulation,
``stratsim.engine.models.LinearSatisfaction`` and ``LogisticPrivacy``; keep the two in
step (``tests/test_training.py`` checks it).

``satisfaction_survey.csv`` (:data:`N_SURVEY` rows; columns ``functionality``, ``ux``,
``service_response``, ``segment``, ``satisfaction``)::

    F, U, R ~ Uniform(0, 10) independently            (survey scale 0..10)
    segment ~ Bernoulli(0.4)                          (0 = To C, 1 = To B; no effect)
    S = 0.45*F + 0.30*U + 0.15*R + 0.9                (LinearSatisfaction defaults)
        - 0.03*((F - 5)**2 - 25/3)                    (mild non-linearity, mean 0)
        + e,  e ~ Normal(0, 0.6)
    S clipped to 0..10

The non-linearity is a centred quadratic in F: for F ~ U(0, 10), ``(F-5)**2`` has mean
25/3 and is uncorrelated with F, U and R, so an ordinary least-squares fit still
recovers alpha, beta, gamma and the intercept (well within 5%), while a model that can
bend (the MLP) explains a little more variance (about 0.05 of the 0.41 noise variance).
Clipping at 10 touches a handful of rows at the top and biases nothing measurably.

``incidents.csv`` (:data:`N_INCIDENTS` rows; columns ``records_log10``,
``security_posture``, ``enterprise_share``, ``third_party_access``, ``incident``)::

    records_log10      ~ Uniform(3, 8)     (log10 of personal-data records held)
    security_posture   ~ Uniform(0, 10)    (posture P, 0..10)
    enterprise_share   ~ Uniform(0, 1)     (share of records from To B customers)
    third_party_access ~ Bernoulli(0.3)    (0/1)
    logit = -5.4 + 0.55*records_log10 - 0.45*security_posture
            + 0.6*enterprise_share + 0.8*third_party_access   (LogisticPrivacy defaults)
    incident ~ Bernoulli(sigmoid(logit))   (0/1)

The records range is wider than a typical firm's so that about 7% of rows are
incidents: enough positives for a model to learn in seconds.

Data generation uses numpy only (no torch), seeded with :data:`SEED`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stratsim.sample_data import sample_file

#: Seed of every draw in this module.
SEED = 20240601
#: Rows of the survey and of the incident log.
N_SURVEY = 10_000
N_INCIDENTS = 40_000

#: Ground truth of the satisfaction survey (= LinearSatisfaction defaults).
SAT_ALPHA, SAT_BETA, SAT_GAMMA, SAT_INTERCEPT = 0.45, 0.30, 0.15, 0.9
#: Curvature of the mild non-linearity ``-SAT_CURVE*((F-5)**2 - 25/3)``.
SAT_CURVE = 0.03
#: Standard deviation of the survey noise (satisfaction points).
SAT_NOISE_SD = 0.6

#: Ground truth of the incident log (= LogisticPrivacy defaults).
INC_INTERCEPT, INC_RECORDS, INC_POSTURE, INC_ENTERPRISE, INC_THIRD_PARTY = (
    -5.4,
    0.55,
    -0.45,
    0.6,
    0.8,
)

SURVEY_FILE = sample_file("satisfaction_survey.csv")
INCIDENTS_FILE = sample_file("incidents.csv")


def true_satisfaction_mean(f: np.ndarray, u: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Noise-free satisfaction ``[n]`` (before clipping) for arrays ``[n]`` on 0..10."""
    return (
        SAT_ALPHA * f
        + SAT_BETA * u
        + SAT_GAMMA * r
        + SAT_INTERCEPT
        - SAT_CURVE * ((f - 5.0) ** 2 - 25.0 / 3.0)
    )


def true_incident_logit(
    records_log10: np.ndarray,
    security_posture: np.ndarray,
    enterprise_share: np.ndarray,
    third_party_access: np.ndarray,
) -> np.ndarray:
    """True incident logit ``[n]`` of the generator (works on numpy arrays or tensors)."""
    return (
        INC_INTERCEPT
        + INC_RECORDS * records_log10
        + INC_POSTURE * security_posture
        + INC_ENTERPRISE * enterprise_share
        + INC_THIRD_PARTY * third_party_access
    )


def make_survey(n: int = N_SURVEY, seed: int = SEED) -> pd.DataFrame:
    """The satisfaction survey as a DataFrame ``[n, 5]`` (see the module docstring)."""
    rng = np.random.default_rng([seed, 1])
    f = rng.uniform(0.0, 10.0, n)
    u = rng.uniform(0.0, 10.0, n)
    r = rng.uniform(0.0, 10.0, n)
    segment = (rng.uniform(0.0, 1.0, n) < 0.4).astype(np.int64)
    s = true_satisfaction_mean(f, u, r) + rng.normal(0.0, SAT_NOISE_SD, n)
    s = np.clip(s, 0.0, 10.0)
    return pd.DataFrame(
        {
            "functionality": f.round(3),
            "ux": u.round(3),
            "service_response": r.round(3),
            "segment": segment,
            "satisfaction": s.round(3),
        }
    )


def make_incidents(n: int = N_INCIDENTS, seed: int = SEED) -> pd.DataFrame:
    """The incident log as a DataFrame ``[n, 5]`` (see the module docstring)."""
    rng = np.random.default_rng([seed, 2])
    rec = rng.uniform(3.0, 8.0, n).round(4)
    pos = rng.uniform(0.0, 10.0, n).round(4)
    ent = rng.uniform(0.0, 1.0, n).round(4)
    tpa = (rng.uniform(0.0, 1.0, n) < 0.3).astype(np.int64)
    # The label is drawn from the rounded features, so the written file's features are
    # exactly the ones the true logit was evaluated on.
    p = 1.0 / (1.0 + np.exp(-true_incident_logit(rec, pos, ent, tpa)))
    incident = (rng.uniform(0.0, 1.0, n) < p).astype(np.int64)
    return pd.DataFrame(
        {
            "records_log10": rec,
            "security_posture": pos,
            "enterprise_share": ent,
            "third_party_access": tpa,
            "incident": incident,
        }
    )


def main() -> None:
    """Rewrite both CSV files next to this module (LF line endings, no index; atomically,
    and only over files with the same columns: :func:`stratsim.engine.outputs.write_table`)."""
    from stratsim.engine.outputs import write_table

    survey = make_survey()
    incidents = make_incidents()
    write_table(survey, SURVEY_FILE, "csv")
    write_table(incidents, INCIDENTS_FILE, "csv")
    print(f"wrote {SURVEY_FILE} ({len(survey)} rows)")
    print(
        f"wrote {INCIDENTS_FILE} ({len(incidents)} rows, "
        f"{int(incidents['incident'].sum())} incidents)"
    )


if __name__ == "__main__":
    main()
