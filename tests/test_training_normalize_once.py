"""The trainer standardizes its inputs once (not in every forward pass); the trained
model still standardizes raw inputs itself at inference."""

from __future__ import annotations

import torch

from stratsim.engine.data import load_training_data, sample_data_path
from stratsim.engine.nets import TabularNet
from stratsim.engine.training import TrainConfig, train_model


def test_inputs_normalized_once_per_run_not_per_batch(monkeypatch):
    data = load_training_data(sample_data_path("satisfaction"), "satisfaction").subset(
        slice(0, 400)
    )
    calls = []
    original = TabularNet.normalize

    def counting(self, x):
        calls.append(x.shape[0])
        return original(self, x)

    monkeypatch.setattr(TabularNet, "normalize", counting)
    cfg = TrainConfig(
        num_threads=1,
        role="satisfaction",
        kind="mlp",
        hidden=(8,),
        epochs=3,
        batch_size=16,
        device="cpu",
    )
    result = train_model(data, cfg)
    batches = result.epochs_run * -(-result.n_train // 16)
    # the train split once, plus one per evaluation (val each epoch, test): never per batch
    assert calls[0] == result.n_train and len(calls) <= 1 + result.epochs_run + 2 < batches
    model = result.model
    x = torch.as_tensor(data.x[:5], dtype=torch.float32)
    with torch.no_grad():
        raw = model(x)
        assert torch.equal(raw, model.forward_normalized(original(model, x)))
        assert not torch.allclose(raw, model.forward_normalized(x))  # inference standardizes itself
