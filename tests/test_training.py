"""Trainer: ground-truth recovery, metrics, events, cancellation, divergence."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from stratsim.engine import metrics as M
from stratsim.engine.data import from_arrays, load_training_data, sample_data_path
from stratsim.engine.errors import StratsimError, TrainingError
from stratsim.engine.models import LinearSatisfaction, LogisticPrivacy
from stratsim.engine.training import (
    BatchProgress,
    EpochEnd,
    TrainConfig,
    TrainEnd,
    TrainStart,
    resolve_device,
    split_indices,
    train_model,
)
from stratsim.sample_data import generate as G


@pytest.fixture(scope="module")
def survey():
    return load_training_data(sample_data_path("satisfaction"), "satisfaction")


@pytest.fixture(scope="module")
def incidents():
    return load_training_data(sample_data_path("privacy"), "privacy")


@pytest.fixture(scope="module")
def linear_sat(survey):
    return train_model(
        survey, TrainConfig(num_threads=1, role="satisfaction", kind="linear", device="cpu")
    )


@pytest.fixture(scope="module")
def logistic_inc(incidents):
    return train_model(
        incidents, TrainConfig(num_threads=1, role="privacy", kind="logistic", device="cpu")
    )


def small_survey(n: int = 600):
    return load_training_data(sample_data_path("satisfaction"), "satisfaction").subset(slice(0, n))


# ------------------------------------------------------------------- generator


def test_generator_truth_matches_shipped_defaults():
    s, i = LinearSatisfaction(), LogisticPrivacy()
    assert (
        s.alpha,
        s.beta,
        s.gamma,
        s.intercept,
    ) == (G.SAT_ALPHA, G.SAT_BETA, G.SAT_GAMMA, G.SAT_INTERCEPT)
    assert (i.intercept, i.b_records, i.b_posture, i.b_enterprise, i.b_third_party) == (
        G.INC_INTERCEPT,
        G.INC_RECORDS,
        G.INC_POSTURE,
        G.INC_ENTERPRISE,
        G.INC_THIRD_PARTY,
    )


def test_shipped_csv_files_are_the_generator_output():
    for df, path in ((G.make_survey(), G.SURVEY_FILE), (G.make_incidents(), G.INCIDENTS_FILE)):
        assert df.to_csv(index=False, lineterminator="\n") == Path(path).read_text()


# ----------------------------------------------------------------- recovery


def test_linear_recovers_generator_coefficients(linear_sat):
    c = linear_sat.coefficients
    truth = {
        "functionality": G.SAT_ALPHA,
        "ux": G.SAT_BETA,
        "service_response": G.SAT_GAMMA,
        "intercept": G.SAT_INTERCEPT,
    }
    for k, v in truth.items():
        assert c[k] == pytest.approx(v, rel=0.05), (k, c[k], v)
    m = linear_sat.test_metrics
    assert 0.85 < m["r2"] < 0.9 and 0.4 < m["mae"] < 0.6
    assert not linear_sat.cancelled and linear_sat.best_epoch >= 1


def test_mlp_at_least_as_good_as_linear(survey, linear_sat):
    cfg = TrainConfig(num_threads=1, role="satisfaction", kind="mlp", device="cpu")
    mlp = train_model(survey, cfg)
    assert mlp.coefficients is None
    # Same seed -> same split, so the two R² are on the same test rows.
    assert torch.equal(mlp.split[2], linear_sat.split[2])
    # The data hold a non-linearity only the MLP can fit: no tolerance needed.
    assert mlp.test_metrics["r2"] >= linear_sat.test_metrics["r2"]


def test_privacy_auc_near_bayes_and_calibrated(incidents, logistic_inc):
    r = logistic_inc
    test = r.split[2].numpy()
    x, y = incidents.x[test], torch.as_tensor(incidents.y[test])
    true_logit = G.true_incident_logit(x[:, 0], x[:, 1], x[:, 2], x[:, 3])
    p_true = torch.sigmoid(torch.as_tensor(true_logit))
    bayes_auc = M.roc_auc(y, p_true)
    m = r.test_metrics
    assert abs(m["roc_auc"] - bayes_auc) <= 0.02, (m["roc_auc"], bayes_auc)
    # Brier close to the Bayes Brier; prior correction of pos_weight keeps calibration.
    assert m["brier"] == pytest.approx(M.brier_score(y, p_true), abs=0.003)
    assert m["ece"] < 0.02
    assert m["mean_predicted"] == pytest.approx(m["prevalence"], abs=0.01)
    assert r.pos_weight == pytest.approx((1 - incidents.y.mean()) / incidents.y.mean(), rel=0.02)
    assert sum(b.count for b in r.reliability) == r.n_test == len(test)
    assert 0 < m["log_loss"] < 0.3
    # The logistic coefficients land near the generator's (prior-corrected intercept).
    assert r.coefficients["security_posture"] == pytest.approx(G.INC_POSTURE, rel=0.15)
    assert r.coefficients["records_log10"] == pytest.approx(G.INC_RECORDS, rel=0.15)


# --------------------------------------------------------------------- metrics


def test_roc_auc_tie_aware_matches_pairwise_count():
    g = torch.Generator().manual_seed(3)
    y = (torch.rand(300, generator=g) < 0.3).double()
    s = torch.randint(0, 8, (300,), generator=g).double()  # many ties
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    brute = float(((diff > 0).double() + 0.5 * (diff == 0).double()).mean())
    assert M.roc_auc(y, s) == pytest.approx(brute, abs=1e-12)
    assert M.roc_auc(torch.tensor([0.0, 1.0]), torch.tensor([0.2, 0.8])) == 1.0
    assert M.roc_auc(torch.tensor([0.0, 1.0]), torch.tensor([0.5, 0.5])) == 0.5
    assert np.isnan(M.roc_auc(torch.zeros(5), torch.rand(5)))


def test_regression_and_probability_metrics():
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert M.r2_score(y, y) == 1.0
    assert M.r2_score(y, torch.full((4,), 2.5)) == pytest.approx(0.0)
    assert M.mae(y, y + 0.5) == pytest.approx(0.5)
    lab = torch.tensor([0.0, 1.0, 1.0, 0.0])
    p = torch.tensor([0.1, 0.8, 0.6, 0.3])
    assert M.brier_score(lab, p) == pytest.approx((0.01 + 0.04 + 0.16 + 0.09) / 4)
    ll = -(np.log(0.9) + np.log(0.8) + np.log(0.6) + np.log(0.7)) / 4
    assert M.log_loss(lab, p) == pytest.approx(ll)
    table = M.reliability_table(lab, p, 10)
    assert [(b.lower, b.count) for b in table] == [(0.1, 1), (0.3, 1), (0.6, 1), (0.8, 1)]
    ece = (0.1 + 0.2 + 0.4 + 0.3) / 4
    assert M.expected_calibration_error(table) == pytest.approx(ece)


# ---------------------------------------------------------- split, seeds, device


def test_split_is_seeded_disjoint_and_stratified():
    y = (torch.arange(1000) % 10 == 0).float()
    tr, va, te = split_indices(1000, 7, 0.15, 0.15, labels=y)
    all_idx = torch.cat([tr, va, te]).sort().values
    assert torch.equal(all_idx, torch.arange(1000))
    assert (te.numel(), va.numel()) == (150, 150)
    assert float(y[te].sum()) == 15 and float(y[va].sum()) == 15
    again = split_indices(1000, 7, 0.15, 0.15, labels=y)
    assert all(torch.equal(a, b) for a, b in zip((tr, va, te), again, strict=True))
    other = split_indices(1000, 8, 0.15, 0.15, labels=y)
    assert not torch.equal(te, other[2])


def test_same_seed_same_weights_and_threads_untouched():
    data = small_survey()
    threads = torch.get_num_threads()
    cfg = TrainConfig(role="satisfaction", kind="mlp", epochs=3, hidden=(8,), device="cpu")
    a = train_model(data, cfg).model.state_dict()
    b = train_model(data, cfg).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.get_num_threads() == threads
    train_model(data, TrainConfig(role="satisfaction", epochs=1, num_threads=1, device="cpu"))
    assert torch.get_num_threads() == threads  # restored after the run


def test_normalization_is_from_train_split_and_in_state_dict():
    data = small_survey()
    r = train_model(data, TrainConfig(num_threads=1, role="satisfaction", epochs=1, device="cpu"))
    x_train = torch.as_tensor(data.x[r.split[0].numpy()])
    sd = r.model.state_dict()
    torch.testing.assert_close(sd["x_mean"], x_train.mean(0).float())
    torch.testing.assert_close(sd["x_std"], x_train.std(0, correction=0).float())
    assert {"y_mean", "y_std", "logit_offset"} <= set(sd)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto").type in ("cpu", "mps")
        with pytest.raises(StratsimError, match="'cuda' is not available"):
            resolve_device("cuda")
    with pytest.raises(StratsimError, match="device 'tpu9'"):
        resolve_device("tpu9")


def test_config_validation():
    data = small_survey(100)
    for kw, msg in (
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch size"),
        ({"lr": -1.0}, "learning rate"),
        ({"kind": "logistic"}, "unknown satisfaction model kind"),
        ({"lr_schedule": "step"}, "lr schedule"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, "fractions"),
    ):
        with pytest.raises(TrainingError, match=msg):
            train_model(data, TrainConfig(num_threads=1, role="satisfaction", **kw))


# -------------------------------------------------------------------- events


def test_events_order_contents_and_throttle():
    data = small_survey()
    events = []
    r = train_model(
        data,
        TrainConfig(
            num_threads=1, role="satisfaction", epochs=4, batch_size=32, patience=50, device="cpu"
        ),
        listener=events.append,
    )
    assert isinstance(events[0], TrainStart) and isinstance(events[-1], TrainEnd)
    assert events[-1].result is r
    start = events[0]
    assert start.n_train + start.n_val + start.n_test == 600
    assert start.batches_per_epoch == -(-start.n_train // 32)
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2, 3, 4] and r.history == epochs
    for e in epochs:
        assert np.isfinite(e.train_loss) and np.isfinite(e.val_loss)
        assert e.samples_per_s > 0 and e.eta_s >= 0 and e.patience == 50
        assert {"r2", "mae"} <= set(e.val_metrics)
    assert epochs[-1].eta_s == 0
    # Throttled: 4 epochs x 15 batches run in well under a second -> few batch events.
    batches = [e for e in events if isinstance(e, BatchProgress)]
    assert len(batches) <= 1 + r.seconds / 0.1 + 1

    every = []
    train_model(
        data,
        TrainConfig(
            num_threads=1, role="satisfaction", epochs=2, batch_size=32, progress_interval_s=0.0
        ),
        listener=every.append,
    )
    b = [e for e in every if isinstance(e, BatchProgress)]
    assert len(b) == 2 * start.batches_per_epoch
    assert b[-1].step == b[-1].total_steps and b[-1].fraction == 1.0


def test_early_stopping_restores_best_weights():
    data = small_survey()
    cfg = TrainConfig(
        num_threads=1, role="satisfaction", kind="mlp", epochs=200, patience=3, lr=0.05
    )
    r = train_model(data, cfg)
    assert r.stopped_early and r.epochs_run == r.best_epoch + 3
    best = min(e.val_loss for e in r.history)
    assert r.best_val_loss == best == r.history[r.best_epoch - 1].val_loss


# -------------------------------------------------------- cancellation, NaN


def _val_loss(r, data):
    val = r.split[1].numpy()
    x = torch.as_tensor(data.x[val], dtype=torch.float32)
    y = torch.as_tensor(data.y[val], dtype=torch.float32)
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(r.model(x), y))


def test_cancel_after_first_epoch_keeps_best_weights():
    data = small_survey()
    stop = threading.Event()

    def listener(ev):
        if isinstance(ev, EpochEnd):
            stop.set()

    r = train_model(
        data,
        TrainConfig(num_threads=1, role="satisfaction", epochs=50, batch_size=16),
        listener=listener,
        should_stop=stop,
    )
    assert r.cancelled and not r.stopped_early
    assert r.epochs_run == 1 and r.best_epoch == 1 and len(r.history) == 1
    assert _val_loss(r, data) == pytest.approx(r.best_val_loss, rel=1e-5)
    assert np.isfinite(r.test_metrics["r2"])


def test_cancel_via_callable_mid_epoch():
    data = small_survey()
    calls = {"n": 0}

    def should_stop():
        calls["n"] += 1
        return calls["n"] > 5  # after 5 batches of the first epoch

    r = train_model(
        data,
        TrainConfig(num_threads=1, role="satisfaction", epochs=50, batch_size=16),
        should_stop=should_stop,
    )
    assert r.cancelled and r.epochs_run == 0 and r.history == []
    assert np.isfinite(r.best_val_loss)  # the mid-epoch weights, evaluated on validation


def test_absurd_lr_diverges_with_training_error():
    with pytest.raises(TrainingError, match=r"diverged: .* loss is (nan|inf)"):
        train_model(
            small_survey(), TrainConfig(num_threads=1, role="satisfaction", epochs=5, lr=1e30)
        )


def test_nan_injected_by_listener_raises_for_classifier(monkeypatch):
    rng = np.random.default_rng(0)
    x = np.c_[rng.uniform(3, 8, 400), rng.uniform(0, 10, 400), rng.uniform(0, 1, 400)]
    x = np.c_[x, rng.integers(0, 2, 400)]
    y = (rng.uniform(size=400) < 0.2).astype(float)
    data = from_arrays("privacy", x, y)
    holder = {}

    def listener(ev):
        if isinstance(ev, TrainStart):
            return
        if isinstance(ev, EpochEnd) and ev.epoch == 1:
            with torch.no_grad():
                next(holder["model"].parameters()).fill_(float("nan"))

    from stratsim.engine.training import setup

    orig = setup.build_net

    def spy(*a, **k):
        holder["model"] = orig(*a, **k)
        return holder["model"]

    monkeypatch.setattr(setup, "build_net", spy)
    with pytest.raises(TrainingError, match="diverged"):
        train_model(data, TrainConfig(num_threads=1, role="privacy", epochs=5), listener=listener)
