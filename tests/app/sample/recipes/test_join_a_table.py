"""Joining a second table (a score per neighbourhood, keyed by RAD) inside the model: a new task reads it as a
declared data source, the model's Pipeline keeps it, and the online app adds the score from the key alone.
Editing the second file reruns its task with the reason naming the data; restoring it reuses earlier results."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from carolbatch.registry import load_current_model
from carolbatch.storage.stores import LocalStore
from tests.app.online.server_process import ServerProcess, online_environment
from tests.app.sample.recipes.conftest import copy_project, files_changed, outside_the_users_room
from tests.app.sample.recipes.test_adding_a_task import edit
from tests.conftest import SAMPLE_DATA, run_app, summary_of

APP = "bostonhouseonline"
BASE = ("--set", "model_epochs=40")

SETTINGS = '''    Setting("scores_path", DataFile(), "data/neighbourhood_scores.csv",
            "the neighbourhood scores (RAD, NEIGHBOURHOOD_SCORE) in local mode"),
    Setting("scores_staging", StagingTable("input_connector"), "neighbourhood_scores",
            "the neighbourhood scores' staging table in Carol mode"),
)
'''
TASK = '''"""IngestScores: the second table, a score per neighbourhood."""

import pandas as pd
from pycarol.pipeline import inherit_list

from app.flow.commons import AppTask, setting_parameter
from carolbatch.records.reader import read_source


@inherit_list()
class IngestScores(AppTask):
    """Produces a DataFrame: RAD and its NEIGHBOURHOOD_SCORE."""

    scores_path = setting_parameter("scores_path")
    scores_staging = setting_parameter("scores_staging")
    input_connector = setting_parameter("input_connector")

    def easy_run(self, inputs) -> pd.DataFrame:
        return read_source(self, "scores_path", "scores_staging", ["RAD", "NEIGHBOURHOOD_SCORE"],
                           numeric_columns=["NEIGHBOURHOOD_SCORE"])
'''
JOIN = '''    pipeline = Pipeline([("join", JoinTable(scores, "RAD", ["NEIGHBOURHOOD_SCORE"])),
                         ("prepare", prepare_columns((*settings.feature_columns, "NEIGHBOURHOOD_SCORE"),
                                                     settings.categorical_columns)),
                         ("scale", PowerTransformer()), ("mlp", StandardisedTarget(network))])
'''


def scores_table(shift: float = 0.0) -> pd.DataFrame:
    """A score per RAD value of the sample (one value left out: its records get a blank, imputed)."""
    keys = sorted(pd.read_csv(SAMPLE_DATA)["RAD"].unique())[:-1]
    return pd.DataFrame({"RAD": keys, "NEIGHBOURHOOD_SCORE": [float(key) * 1.5 + shift for key in keys]})


def apply_recipe(copy) -> None:
    """The recipe's edits, app/ and settings.toml only."""
    settings = copy / "app" / "functions" / "settings.py"
    edit(settings, "from carolbatch.settings.kinds import ",
         "from carolbatch.settings.kinds import DataFile, StagingTable, ")
    text = settings.read_text()
    end = text.index("\n)\n", text.index("APP_SETTINGS = ("))
    settings.write_text(text[:end + 1] + SETTINGS + text[end + 3:])
    (copy / "app" / "flow" / "ingest_scores.py").write_text(TASK)
    pipeline = copy / "app" / "pipeline.py"
    edit(pipeline, "from app.flow.ingestion", "from app.flow.ingest_scores import IngestScores\nfrom app.flow.ingestion")
    edit(pipeline, "        IngestRecords,\n", "        IngestRecords,\n        IngestScores,\n")
    train = copy / "app" / "flow" / "train_model.py"
    edit(train, "from app.flow.ingestion import IngestRecords\n",
         "from app.flow.ingest_scores import IngestScores\nfrom app.flow.ingestion import IngestRecords\n")
    edit(train, "@inherit_list(IngestRecords)", "@inherit_list(IngestRecords, IngestScores)")
    edit(train, "(records,) = inputs", "records, scores = inputs")
    edit(train, "build_model(settings, train_rows))", "build_model(settings, train_rows, scores))")
    model = copy / "app" / "functions" / "model.py"
    edit(model, "from carolbatch.training.epochs", "from carolbatch.training.join import JoinTable\n"
                                                  "from carolbatch.training.epochs")
    edit(model, "def build_model(settings: ModelSettings, train_rows: int) -> EpochModel:",
         "def build_model(settings: ModelSettings, train_rows: int, scores) -> EpochModel:")
    text = model.read_text()
    start = text.index("    pipeline = Pipeline([")
    model.write_text(text[:start] + JOIN + text[text.index("\n", start) + 1:])
    edit(model, '    prepare = prepare_columns(settings.feature_columns, settings.categorical_columns)\n', "")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    copy = tmp_path_factory.mktemp("join") / "project"
    copy_project(copy)
    apply_recipe(copy)
    return copy


def plan(workdir, project) -> dict[str, tuple[str, str]]:
    result = run_app(workdir, "--plan", *BASE, project=project)
    assert result.returncode == 0, result.stdout + result.stderr
    return {match[1]: (match[0], match[2]) for match in re.findall(r"^(RUN|SKIP)\s+(\w+)\s+(.*)$", result.stdout,
                                                                   flags=re.MULTILINE)}


def test_the_second_file_counts_as_data_and_the_online_app_joins_from_the_key(project, tmp_path):
    scores = tmp_path / "data" / "neighbourhood_scores.csv"
    scores.parent.mkdir()
    scores_table().to_csv(scores, index=False)
    (tmp_path / "data" / "boston_house_prices.csv").write_bytes(SAMPLE_DATA.read_bytes())
    first = run_app(tmp_path, *BASE, project=project)
    assert first.returncode == 0 and summary_of(first)["ran"] == "5", first.stdout + first.stderr
    assert summary_of(first)["deployed"] != "none", first.stdout
    assert not outside_the_users_room(files_changed(project))

    scores_table(shift=3.0).to_csv(scores, index=False)
    decisions = plan(tmp_path, project)
    assert decisions["IngestScores"] == ("RUN", "data changed: scores_path")
    assert decisions["IngestRecords"][0] == "SKIP" and decisions["TrainModel"] == ("RUN", "upstream reruns")
    edited = run_app(tmp_path, *BASE, project=project)
    assert edited.returncode == 0 and summary_of(edited)["ran"] == "4", edited.stdout + edited.stderr

    scores_table().to_csv(scores, index=False)
    restored = plan(tmp_path, project)
    assert {name: decision[0] for name, decision in restored.items() if name != "DeployModel"} == {
        "IngestRecords": "SKIP", "IngestScores": "SKIP", "TrainModel": "SKIP", "EvaluateModel": "SKIP"}, restored
    assert run_app(tmp_path, *BASE, project=project).returncode == 0

    model = load_current_model(LocalStore(tmp_path / "models"), APP)
    server = ServerProcess(tmp_path, online_environment(tmp_path))
    try:
        server.wait_ready()
        columns = server.get("/model")[1]["feature_columns"]
        assert "RAD" in columns and "NEIGHBOURHOOD_SCORE" not in columns
        records = pd.read_csv(SAMPLE_DATA)[columns].head(20).astype("float64")
        status, answer = server.post("/predict", records.to_dict(orient="records"))
    finally:
        server.stop()
    assert status == 200, answer
    assert answer["predictions"] == pytest.approx(model.predict(records).tolist(), rel=1e-9)
    joined = model.named_steps["join"].transform(records)
    assert joined["NEIGHBOURHOOD_SCORE"].notna().any()
