"""What a change of data, settings or code reruns, and what it reuses."""

from __future__ import annotations

import ast
import shutil

import pandas as pd

from tests.app.conftest import ALL_TASKS, SETTINGS
from tests.app.reuse.conftest import counts, plan_of, run_log
from tests.conftest import APP_DATA, app_environment, copy_project, run_app


def test_new_data_reruns_everything_and_data_seen_before_is_reused(tmp_path):
    data = tmp_path / "records.csv"
    shutil.copy(APP_DATA, data)
    env = app_environment(tmp_path, APP_DATA_PATH=str(data))
    assert counts(run_app(tmp_path, env=env)) == (ALL_TASKS, "0")
    assert counts(run_app(tmp_path, env=env)) == ("0", ALL_TASKS)
    original = data.read_bytes()
    frame = pd.read_csv(data)
    frame.loc[3, SETTINGS.feature_columns[0]] += 0.5
    frame.to_csv(data, index=False)
    assert plan_of(tmp_path, env=env) == {"IngestRecords": ("RUN", "data changed: data_path"),
                                          "TrainModel": ("RUN", "upstream reruns"),
                                          "EvaluateModel": ("RUN", "upstream reruns"),
                                          "DeployModel": ("RUN", "upstream reruns")}
    assert counts(run_app(tmp_path, env=env)) == (ALL_TASKS, "0")
    data.write_bytes(original)
    assert set(plan_of(tmp_path, env=env).values()) == {("SKIP", "output exists")}
    assert counts(run_app(tmp_path, env=env)) == ("0", ALL_TASKS)


def test_changing_epochs_reruns_training_and_below(workdir):
    assert plan_of(workdir, "--set", "model_epochs=300") == {
        "IngestRecords": ("SKIP", "output exists"), "TrainModel": ("RUN", "settings changed: model_epochs"),
        "EvaluateModel": ("RUN", "upstream reruns"), "DeployModel": ("RUN", "upstream reruns")}
    assert counts(run_app(workdir, "--set", "model_epochs=300")) == ("3", "1")
    assert [task["outcome"] for task in run_log(workdir)[-1]["tasks"]] == ["reused", "ran", "ran", "ran"]


def insert_in_build_model(source: str, line: str) -> str:
    """`line` as the first statement of `build_model`'s body (after its docstring)."""
    function = next(node for node in ast.walk(ast.parse(source))
                    if isinstance(node, ast.FunctionDef) and node.name == "build_model")
    first = function.body[1] if ast.get_docstring(function) else function.body[0]
    lines = source.splitlines(keepends=True)
    indent = " " * first.col_offset
    lines.insert(first.lineno - 1, f"{indent}{line}\n")
    return "".join(lines)


def test_code_changes_rerun_their_task_and_below_but_comments_do_not(workdir, tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("project") / "app-copy")
    # The file a user edits to change the model.
    model = project / "app" / "functions" / "model.py"
    original = model.read_text()
    assert counts(run_app(workdir, project=project)) == ("0", ALL_TASKS)

    model.write_text(insert_in_build_model(original, "# why: a comment changes no result"))
    assert set(plan_of(workdir, project=project).values()) == {("SKIP", "output exists")}
    assert counts(run_app(workdir, project=project)) == ("0", ALL_TASKS)

    model.write_text(insert_in_build_model(original, "train_rows = int(train_rows)"))
    assert plan_of(workdir, project=project) == {
        "IngestRecords": ("SKIP", "output exists"), "TrainModel": ("RUN", "code changed: TrainModel"),
        "EvaluateModel": ("RUN", "upstream reruns"), "DeployModel": ("RUN", "upstream reruns")}
    assert counts(run_app(workdir, project=project)) == ("3", "1")
