"""Training-data import: mapping, scaling, missing values, labels, and every bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratsim.engine.data import (
    load_training_data,
    parse_mapping,
    parse_scale,
    sample_data_path,
)
from stratsim.engine.errors import DataError

REALDATA = Path(__file__).parents[2] / "shared" / "realdata"
ECSI_MAP = [
    "functionality=PERQ2,PERQ4,PERQ5,PERQ6",
    "ux=PERQ7",
    "service_response=PERQ3,CUSCO",
]


def realdata(name: str) -> Path:
    p = REALDATA / name
    if not p.exists():
        pytest.skip("../shared/realdata not found")
    return p


def write(tmp_path: Path, text: str | bytes, name: str = "d.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return p


SURVEY = "functionality,ux,service_response,satisfaction\n" + "".join(
    f"{i % 10},{(i * 3) % 10},{(i * 7) % 10},{(i * 5) % 10}\n" for i in range(40)
)


def test_sample_data_shapes_and_features():
    sat = load_training_data(sample_data_path("satisfaction"), "satisfaction")
    assert sat.features == ("functionality", "ux", "service_response")
    assert sat.x.shape == (10_000, 3) and sat.y.shape == (10_000,)
    assert sat.x.min() >= 0 and sat.x.max() <= 10 and sat.y.max() <= 10
    assert len(sat.sha256) == 64 and not sat.warnings
    inc = load_training_data(sample_data_path("privacy"), "privacy")
    assert inc.features == (
        "records_log10",
        "security_posture",
        "enterprise_share",
        "third_party_access",
    )
    assert inc.x.shape == (40_000, 4)
    assert set(np.unique(inc.y)) == {0.0, 1.0}
    assert 0.03 < inc.y.mean() < 0.12  # enough positives to learn from


def test_optional_segment_only_when_mapped():
    sat = load_training_data(
        sample_data_path("satisfaction"), "satisfaction", mapping={"segment": ["segment"]}
    )
    assert sat.features[-1] == "segment"
    assert set(np.unique(sat.x[:, -1])) == {0.0, 1.0}


def test_ecsi_mapping_mean_and_scale():
    path = realdata("ecsi_mobi_survey.csv")
    d = load_training_data(
        path,
        "satisfaction",
        mapping=parse_mapping(ECSI_MAP, "satisfaction"),
        target="CUSA1",
        scale=parse_scale("1:10"),
    )
    raw = pd.read_csv(path)
    assert d.n == len(raw) == 250
    f = raw[["PERQ2", "PERQ4", "PERQ5", "PERQ6"]].mean(axis=1).to_numpy()
    r = raw[["PERQ3", "CUSCO"]].mean(axis=1).to_numpy()
    np.testing.assert_allclose(d.x[:, 0], (f - 1) / 9 * 10)
    np.testing.assert_allclose(d.x[:, 2], (r - 1) / 9 * 10)
    np.testing.assert_allclose(d.y, (raw["CUSA1"].to_numpy() - 1) / 9 * 10)
    assert d.mapping["functionality"] == ("PERQ2", "PERQ4", "PERQ5", "PERQ6")
    assert d.input_scale == (1.0, 10.0)


def test_missing_column_names_file_and_column(tmp_path):
    p = write(tmp_path, SURVEY.replace("ux,", "userexp,", 1))
    with pytest.raises(DataError) as e:
        load_training_data(p, "satisfaction")
    msg = str(e.value)
    assert str(p) in msg and "'ux'" in msg and "map ux=" in msg and "--map" not in msg
    with pytest.raises(DataError, match="no target column 'score'"):
        load_training_data(write(tmp_path, SURVEY, "s.csv"), "satisfaction", target="score")
    with pytest.raises(DataError, match="'Q9'"):
        load_training_data(
            write(tmp_path, SURVEY, "s.csv"), "satisfaction", mapping={"ux": ["ux", "Q9"]}
        )


def test_non_numeric_cells_name_rows(tmp_path):
    lines = SURVEY.splitlines()
    lines[3] = "5,abc,2,7"  # data row 3
    lines[8] = "5,n.a.,2,7"  # data row 8
    p = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        load_training_data(p, "satisfaction")
    msg = str(e.value)
    assert str(p) in msg and "column 'ux'" in msg and "row(s) 4, 9" in msg and "'abc'" in msg


def test_bom_and_crlf_accepted(tmp_path):
    plain = load_training_data(write(tmp_path, SURVEY, "a.csv"), "satisfaction")
    bom_crlf = write(tmp_path, b"\xef\xbb\xbf" + SURVEY.replace("\n", "\r\n").encode(), "b.csv")
    d = load_training_data(bom_crlf, "satisfaction")
    np.testing.assert_array_equal(d.x, plain.x)
    np.testing.assert_array_equal(d.y, plain.y)
    assert d.features == plain.features


def test_empty_and_header_only_files(tmp_path):
    with pytest.raises(DataError, match="empty"):
        load_training_data(write(tmp_path, ""), "satisfaction")
    with pytest.raises(DataError, match="no data rows"):
        load_training_data(write(tmp_path, SURVEY.splitlines()[0] + "\n", "h.csv"), "satisfaction")
    with pytest.raises(DataError, match="file not found"):
        load_training_data(tmp_path / "nope.csv", "satisfaction")
    with pytest.raises(DataError, match="not UTF-8"):
        load_training_data(write(tmp_path, b"a,b\n\xff\xfe,1\n", "bin.csv"), "satisfaction")


INCIDENTS_HEAD = "records_log10,security_posture,enterprise_share,third_party_access,incident\n"


def incidents_csv(labels: list[str]) -> str:
    return INCIDENTS_HEAD + "".join(
        f"{3 + i % 5},{i % 10},0.{i % 10},{i % 2},{lab}\n" for i, lab in enumerate(labels)
    )


def test_binary_target_spellings(tmp_path):
    labels = ["Yes", "no", "TRUE", "false", "1", "0", "yes", "No", "true", "0"] * 2
    d = load_training_data(write(tmp_path, incidents_csv(labels)), "privacy")
    expected = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0] * 2
    np.testing.assert_array_equal(d.y, expected)


def test_bad_binary_target_names_rows_and_values(tmp_path):
    labels = ["yes", "no"] * 6
    labels[4] = "maybe"
    labels[9] = "2"
    p = write(tmp_path, incidents_csv(labels))
    with pytest.raises(DataError) as e:
        load_training_data(p, "privacy")
    msg = str(e.value)
    assert str(p) in msg and "column 'incident'" in msg
    assert "row(s) 6, 11" in msg and "'maybe'" in msg and "'2'" in msg


def test_single_class_target_refused(tmp_path):
    with pytest.raises(DataError, match="no positive"):
        load_training_data(write(tmp_path, incidents_csv(["no"] * 12)), "privacy")


def test_missing_values_dropped_below_threshold_with_warning(tmp_path):
    lines = SURVEY.splitlines()
    lines[2] = "5,,2,7"  # row 2: empty cell
    lines[6] = "5,3,NA,7"  # row 6: NA
    p = write(tmp_path, "\n".join(lines) + "\n")
    d = load_training_data(p, "satisfaction")
    assert d.n == 38 and d.dropped_rows == (3, 7)
    assert len(d.warnings) == 1
    w = d.warnings[0]
    assert str(p) in w and "column 'ux'" in w and "row(s) 3" in w and "'service_response'" in w
    with pytest.raises(DataError) as e:
        load_training_data(p, "satisfaction", max_missing_fraction=0.01)
    assert "2 of 40 rows" in str(e.value) and "row(s) 3" in str(e.value)


def test_sentinel_missing_value(tmp_path):
    lines = SURVEY.splitlines()
    lines[5] = "5,-99,2,7"
    p = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"outside 0..10.*row\(s\) 6"):
        load_training_data(p, "satisfaction")
    d = load_training_data(p, "satisfaction", missing=["-99"])
    assert d.dropped_rows == (6,)


def test_scale_checks_and_rescales(tmp_path):
    p = write(tmp_path, SURVEY)  # values 0..9: 0 is outside a 1:10 scale
    with pytest.raises(
        DataError, match=r"outside the declared scale 1:10 at row\(s\) 2, 12, 22, 32"
    ):
        load_training_data(p, "satisfaction", scale=(1.0, 10.0))
    d = load_training_data(p, "satisfaction", scale=(0.0, 20.0))
    assert d.x.max() == pytest.approx(4.5)  # 9 on 0..20 -> 4.5 on 0..10


def test_parse_mapping_and_scale_errors():
    assert parse_mapping(["ux=A, B"], "satisfaction") == {"ux": ("A", "B")}
    for bad in (["ux"], ["ux="], ["=A"]):
        with pytest.raises(DataError, match="FEATURE=COLUMN"):
            parse_mapping(bad, "satisfaction")
    with pytest.raises(DataError, match="unknown feature 'price'"):
        parse_mapping(["price=A"], "satisfaction")
    with pytest.raises(DataError, match="mapped twice"):
        parse_mapping(["ux=A", "ux=B"], "satisfaction")
    assert parse_scale("1:10") == (1.0, 10.0)
    for bad in ("10", "a:b", "5:1", "1:1"):
        with pytest.raises(DataError, match="^scale "):
            parse_scale(bad)


def test_parquet_roundtrip(tmp_path):
    df = pd.read_csv(sample_data_path("privacy")).head(500)
    df["incident"] = df["incident"].map({0: "No", 1: "Yes"})
    p = tmp_path / "inc.parquet"
    df.to_parquet(p)
    d = load_training_data(p, "privacy")
    assert d.n == 500
    np.testing.assert_allclose(d.x[:, 0], df["records_log10"].to_numpy())
    np.testing.assert_array_equal(d.y, (df["incident"] == "Yes").to_numpy(dtype=float))
    assert d.format.startswith("parquet")


TELCO_MAP = {
    "records_log10": ["SeniorCitizen"],
    "security_posture": ["SeniorCitizen"],
    "enterprise_share": ["SeniorCitizen"],
    "third_party_access": ["SeniorCitizen"],
}


def test_telco_labels_and_blank_cells():
    path = realdata("telco_customer_churn.csv")
    d = load_training_data(path, "privacy", mapping=TELCO_MAP, target="Churn")
    assert d.n == 7043
    assert d.y.sum() == 1869  # 'Yes' churners in the IBM sample
    # TotalCharges is a single space for 11 customers: missing, rows named.
    blank = {**TELCO_MAP, "records_log10": ["TotalCharges"]}
    with pytest.raises(DataError) as e:
        load_training_data(path, "privacy", mapping=blank, target="Churn", max_missing_fraction=0)
    msg = str(e.value)
    assert str(path) in msg and "'TotalCharges'" in msg and "row(s) 490, 755, 938" in msg
    # Text where numbers are expected, and a label that is not binary.
    text = {**TELCO_MAP, "records_log10": ["gender"]}
    with pytest.raises(DataError, match=r"column 'gender': non-numeric.*row\(s\) 2, 3, 4"):
        load_training_data(path, "privacy", mapping=text, target="Churn")
    with pytest.raises(DataError, match=r"column 'Contract': expected a binary label"):
        load_training_data(path, "privacy", mapping=TELCO_MAP, target="Contract")
