"""The TUI's training dialog offers what `stratsim train` offers (issue 11): the detected
format, the target's labels to pick from, derived and constant features, a preview of
the rows as the model sees them, and every problem shown before training starts."""

from __future__ import annotations

import tomllib

import pytest

pytest.importorskip("textual")

import test_tui  # noqa: E402
from test_tui import SIZE, ready  # noqa: E402

app_factory = test_tui.make_app  # the TUI tests' app fixture, under this module's name


def breach_file(tmp_path):
    """A European breach export: ';' separated, decimal commas, thousands dots, a label
    target, a repeated header and a total row."""
    head = "Betroffene;Sicherheit;Anteil;Dienstleister;Art"
    rows = [head]
    kinds = ["Hacking", "Verlust", "Hacking", "Diebstahl"]
    for i in range(48):
        rows.append(
            f"{(i + 1) * 1234:,}".replace(",", ".")
            + f";{i % 10},5;0,{i % 10};{('ja', 'nein')[i % 2]};{kinds[i % 4]}"
        )
        if i == 20:
            rows.append(head)
    rows.append("Summe;;;;")
    p = tmp_path / "vorfaelle.csv"
    p.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(rows) + "\r\n").encode())
    return p


async def test_dialog_detects_previews_reports_problems_then_trains(app_factory, tmp_path):
    from textual.widgets import DataTable, Input, Select

    app = app_factory()
    path = breach_file(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("t")
        await pilot.pause()
        dialog = app.screen
        assert type(dialog).__name__ == "TrainDialog"
        await pilot.press("3")  # privacy, logistic
        fields = {
            "data": str(path),
            "target": "Art",
            "derive": "records_log10=log10(Betroffene)",
            "map": "security_posture=Sicherheit enterprise_share=Anteil",
            "save_recipe": str(tmp_path / "prep.toml"),
        }
        for key, value in fields.items():
            dialog.query_one(f"#train-{key}", Input).value = value
        await pilot.press("ctrl+r")
        await pilot.pause()
        detected = str(dialog.query_one("#train-detected").render())
        assert (
            "separator ';'" in detected
            and "decimal ','" in detected
            and "thousands '.'" in detected
        )
        assert "Hacking (24)" in detected and "Art (1)" not in detected
        assert "Sicherheit 0.5..9.5" in detected  # the values found, to choose a scale
        # third_party_access is missing: shown with every way to supply it, nothing starts
        # (the TUI names the setting, not the CLI flag)
        assert any("set third_party_access" in p and "--" not in p for p in dialog.problems)
        dialog.query_one("#train-go").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and not app.training

        dialog.query_one("#train-map", Input).value += " third_party_access=Dienstleister"
        dialog.query_one("#train-missing", Input).value = "Dienstleister=ja"  # a sentinel to show
        await pilot.press("ctrl+r")
        await pilot.pause()
        select = dialog.query_one("#train-positive", Select)
        labels = [value for _, value in select._options if isinstance(value, str)]
        assert labels[:1] == ["Hacking"] and set(labels) == {"Hacking", "Verlust", "Diebstahl"}
        # 'ja'/'nein' is not a binary label: every problem is listed, grouped by column
        assert any("Dienstleister" in p for p in dialog.problems)
        dialog.query_one("#train-missing", Input).value = ""
        dialog.query_one("#train-set", Input).value = "third_party_access=1"
        dialog.query_one(
            "#train-map", Input
        ).value = "security_posture=Sicherheit enterprise_share=Anteil"
        select.value = "Hacking"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert dialog.problems == [] and dialog.checked is not None
        preview = dialog.query_one("#train-preview", DataTable)
        assert preview.display and preview.row_count == 5
        first = [str(c) for c in preview.get_row_at(0)]
        assert (
            first[0] == "2" and first[1] == "3.09" and first[-1] == "1"
        )  # log10(1234.0) ; Hacking
        errors = str(dialog.query_one("#train-error").render())
        assert "repeated header" in errors and "total row" in errors

        dialog.query_one("#train-go").focus()
        await pilot.press("enter")
        await ready(app, pilot)
        await pilot.press("1")  # the adopt dialog: use it from the next period
        await ready(app, pilot)
        assert type(app.sim.privacy_model).__name__ == "TrainedModel"
        meta = app.sim.privacy_model.metadata
        assert meta["data"]["recipe"]["positive"] == ["Hacking"]
        assert meta["data"]["recipe"]["sep"] == ";" and meta["data"]["constant_features"] == [
            "third_party_access"
        ]
        # 48 rows: a 7-row test split, its metrics shown with their bootstrap intervals
        metrics_text = str(app.screen.query_one("#train-metrics").render())
        assert (
            "roc_auc" in metrics_text
            and "[" in metrics_text.split("roc_auc", 1)[1].split("brier")[0]
        )
        saved = tomllib.loads((tmp_path / "prep.toml").read_text())
        assert saved["derive"] == {"records_log10": "log10(Betroffene)"}


def test_field_items_allow_column_names_with_spaces():
    from stratsim.tui.screens.train_dialog import split_items

    assert split_items("functionality=Q1,Q2 ux=Q3") == ["functionality=Q1,Q2", "ux=Q3"]
    assert split_items("ux=Seat comfort; functionality=Online boarding,Wifi") == [
        "ux=Seat comfort",
        "functionality=Online boarding,Wifi",
    ]
