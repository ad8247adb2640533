"""Real-world files in without editing (issue 11): formats, encodings, label targets,
constructs, derived and constant features, dirty rows, one report of every problem,
recipes. Each fixture is written here, with the values it must parse to."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
from test_data import realdata, write  # noqa: E402  (shared helpers of the data tests)

from stratsim.cli import main
from stratsim.engine.data import load_training_data
from stratsim.engine.errors import DataError
from stratsim.engine.expr import Column, evaluate, parse_expression
from stratsim.engine.modelsave import state_dict_bytes
from stratsim.engine.recipe import Recipe
from stratsim.engine.recipefile import load_recipe, recipe_from_dict
from stratsim.engine.training import TrainConfig, train_model


def survey_rows(n: int = 40) -> list[tuple[float, float, float, float]]:
    return [(i % 10, (i * 3) % 10, (i * 7) % 10, ((i * 5) % 10) + 0.5 * (i % 2)) for i in range(n)]


GERMAN_MAP = {"functionality": ["Produkt"], "ux": ["Bedienung"], "service_response": ["Service"]}


def test_semicolon_decimal_comma_bom_crlf(tmp_path):
    rows = survey_rows()
    text = "Produkt;Bedienung;Service;Zufriedenheit\r\n" + "".join(
        f"{a:g};{b:g};{c:g};{str(d).replace('.', ',')}\r\n" for a, b, c, d in rows
    )
    p = write(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"))
    d = load_training_data(p, "satisfaction", mapping=GERMAN_MAP, target="Zufriedenheit")
    np.testing.assert_allclose(d.y, [r[3] for r in rows])  # 7,5 -> 7.5, not 75
    np.testing.assert_allclose(d.x[:, 0], [r[0] for r in rows])
    assert "separator ';'" in d.format and "decimal ','" in d.format and "utf-8-sig" in d.format
    assert d.recipe.sep == ";" and d.recipe.decimal == ","
    # a wrong separator given by hand: the one-column header is pointed out
    with pytest.raises(DataError, match=r"one column: its name holds ';'.*read with sep ;"):
        load_training_data(
            p, "satisfaction", recipe=Recipe(sep=",", mapping={"ux": ("Bedienung",)})
        )


def test_utf16_tab_separated_excel_unicode_text(tmp_path):
    rows = survey_rows()
    text = "Produkt\tBedienung\tService\tZufriedenheit\r\n" + "".join(
        f"{a:g}\t{b:g}\t{c:g}\t{d:g}\r\n" for a, b, c, d in rows
    )
    p = write(tmp_path, text.encode("utf-16"))  # with a byte-order mark, as Excel writes it
    d = load_training_data(p, "satisfaction", mapping=GERMAN_MAP, target="Zufriedenheit")
    np.testing.assert_allclose(d.y, [r[3] for r in rows])
    assert "separator tab" in d.format and "utf-16" in d.format


def test_other_encodings_are_named_and_can_be_given(tmp_path):
    rows = survey_rows()
    text = "Qualität,ux,service_response,satisfaction\n" + "".join(
        f"{a:g},{b:g},{c:g},{d:g}\n" for a, b, c, d in rows
    )
    p = write(tmp_path, text.encode("cp1252"))
    with pytest.raises(DataError, match=r"not UTF-8.*0xe4.*pass encoding cp1252"):
        load_training_data(p, "satisfaction", mapping={"functionality": ["Qualität"]})
    d = load_training_data(
        p,
        "satisfaction",
        recipe=Recipe(encoding="cp1252", mapping={"functionality": ("Qualität",)}),
    )
    assert d.n == 40 and "encoding cp1252" in d.format


def incidents_text(counts: list[str], sep: str = ",") -> str:
    head = sep.join(["Affected", "posture", "share", "third", "Type"]) + "\n"
    types = ["Hacking", "Theft", "Hacking", "Loss", "Hacking"]
    return head + "".join(
        sep.join([f'"{c}"', str(i % 10), f"0.{i % 10}", ("Yes", "No")[i % 2], types[i % 5]]) + "\n"
        for i, c in enumerate(counts)
    )


def test_thousands_separator_derived_log_and_derived_label(tmp_path):
    counts = ["309,079", "4,748", "500", "1,000,000", "12,345"] * 8
    p = write(tmp_path, incidents_text(counts))
    recipe = Recipe(
        derive={"records_log10": "log10(Affected)", "hack": 'Type == "Hacking"'},
        mapping={
            "security_posture": ("posture",),
            "enterprise_share": ("share",),
            "third_party_access": ("third",),
        },
        target="hack",
    )
    d = load_training_data(p, "privacy", recipe=recipe)
    assert "thousands ','" in d.format
    np.testing.assert_allclose(d.x[:5, 0], np.log10([309079, 4748, 500, 1_000_000, 12345]))
    np.testing.assert_array_equal(d.y[:5], [1, 0, 1, 0, 1])
    np.testing.assert_array_equal(d.x[:4, 3], [1, 0, 1, 0])  # Yes/No


def test_raw_counts_hint_at_log10(tmp_path):
    counts = ["309079", "4748", "500", "1000000", "12345"] * 8
    p = write(tmp_path, incidents_text(counts))
    mapping = {"records_log10": ["Affected"], "security_posture": ["posture"]}
    mapping |= {"enterprise_share": ["share"], "third_party_access": ["third"]}
    with pytest.raises(DataError, match=r"outside 0..20.*: derive records_log10=log10\(Affected\)"):
        load_training_data(p, "privacy", mapping=mapping, target="Type")


def test_missing_feature_lists_every_way_to_supply_it(tmp_path):
    p = write(tmp_path, incidents_text(["500"] * 40))
    with pytest.raises(DataError) as e:
        load_training_data(p, "privacy", target="Type")
    msg = str(e.value)
    for way in ("map records_log10=", "derive records_log10=", "set records_log10="):
        assert way in msg
    assert "security_posture" in msg and "third_party_access" in msg  # all features at once


def test_label_target_positive_class(tmp_path):
    rows = survey_rows()
    labels = ["satisfied" if r[3] >= 5 else "neutral or dissatisfied" for r in rows]
    text = "functionality,ux,service_response,overall\n" + "".join(
        f"{a:g},{b:g},{c:g},{lab}\n" for (a, b, c, _), lab in zip(rows, labels, strict=True)
    )
    p = write(tmp_path, text)
    with pytest.raises(DataError, match=r"labels, not numbers.*with positive LABEL"):
        load_training_data(p, "satisfaction", target="overall")
    d = load_training_data(
        p, "satisfaction", recipe=Recipe(target="overall", positive=("satisfied",))
    )
    np.testing.assert_array_equal(d.y, [10.0 if lab == "satisfied" else 0.0 for lab in labels])
    assert d.binary_target and d.target_note == "10 x P(overall in {'satisfied'})"
    with pytest.raises(DataError, match="'happy' not found"):
        load_training_data(p, "satisfaction", recipe=Recipe(target="overall", positive=("happy",)))


def test_na_items_form_constructs_with_min_items_and_scales(tmp_path):
    # items 1..5 with 0 = not applicable; overall on 1..10
    items = [(1, 2, 0, 5, 3, 8), (5, 0, 0, 4, 2, 10), (3, 3, 3, 3, 3, 5), (2, 4, 0, 1, 2, 1)] * 10
    text = "q1,q2,q3,ux_item,svc,overall\n" + "".join(",".join(map(str, r)) + "\n" for r in items)
    p = write(tmp_path, text)
    recipe = Recipe(
        mapping={
            "functionality": ("q1", "q2", "q3"),
            "ux": ("ux_item",),
            "service_response": ("svc",),
        },
        target="overall",
        column_missing={c: ("0",) for c in ("q1", "q2", "q3", "svc")},
        scale=(1.0, 5.0),
        column_scale={"overall": (1.0, 10.0)},
        min_items=2,
        max_missing=0.3,
    )
    d = load_training_data(p, "satisfaction", recipe=recipe)
    # row 2: q1=5, q2 N/A, q3 N/A -> one item, fewer than 2 -> dropped (missing), not invalid
    assert d.n == 30 and d.dropped_rows[:3] == (3, 7, 11)
    f = lambda v: (v - 1) / 4 * 10  # noqa: E731
    np.testing.assert_allclose(d.x[:3, 0], [f(1.5), f(3), f(3)])  # means of the items present
    np.testing.assert_allclose(d.y[:3], [(8 - 1) / 9 * 10, (5 - 1) / 9 * 10, 0.0])
    # without min_items every item is needed: N/A items drop 3 rows of each block of 4
    with pytest.raises(DataError, match="unusable"):
        load_training_data(
            p, "satisfaction", recipe=Recipe(**{**recipe.__dict__, "min_items": None})
        )


def test_constant_feature_by_set_has_zero_effect(tmp_path):
    p = write(tmp_path, incidents_text(["309,079", "4,748", "500", "12,345", "9,999"] * 12))
    recipe = Recipe(
        derive={"records_log10": "log10(Affected)", "hack": 'Type == "Hacking"'},
        mapping={"security_posture": ("posture",), "third_party_access": ("third",)},
        constants={"enterprise_share": 0.3},
        target="hack",
    )
    d = load_training_data(p, "privacy", recipe=recipe)
    np.testing.assert_array_equal(d.x[:, 2], 0.3)
    assert d.constant_features == ("enterprise_share",)
    res = train_model(d, TrainConfig(role="privacy", epochs=5, device="cpu"))
    assert res.coefficients["enterprise_share"] == 0.0
    assert all(np.isfinite(v) and abs(v) < 100 for v in res.coefficients.values())


def test_repeated_header_and_total_rows_skipped_and_reported(tmp_path):
    rows = survey_rows(30)
    lines = ["functionality,ux,service_response,satisfaction"]
    lines += [f"{a:g},{b:g},{c:g},{d:g}" for a, b, c, d in rows[:15]]
    lines += ["functionality,ux,service_response,satisfaction"]  # spreadsheet row 17
    lines += [f"{a:g},{b:g},{c:g},{d:g}" for a, b, c, d in rows[15:]]
    lines += ["Total,,,", "", "# exported by SurveyTool"]  # rows 33, 34 (blank), 35
    p = write(tmp_path, "\n".join(lines) + "\n")
    d = load_training_data(p, "satisfaction", recipe=Recipe(skip_rows_matching=("^# exported",)))
    np.testing.assert_allclose(d.y, [r[3] for r in rows])
    assert d.skipped_rows == (
        (17, "repeated header"),
        (33, "total row"),
        (35, "matches skip_rows_matching"),
    )
    assert "row(s) 17" in d.warnings[0] and "row(s) 33" in d.warnings[0]
    assert d.row_numbers[15] == 18  # spreadsheet rows, header = row 1


def test_every_problem_in_one_report_grouped_by_column(tmp_path):
    rows = survey_rows()
    lines = ["functionality,ux,service_response,satisfaction"]
    lines += [f"{a:g},{b:g},{c:g},{d:g}" for a, b, c, d in rows]
    lines[3] = "5,abc,2,7"  # spreadsheet row 4: ux not a number
    lines[8] = "5,3,2,12"  # row 9: satisfaction outside 0..10
    lines[12] = "11,3,2,7"  # row 13: functionality outside 0..10
    lines[20] = "5,3,,7"  # row 21: missing
    p = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        load_training_data(p, "satisfaction")
    msg = str(e.value)
    assert "\n" not in msg
    assert "column 'ux': non-numeric value(s) at row(s) 4: 'abc'" in msg
    assert "column 'satisfaction': value(s) outside 0..10" in msg and "row(s) 9" in msg
    assert "column 'functionality'" in msg and "row(s) 13" in msg
    assert "column 'service_response'" in msg and "row(s) 21" in msg
    assert "max_missing" in msg
    assert len(e.value.problems) == 4
    d = load_training_data(p, "satisfaction", max_missing_fraction=0.1)  # the clean rest
    assert d.n == 36 and d.dropped_rows == (4, 9, 13, 21)


def test_xlsx(tmp_path):
    import pandas as pd

    rows = survey_rows()
    df = pd.DataFrame(rows, columns=["functionality", "ux", "service_response", "satisfaction"])
    p = tmp_path / "survey.xlsx"
    df.to_excel(p, index=False)
    d = load_training_data(p, "satisfaction")
    np.testing.assert_allclose(d.y, df["satisfaction"])
    assert d.format.startswith("xlsx")


def test_expressions_cannot_run_code():
    cols = {"a": Column(np.array([1.0, 10.0]), np.zeros(2, bool), True)}
    assert evaluate(parse_expression("log10(a) * 2 + (a > 5)"), cols).values.tolist() == [0.0, 3.0]
    for bad, what in [
        ("a.__class__", "attribute"),
        ("__import__('os').system('true')", "attribute access '.system'"),
        ("__import__('os')", "calling '__import__'"),
        ("open('x')", "calling 'open'"),
        ("(lambda: 1)()", "calling"),
        ("lambda: 1", "Lambda"),
        ("[x for x in a]", "ListComp"),
        ("a[0]", "Subscript"),
        ("log10(a).real", "attribute"),
        ("log10(a, base=2)", "keyword"),
        ("-" * 500 + "a", "nested"),
        ("a+" * 600 + "a", "longer than 1000"),
        ("(" * 300 + "a" + ")" * 300, "too many nested|nested"),
        ("a * " + "9" * 400, "too large"),
    ]:
        with pytest.raises(DataError, match=what):
            evaluate(parse_expression(bad), cols)


def test_recipe_toml_round_trip_and_validation(tmp_path):
    r = Recipe(
        sep=";", decimal=",", thousands=".", encoding="utf-8-sig", skip_rows_matching=("^Total",),
        target="Zufriedenheit", positive=("zufrieden",), mapping={"ux": ("B1", "B2")}, min_items=1,
        scale=(1.0, 5.0), column_scale={"Z": (1.0, 10.0)}, missing=("0",),
        column_missing={"B1": ("-99",)}, max_missing=0.1, derive={"n": "log10(x)"},
        constants={"functionality": 5.0}, label_period="year",
    )  # fmt: skip
    p = write(tmp_path, r.to_toml(), "prep.toml")
    assert load_recipe(p) == r
    with pytest.raises(DataError, match=r"prep.toml: key 'min_items': value 0"):
        recipe_from_dict({"min_items": 0}, str(p))
    deep = write(tmp_path, "x = " + "[" * 2000 + "]" * 2000 + "\n", "deep.toml")
    with pytest.raises(DataError, match="deep.toml: invalid TOML"):
        load_recipe(deep)
    with pytest.raises(DataError, match="unknown key 'colour'"):
        recipe_from_dict({"colour": 1})
    with pytest.raises(DataError, match="attribute"):
        recipe_from_dict({"derive": {"x": "a.b"}})
    # flags given on top of a recipe win entry by entry
    from stratsim.engine.recipe import build_recipe

    over = build_recipe(r, "satisfaction", mapping=["functionality=F1"], scale=["Z=0:5"], sep="\t")
    assert over.mapping == {"ux": ("B1", "B2"), "functionality": ("F1",)}
    assert over.column_scale == {"Z": (0.0, 5.0)} and over.sep == "\t" and over.scale == (1.0, 5.0)


def test_recipe_reproduces_the_model_bit_for_bit(tmp_path, capsys):
    counts = ["309,079", "4,748", "500", "12,345", "9,999", "77"] * 10
    p = write(tmp_path, incidents_text(counts, sep=";"))
    flags = ["--data", str(p), "--derive", "records_log10=log10(Affected)", "--target", "Type"]
    flags += ["--positive", "Hacking", "--map", "security_posture=posture", "--map"]
    flags += ["enterprise_share=share", "--map", "third_party_access=third", "--epochs", "4"]
    flags += ["--quiet", "--json", "--label-period", "year"]
    assert main(["train", "privacy", *flags, "--out", str(tmp_path / "a"), "--save-recipe",
                 str(tmp_path / "prep.toml")]) == 0  # fmt: skip
    first = json.loads(capsys.readouterr().out)
    recipe = load_recipe(tmp_path / "prep.toml")
    assert recipe.sep == ";" and recipe.thousands == "," and recipe.positive == ("Hacking",)
    args = ["train", "privacy", "--data", str(p), "--recipe", str(tmp_path / "prep.toml")]
    assert main([*args, "--epochs", "4", "--quiet", "--json", "--out", str(tmp_path / "b")]) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["weights_sha256"] == second["weights_sha256"]
    assert (tmp_path / "a/privacy.pt").read_bytes() == (tmp_path / "b/privacy.pt").read_bytes()
    import tomllib

    meta = tomllib.loads((tmp_path / "b/privacy.toml").read_text())
    assert meta["data"]["recipe"]["derive"] == {"records_log10": "log10(Affected)"}
    assert meta["label_period"] == "year"
    assert recipe_from_dict(meta["data"]["recipe"]) == recipe
    # a session using the model carries the recipe too, and loads again
    session = tmp_path / "plan.toml"
    run = ["run", "--steps", "1", "--paths", "10", "--device", "cpu", "--models"]
    assert main([*run, str(tmp_path / "b"), "--out", str(session)]) == 0
    doc = tomllib.loads(session.read_text())
    assert recipe_from_dict(doc["models"]["privacy"]["recipe"]) == recipe
    assert main(["check", str(session)]) == 0


def test_small_test_split_warns_with_bootstrap_intervals(tmp_path, capsys):
    rows = survey_rows(60)
    text = "functionality,ux,service_response,satisfaction\n" + "".join(
        f"{a:g},{b:g},{c:g},{d:g}\n" for a, b, c, d in rows
    )
    p = write(tmp_path, text)
    assert main(["train", "satisfaction", "--data", str(p), "--out", str(tmp_path / "m"),
                 "--epochs", "3", "--quiet", "--json"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    res = json.loads(captured.out)
    lo, hi = res["intervals"]["r2"]
    assert lo <= res["metrics"]["r2"] <= hi and lo < hi
    assert "test split holds only 9 rows" in captured.err and "bootstrap" in captured.err
    d = load_training_data(p, "satisfaction")
    big = train_model(
        d, TrainConfig(role="satisfaction", epochs=2, device="cpu", test_fraction=0.6)
    )
    assert big.n_test == 36 and big.warnings  # still under 100 rows
    assert state_dict_bytes(big.model)


# ----------------------------------------------------------------------- public files


def test_ecsi_survey_with_a_recipe(tmp_path, capsys):
    path = realdata("ecsi_mobi_survey.csv")
    recipe = tmp_path / "ecsi.toml"
    recipe.write_text(
        'target = "CUSA1"\nscale = [1, 10]\n[map]\nfunctionality = ["PERQ2", "PERQ4", "PERQ5", '
        '"PERQ6"]\nux = ["PERQ7"]\nservice_response = ["PERQ3", "CUSCO"]\n'
    )
    args = ["train", "satisfaction", "--data", str(path), "--recipe", str(recipe)]
    assert main([*args, "--out", str(tmp_path / "m"), "--json", "--quiet"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["rows_used"] == 250 and res["metrics"]["r2"] > 0
    assert "intervals" in res  # 38 test rows: the interval is reported


def test_hhs_breach_portal_derived_label_and_features(tmp_path, capsys):
    path = realdata("hhs_breach_portal_2022_2024.csv")
    args = ["train", "privacy", "--data", str(path), "--derive"]
    args += ["records_log10=log10(`Individuals Affected`)", "--derive"]
    args += ['hacking=`Type of Breach` == "Hacking/IT Incident"', "--target", "hacking"]
    args += ["--map", "third_party_access=Business Associate Present"]
    args += ["--set", "security_posture=5", "--set", "enterprise_share=0.5"]
    args += ["--out", str(tmp_path / "m"), "--json", "--quiet"]
    assert main(args) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["rows_used"] == 857
    assert 0.0 <= res["metrics"]["roc_auc"] <= 1.0  # weak, but reported as it is
    assert res["coefficients"]["security_posture"] == 0.0
    assert res["coefficients"]["enterprise_share"] == 0.0


def test_telco_blank_total_charges_reported_not_guessed():
    path = realdata("telco_customer_churn.csv")
    recipe = Recipe(
        derive={"records_log10": "log10(TotalCharges + 1)", "churned": 'Churn == "Yes"'},
        mapping={"security_posture": ("tenure",), "third_party_access": ("SeniorCitizen",)},
        constants={"enterprise_share": 0.0},
        column_scale={"tenure": (0.0, 72.0)},
        target="churned",
    )
    d = load_training_data(path, "privacy", recipe=recipe)
    assert d.n == 7043 - 11 and d.dropped_rows[:3] == (490, 755, 938)
    assert "'TotalCharges': 11 missing at row(s) 490, 755, 938" in " ".join(d.warnings)


def test_format_overrides_from_the_command_line(tmp_path, capsys):
    rows = survey_rows()
    text = "functionality\tux\tservice_response\tsatisfaction\n" + "".join(
        f"{a:g}\t{b:g}\t{c:g}\t{d:g}\n" for a, b, c, d in rows
    )
    p = write(tmp_path, text.encode("utf-16"), "u16.txt")
    base = ["train", "satisfaction", "--data", str(p), "--epochs", "1", "--quiet", "--json"]
    args = [*base, "--sep", "tab", "--encoding", "utf-16", "--thousands", "", "--decimal", "."]
    assert main([*args, "--out", str(tmp_path / "m")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["rows_used"] == 40
    assert "separator tab" in captured.err and "encoding utf-16" in captured.err
    check = [*base, "--check", "--save-recipe", str(tmp_path / "r.toml")]
    assert main([*check, "--out", str(tmp_path / "nothing")]) == 0
    assert load_recipe(tmp_path / "r.toml").encoding == "utf-16"
    captured = capsys.readouterr()
    assert "40 usable rows of 40" in captured.out and "target satisfaction" in captured.out
    assert not (tmp_path / "nothing").exists()  # nothing trained, nothing written
    assert main([*base, "--encoding", "klingon", "--out", str(tmp_path / "m")]) == 2
    assert "--encoding 'klingon' is not a known encoding" in capsys.readouterr().err
    assert main([*base, "--skip-rows-matching", "(", "--out", str(tmp_path / "m")]) == 2
    assert "--skip-rows-matching: not a regular expression" in capsys.readouterr().err


# ------------------------------------------------------------------- hostile inputs

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    raw=st.binary(max_size=400)
    | st.text(alphabet="ab,;\t|\"'\r\n 0123456789.-", max_size=400).map(str.encode)
)
def test_any_bytes_read_or_refused_with_the_projects_error(tmp_path, raw):
    p = tmp_path / "any.csv"
    p.write_bytes(raw)
    try:
        load_training_data(p, "satisfaction")
    except DataError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_any_expression_parses_or_is_refused(text):
    cols = {"a": Column(np.array([1.0, 2.0]), np.zeros(2, bool), True)}
    try:
        expr = parse_expression(text)
    except DataError:
        return
    with contextlib.suppress(DataError):
        evaluate(expr, cols)
