"""Bring your own table: other column names, no id column, a text category and blank cells train and deploy
with settings alone; the deployed model.pkl predicts by column name; the online app answers for such records;
bad values end with one line naming the column, exit 2, nothing deployed."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.app.online.server_process import ServerProcess, online_environment
from tests.conftest import SAMPLE_DATA, run_app, summary_of

APP = "bostonhouseonline"
NAMES = {"CRIM": "crime_rate", "RM": "rooms", "AGE": "age", "LSTAT": "lower_status", "TAX": "tax",
         "target": "price"}
FEATURES = ("crime_rate", "rooms", "age", "lower_status", "tax", "district")


def own_table() -> pd.DataFrame:
    """The sample under other names, without its id, with a text district and blanks in rooms and age."""
    sample = pd.read_csv(SAMPLE_DATA)
    table = sample[list(NAMES)].rename(columns=NAMES)
    table.insert(5, "district", np.where(sample["CHAS"] == 1, "riverside", "zone-" + sample["RAD"].astype(str)))
    table.loc[table.index % 17 == 3, "rooms"] = np.nan
    table.loc[table.index % 23 == 5, "age"] = np.nan
    return table


def own_settings(path) -> list[str]:
    """One `--set` per setting, as the README's "Use your own table" shows."""
    return ["--set", f"data_path={path}", "--set", f"feature_columns={','.join(FEATURES)}",
            "--set", "categorical_columns=district", "--set", "target_column=price", "--set", "id_column=",
            "--set", "model_epochs=80"]


def current_version(workdir) -> str | None:
    pointer = workdir / "models" / APP / "current"
    return pointer.read_text() if pointer.exists() else None


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("own_table")
    path = workdir / "houses.csv"
    own_table().to_csv(path, index=False)
    result = run_app(workdir, *own_settings(path))
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return workdir, path, result


def test_an_own_table_trains_and_deploys_with_settings_alone(deployed):
    workdir, _, result = deployed
    summary = summary_of(result)
    assert summary["status"] == "SUCCESS" and summary["deployed"] == current_version(workdir)
    assert "column rooms has 30 blank values; the model imputes them" in result.stderr
    assert "column age has 22 blank values" in result.stderr
    folder = workdir / "models" / APP / summary["deployed"]
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["metrics"]["test"]["rmse"] < metadata["metrics"]["baseline_test"]["rmse"]
    assert metadata["settings"]["id_column"] is None and metadata["settings"]["categorical_columns"] == ["district"]
    report = (folder / "report.html").read_text()
    assert "imputed_values" in report and "rooms" in report and "records_without_target" in report


def test_the_model_file_predicts_by_column_name(deployed):
    workdir, path, _ = deployed
    model = joblib.load(workdir / "models" / APP / "model.pkl")
    features = pd.read_csv(path).head(40)[list(FEATURES)]
    predicted = model.predict(features)
    assert np.isfinite(predicted).all()
    np.testing.assert_array_equal(model.predict(features[list(reversed(FEATURES))]), predicted)
    with pytest.raises(ValueError, match="rooms"):
        model.predict(features.drop(columns=["rooms"]))
    unseen = features.head(1).assign(district="nowhere", rooms=np.nan)
    assert np.isfinite(model.predict(unseen)).all()


def test_the_online_app_answers_for_records_with_a_category_and_a_blank(deployed):
    workdir, _, _ = deployed
    server = ServerProcess(workdir, online_environment(workdir))
    try:
        server.wait_ready()
        assert server.get("/model")[1]["categorical_columns"] == ["district"]
        record = {"crime_rate": 0.02, "rooms": None, "age": 65.2, "lower_status": 4.98, "tax": 296.0,
                  "district": "riverside"}
        status, answer = server.post("/predict", [record, {**record, "district": "zone-1", "age": None}])
        assert status == 200 and len(answer["predictions"]) == 2, answer
        model = joblib.load(workdir / "models" / APP / "model.pkl")
        expected = model.predict(pd.DataFrame([record], columns=list(FEATURES)).astype({"rooms": float}))
        assert answer["predictions"][0] == pytest.approx(float(expected[0]), rel=1e-9)
        # A number sent for a category is read as that category's text; one never seen is answered and flagged.
        status, answer = server.post("/predict", {**record, "district": 7.5})
        assert status == 200 and [item["field"] for item in answer["out_of_range"]] == ["district"], answer
    finally:
        server.stop()


BAD_TABLES = {
    "text in a numeric feature": (lambda table: table.astype({"tax": object}).assign(
        tax=lambda frame: frame["tax"].where(frame.index != 7, "high")), "column tax is not numeric: it holds "
        "'high' in record at line 9"),
    "infinite value": (lambda table: table.assign(age=table["age"].where(table.index != 4, np.inf)),
                       "column age holds inf in record at line 6"),
    "no target at all": (lambda table: table.assign(price=np.nan), "target column price has no value"),
}


@pytest.mark.parametrize("case", BAD_TABLES, ids=list(BAD_TABLES))
def test_bad_values_end_with_one_line_naming_the_column_and_deploy_nothing(tmp_path, case):
    edit, words = BAD_TABLES[case]
    path = tmp_path / "houses.csv"
    edit(own_table()).to_csv(path, index=False)
    result = run_app(tmp_path, *own_settings(path))
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr and summary_of(result)["status"] == "FAILED"
    assert current_version(tmp_path) is None
