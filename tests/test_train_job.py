"""The one training job (load -> train -> save) shared by the CLI and the TUI."""

from __future__ import annotations

import threading

from stratsim.engine.trained import load_model
from stratsim.engine.training import TrainConfig, TrainStart
from stratsim.engine.training.job import DataSource, recipe_error_text, train_and_save


def _config(**kw) -> TrainConfig:
    return TrainConfig(role="satisfaction", kind="linear", epochs=2, num_threads=1, **kw)


def test_job_loads_trains_saves_and_reports_in_order(tmp_path):
    seen: list[str] = []
    job = train_and_save(
        DataSource("satisfaction"),
        _config(),
        tmp_path / "m",
        save_recipe=tmp_path / "prep.toml",
        listener=lambda ev: seen.append(type(ev).__name__),
        on_data=lambda data: seen.append(f"data {data.n}"),
    )
    assert seen[0].startswith("data ") and seen[1] == TrainStart.__name__ and seen[-1] == "TrainEnd"
    assert job.saved is not None and job.recipe_error is None
    assert load_model(tmp_path / "m", "satisfaction").sha256 == job.saved.sha256
    assert (tmp_path / "prep.toml").read_text(encoding="utf-8").startswith("recipe_version")


def test_cancelled_job_saves_nothing(tmp_path):
    stop = threading.Event()
    stop.set()
    job = train_and_save(DataSource("satisfaction"), _config(), tmp_path / "m", should_stop=stop)
    assert job.result.cancelled and job.saved is None
    assert not (tmp_path / "m").exists()


def test_failed_recipe_write_is_returned_after_the_model_is_saved(tmp_path):
    where = tmp_path / "no such folder" / "prep.toml"
    job = train_and_save(DataSource("satisfaction"), _config(), tmp_path / "m", save_recipe=where)
    assert job.saved is not None and isinstance(job.recipe_error, OSError)
    text = recipe_error_text(job.recipe_error, where, " (the model was saved)")
    assert text.startswith(f"{where}: cannot write the recipe: ") and text.endswith(
        "(the model was saved)"
    )
