"""Saving and loading trained models: round trip, sha256, refusing bad files, wrapper."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import pytest
import tomli_w
import torch

from stratsim.engine.data import load_training_data, sample_data_path
from stratsim.engine.errors import ModelError, TrainingError
from stratsim.engine.models import (
    PRIVACY_FEATURES,
    SATISFACTION_FEATURES,
    ResponseModel,
    check_features,
)
from stratsim.engine.modelsave import save_model
from stratsim.engine.trained import (
    CHECKSUM_KEY,
    TrainedModel,
    load_model,
    load_models,
    metadata_checksum,
    metadata_path,
    weights_path,
)
from stratsim.engine.training import TrainConfig, train_model


def _small(role: str, n: int):
    return load_training_data(sample_data_path(role), role).subset(slice(0, n))


@pytest.fixture(scope="module")
def sat_result():
    cfg = TrainConfig(
        num_threads=1, role="satisfaction", kind="mlp", epochs=3, hidden=(16, 16), device="cpu"
    )
    return train_model(_small("satisfaction", 1500), cfg)


@pytest.fixture(scope="module")
def inc_result():
    cfg = TrainConfig(num_threads=1, role="privacy", kind="logistic", epochs=3, device="cpu")
    return train_model(_small("privacy", 4000), cfg)


def sim_features(n: int, dtype=torch.float32, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    f = {k: torch.rand(n, generator=g, dtype=torch.float64) * 10 for k in SATISFACTION_FEATURES}
    f["segment"] = (f["segment"] > 5).double()
    f["records_log10"] = 3 + torch.rand(n, generator=g, dtype=torch.float64) * 5
    f["security_posture"] = torch.rand(n, generator=g, dtype=torch.float64) * 10
    f["enterprise_share"] = torch.rand(n, generator=g, dtype=torch.float64)
    f["third_party_access"] = (torch.rand(n, generator=g, dtype=torch.float64) < 0.3).double()
    return {k: v.to(dtype) for k, v in f.items()}


def test_round_trip_identical_predictions(tmp_path, sat_result, inc_result):
    saved_s = save_model(sat_result, tmp_path)
    saved_i = save_model(inc_result, tmp_path)
    assert saved_s.weights == weights_path(tmp_path, "satisfaction")
    assert saved_i.metadata == metadata_path(tmp_path, "privacy")
    models = load_models(tmp_path)
    assert set(models) == {"satisfaction", "privacy"}
    for role, result in (("satisfaction", sat_result), ("privacy", inc_result)):
        loaded = models[role]
        fresh = TrainedModel.from_result(result)
        assert isinstance(loaded, ResponseModel)
        assert loaded.features == result.features
        for dtype in (torch.float32, torch.float64):
            feats = sim_features(500, dtype)
            a, b = loaded.predict(feats), fresh.predict(feats)
            assert a.dtype == dtype and a.shape == (500,)
            assert torch.equal(a, b)
        ref = result.model.predict_output(
            torch.stack([sim_features(500)[f] for f in result.features], dim=1)
        )
        if role == "satisfaction":
            ref = ref.clamp(0, 10)
            assert float(a.min()) >= 0 and float(a.max()) <= 10
        else:
            assert float(a.min()) > 0 and float(a.max()) < 1
        torch.testing.assert_close(loaded.predict(sim_features(500)), ref)
    check_features(models["satisfaction"], SATISFACTION_FEATURES, "satisfaction")
    check_features(models["privacy"], PRIVACY_FEATURES, "privacy")
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


def test_metadata_contents(tmp_path, inc_result):
    saved = save_model(inc_result, tmp_path)
    meta = tomllib.loads(saved.metadata.read_text())
    assert meta["role"] == "privacy" and meta["kind"] == "logistic"
    assert meta["features"] == list(PRIVACY_FEATURES) and meta["target"] == "incident"
    assert meta["weights_sha256"] == hashlib.sha256(saved.weights.read_bytes()).hexdigest()
    assert (
        meta["data"]["sha256"]
        == hashlib.sha256(sample_data_path("privacy").read_bytes()).hexdigest()
    )
    assert meta["torch_version"] == torch.__version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["created"])
    assert len(meta["normalization"]["x_mean"]) == 4
    assert meta["hyperparameters"]["seed"] == 0 and meta["hyperparameters"]["pos_weight"] > 1
    assert {"roc_auc", "brier", "log_loss", "ece"} <= set(meta["metrics"])
    assert all(isinstance(v, float) for v in meta["metrics"].values())
    assert "intercept" in meta["coefficients"] and meta["reliability"][0]["count"] > 0
    assert meta["data"]["mapping"]["security_posture"] == ["security_posture"]
    model = load_model(tmp_path, "privacy")
    assert model.sha256 == meta["weights_sha256"] and model.path == saved.weights.resolve()
    assert "logistic" in model.description and "AUC" in model.description


def _rewrite_weights(tmp_path: Path, role: str, obj, fix_sha: bool) -> None:
    wp, mp = weights_path(tmp_path, role), metadata_path(tmp_path, role)
    torch.save(obj, wp)
    if fix_sha:  # make the sha check pass so the loader's other defences are exercised
        meta = tomllib.loads(mp.read_text())
        meta["weights_sha256"] = hashlib.sha256(wp.read_bytes()).hexdigest()
        meta[CHECKSUM_KEY] = metadata_checksum(meta)
        mp.write_text(tomli_w.dumps(meta))


def test_tampered_weights_refused(tmp_path, sat_result):
    saved = save_model(sat_result, tmp_path)
    blob = bytearray(saved.weights.read_bytes())
    blob[-30] ^= 0x01
    saved.weights.write_bytes(bytes(blob))
    with pytest.raises(ModelError, match="sha256 .* does not match"):
        load_model(tmp_path, "satisfaction")
    with pytest.raises(ModelError, match="sha256"):
        load_models(tmp_path)


def test_non_finite_weights_refused(tmp_path, sat_result):
    """Weights with a NaN (sha256 made consistent) would turn every KPI into NaN."""
    save_model(sat_result, tmp_path)
    state = torch.load(weights_path(tmp_path, "satisfaction"), weights_only=True)
    name = next(k for k, v in state.items() if v.numel() > 1)
    state[name] = state[name].clone()
    state[name].view(-1)[0] = float("nan")
    _rewrite_weights(tmp_path, "satisfaction", state, fix_sha=True)
    with pytest.raises(ModelError, match=f"tensor '{name}' holds NaN"):
        load_model(tmp_path, "satisfaction")


def test_non_state_dict_pickles_refused(tmp_path, sat_result):
    save_model(sat_result, tmp_path)
    _rewrite_weights(tmp_path, "satisfaction", [torch.zeros(3), 1.0], fix_sha=True)
    with pytest.raises(ModelError, match="not a state dict"):
        load_model(tmp_path, "satisfaction")
    # Unsigned (sha mismatch) is refused before unpickling.
    _rewrite_weights(tmp_path, "satisfaction", {"x": torch.zeros(1)}, fix_sha=False)
    with pytest.raises(ModelError, match="sha256"):
        load_model(tmp_path, "satisfaction")


class _Evil:
    marker: Path

    def __reduce__(self):
        import os

        return (os.mkdir, (str(self.marker),))


def test_arbitrary_object_pickle_not_executed(tmp_path, sat_result):
    save_model(sat_result, tmp_path)
    evil = _Evil()
    evil.marker = tmp_path / "pwned"
    _rewrite_weights(tmp_path, "satisfaction", {"body.0.weight": evil}, fix_sha=True)
    with pytest.raises(ModelError, match="not a weights-only state dict"):
        load_model(tmp_path, "satisfaction")
    assert not evil.marker.exists()


def test_wrong_keys_or_shapes_refused(tmp_path, sat_result, inc_result):
    save_model(sat_result, tmp_path)
    state = dict(sat_result.model.state_dict())
    state.pop("x_mean")
    _rewrite_weights(tmp_path, "satisfaction", state, fix_sha=True)
    with pytest.raises(ModelError, match="missing: x_mean"):
        load_model(tmp_path, "satisfaction")
    # A logistic state dict under metadata that says mlp.
    save_model(sat_result, tmp_path)
    _rewrite_weights(tmp_path, "satisfaction", inc_result.model.state_dict(), fix_sha=True)
    with pytest.raises(ModelError, match="keys do not match"):
        load_model(tmp_path, "satisfaction")


def test_missing_or_bad_metadata(tmp_path, sat_result):
    with pytest.raises(ModelError, match="model directory not found"):
        load_models(tmp_path / "nope")
    with pytest.raises(ModelError, match="no trained model in this folder"):
        load_models(tmp_path)
    saved = save_model(sat_result, tmp_path)
    assert set(load_models(tmp_path)) == {"satisfaction"}  # privacy simply absent
    saved.metadata.write_text("role = [unclosed")
    with pytest.raises(ModelError, match="invalid TOML"):
        load_model(tmp_path, "satisfaction")
    saved.metadata.unlink()
    with pytest.raises(ModelError, match="metadata file missing"):
        load_models(tmp_path)
    save_model(sat_result, tmp_path)
    meta = tomllib.loads(saved.metadata.read_text())
    meta["schema_version"] = 99
    saved.metadata.write_text(tomli_w.dumps(meta))
    with pytest.raises(ModelError, match="newer"):
        load_model(tmp_path, "satisfaction")
    save_model(sat_result, tmp_path)
    saved.weights.unlink()
    with pytest.raises(ModelError, match="weights file missing"):
        load_model(tmp_path, "satisfaction")


def test_diverged_training_leaves_saved_model_untouched(tmp_path, sat_result):
    saved = save_model(sat_result, tmp_path)
    before = (saved.weights.read_bytes(), saved.metadata.read_bytes())
    data = _small("satisfaction", 600)
    with pytest.raises(TrainingError, match="diverged"):
        result = train_model(
            data, TrainConfig(num_threads=1, role="satisfaction", epochs=3, lr=1e30)
        )
        save_model(result, tmp_path)  # never reached
    assert (saved.weights.read_bytes(), saved.metadata.read_bytes()) == before
    load_model(tmp_path, "satisfaction")


def test_wrapper_needs_its_features_and_is_differentiable(sat_result):
    model = TrainedModel.from_result(sat_result)
    feats = sim_features(8, torch.float64)
    del feats["ux"]
    with pytest.raises(ModelError, match="ux"):
        model.predict(feats)
    feats = sim_features(8, torch.float64)
    f = feats["functionality"].clone().requires_grad_(True)
    out = model.predict({**feats, "functionality": f})
    out.sum().backward()
    assert f.grad is not None and f.grad.shape == (8,)
    assert all(p.grad is None for p in model.net.parameters())
    segment_model = TrainedModel(model.net, "satisfaction", "mlp", ("functionality", "price"))
    with pytest.raises(ModelError, match="price"):
        check_features(segment_model, SATISFACTION_FEATURES, "satisfaction")
