"""Make it a classifier: scikit-learn's breast-cancer table written to data/ with an id column, two edits of
build_model (MLPClassifier, no target scaling) and settings.toml naming the table and the decision metric; run end
to end in a copy of the project: it deploys, is judged on ROC AUC, answers labels and class probabilities online,
and a worse challenger is refused with a line naming ROC AUC. A multiclass table (wine) in the same copy."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_wine

from tests.app.online.server_process import ServerProcess, online_environment
from tests.app.sample.recipes.conftest import copy_project, files_changed, outside_the_users_room
from tests.conftest import app_environment, run_app, summary_of

DEPLOY_APP = "breastcancer"
MODEL_EDITS = (("from sklearn.neural_network import MLPRegressor", "from sklearn.neural_network import MLPClassifier"),
               ("network = MLPRegressor(", "network = MLPClassifier("),
               ('("mlp", StandardisedTarget(network))', '("mlp", network)'),
               ("from carolbatch.training.target_scaling import StandardisedTarget\n", ""))


def bundled_table(loader, id_column: str, target_column: str) -> pd.DataFrame:
    """A table of scikit-learn's bundled data set: an id column, the features (plain names), the target."""
    data = loader(as_frame=True)
    features = data.data.rename(columns=lambda name: name.replace(" ", "_").replace("/", "_"))
    return pd.concat([pd.Series(range(1, len(features) + 1), name=id_column), features,
                      data.target.rename(target_column)], axis=1)


def breast_cancer() -> pd.DataFrame:
    """569 patients, 30 measurements each, `diagnosis` 0 (malignant) or 1 (benign)."""
    return bundled_table(load_breast_cancer, "patient", "diagnosis")


def settings_toml(table: pd.DataFrame) -> str:
    features = ", ".join(f'"{name}"' for name in table.columns[1:-1])
    return (f'data_path = "data/breast_cancer.csv"\nfeature_columns = [{features}]\ntarget_column = "diagnosis"\n'
            f'id_column = "patient"\ndeploy_app = "{DEPLOY_APP}"\ndecision_metric = "roc_auc"\n')


def make_it_a_classifier(copy: Path) -> Path:
    """The recipe applied to a copy of the project: the data, the model's two edits, the settings."""
    copy_project(copy)
    table = breast_cancer()
    table.to_csv(copy / "data" / "breast_cancer.csv", index=False)
    model = copy / "app" / "functions" / "model.py"
    text = model.read_text()
    for old, new in MODEL_EDITS:
        assert old in text, f"app/functions/model.py no longer holds {old!r}"
        text = text.replace(old, new)
    model.write_text(text)
    (copy / "settings.toml").write_text(settings_toml(table))
    return copy


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_it_a_classifier(tmp_path_factory.mktemp("classifier") / "project")


@pytest.fixture(scope="module")
def deployed(project):
    result = run_copy(project)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return result


def run_copy(project: Path, *args: str):
    """run.py of the copy in the copy, its own settings.toml and data deciding (the tests' sample path is unset)."""
    env = {key: value for key, value in app_environment(project).items() if key != "APP_DATA_PATH"}
    return run_app(project, *args, env=env, project=project)


def version_metadata(project: Path, version: str) -> dict:
    return json.loads((project / "models" / DEPLOY_APP / version / "metadata.json").read_text())


def test_the_classifier_deploys_judged_on_roc_auc_and_log_loss(project, deployed):
    version = summary_of(deployed)["deployed"]
    metadata = version_metadata(project, version)
    test = metadata["metrics"]["test"]
    assert metadata["problem"] == {"kind": "binary", "classes": [0, 1]} and metadata["decision_metric"] == "roc_auc"
    assert set(test) == {"log_loss", "roc_auc", "accuracy", "balanced_accuracy", "f1", "brier"}
    assert test["roc_auc"] > 0.97 and test["log_loss"] < metadata["metrics"]["baseline_test"]["log_loss"]
    assert "binary classification (0, 1) model, metrics:" in deployed.stderr
    assert f"test ROC AUC {test['roc_auc']:.3f} passes the thresholds" in deployed.stdout + deployed.stderr
    report = (project / "models" / DEPLOY_APP / version / "report.html").read_text()
    for plot in ("roc_curve.png", "precision_recall.png", "calibration.png", "confusion_matrix.png"):
        assert plot in report and (project / "models" / DEPLOY_APP / version / plot).exists()


def test_online_a_classifier_answers_labels_and_probabilities_summing_to_one(project, deployed):
    server = ServerProcess(project, online_environment(project, deploy_app=DEPLOY_APP))
    try:
        server.wait_ready()
        model = server.get("/model")[1]
        assert (model["problem"], model["classes"], model["decision_metric"]) == ("binary", [0, 1], "roc_auc")
        table = breast_cancer()
        records = table.drop(columns=["patient", "diagnosis"]).head(20).to_dict(orient="records")
        status, answer = server.post("/predict", records)
        assert status == 200, answer
        assert set(answer["predictions"]) <= {0, 1} and len(answer["probabilities"]) == 20
        for label, probabilities in zip(answer["predictions"], answer["probabilities"]):
            assert set(probabilities) == {"0", "1"} and sum(probabilities.values()) == pytest.approx(1.0)
            assert label == max((0, 1), key=lambda name: probabilities[str(name)])
        agree = sum(label == truth for label, truth in zip(answer["predictions"], table["diagnosis"].head(20)))
        assert agree >= 17
    finally:
        server.stop()


def test_a_challenger_on_two_features_is_refused_naming_roc_auc(project, deployed):
    champion = summary_of(deployed)["deployed"]
    result = run_copy(project, "--set", "feature_columns=mean_radius,mean_texture")
    assert result.returncode == 0 and summary_of(result)["deployed"] == "none", result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("not deployed:")]
    assert line.startswith("not deployed: test ROC AUC ") and f"of deployed model {champion} on" in line
    assert "interval" in line and "worse by more than champion_tolerance=0" in line


def test_a_multiclass_table_trains_and_deploys_in_the_same_copy(project):
    wine = bundled_table(load_wine, "bottle", "cultivar")
    wine.to_csv(project / "data" / "wine.csv", index=False)
    result = run_copy(project, "--set", "data_path=data/wine.csv", "--set",
                      f"feature_columns={','.join(wine.columns[1:-1])}", "--set", "target_column=cultivar",
                      "--set", "id_column=bottle", "--set", "deploy_app=wine", "--set", "decision_metric=")
    assert result.returncode == 0, result.stderr[-3000:]
    version = summary_of(result)["deployed"]
    metadata = json.loads((project / "models" / "wine" / version / "metadata.json").read_text())
    assert metadata["problem"] == {"kind": "multiclass", "classes": [0, 1, 2]}
    assert metadata["decision_metric"] == "log_loss" and "brier" not in metadata["metrics"]["test"]
    assert metadata["metrics"]["test"]["accuracy"] > 0.85


def test_the_recipe_touches_only_the_users_room(project):
    # The runs' own outputs (data written, targets, models, server logs) are beside the copy's files.
    outputs = ("data/", "models/", "luigi_targets/", "online-")
    changed = [path for path in files_changed(project) if not path.startswith(outputs)]
    assert changed == ["app/functions/model.py", "settings.toml"]
    assert not outside_the_users_room(changed)
