"""Adding a task is one module in app/flow, one line in the pipeline declaration and a downstream task requiring
it: done here in a copy of the project, with reuse exact (a rerun does nothing; a change in the new task's
code reruns it and what follows only)."""

from __future__ import annotations

import re

import pytest

from tests.app.sample.recipes.conftest import copy_project, files_changed, outside_the_users_room
from tests.conftest import PROJECT_DIR, run_app, summary_of

TASK = '''"""DescribeRecords: how many records there are, and the target's mean."""

from pycarol.pipeline import inherit_list

from app.flow.commons import AppTask
from app.flow.ingestion import IngestRecords
from app.functions.summary import describe_records


@inherit_list(IngestRecords)
class DescribeRecords(AppTask):
    """Produces a dict: the number of records and the target's mean."""

    def easy_run(self, inputs) -> dict:
        (records,) = inputs
        return describe_records(records.frame, self.target_column)
'''
FUNCTION = '''def describe_records(frame, target_column):
    return {"records": len(frame), "mean": float(frame[target_column].mean())}
'''


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer holds {old!r}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project with DescribeRecords declared after IngestRecords and required by DeployModel."""
    copy = tmp_path_factory.mktemp("task") / "project"
    copy_project(copy)
    (copy / "app" / "flow" / "describe_records.py").write_text(TASK)
    (copy / "app" / "functions" / "summary.py").write_text(FUNCTION)
    pipeline = copy / "app" / "pipeline.py"
    edit(pipeline, "from app.flow.deploy_model", "from app.flow.describe_records import DescribeRecords\n"
                                                 "from app.flow.deploy_model")
    edit(pipeline, "        IngestRecords,\n", "        IngestRecords,\n        DescribeRecords,\n")
    deploy = copy / "app" / "flow" / "deploy_model.py"
    edit(deploy, "from app.flow.evaluate_model", "from app.flow.describe_records import DescribeRecords\n"
                                                 "from app.flow.evaluate_model")
    edit(deploy, "@inherit_list(TrainModel, EvaluateModel, IngestRecords)",
         "@inherit_list(TrainModel, EvaluateModel, IngestRecords, DescribeRecords)")
    edit(deploy, "trained, evaluated, records = inputs", "trained, evaluated, records, _ = inputs")
    return copy


def plan(workdir, project) -> dict[str, tuple[str, str]]:
    result = run_app(workdir, "--plan", "--set", "model_epochs=5", project=project)
    assert result.returncode == 0, result.stderr
    return {match[1]: (match[0], match[2]) for match in re.findall(r"^(RUN|SKIP)\s+(\w+)\s+(.*)$", result.stdout,
                                                                   flags=re.MULTILINE)}


def test_the_new_task_runs_is_reused_and_reruns_with_its_code_only(project, tmp_path):
    first = run_app(tmp_path, "--set", "model_epochs=5", project=project)
    assert first.returncode == 0 and summary_of(first)["ran"] == "5", first.stderr
    again = run_app(tmp_path, "--set", "model_epochs=5", project=project)
    assert (summary_of(again)["ran"], summary_of(again)["reused"]) == ("0", "5"), again.stdout

    (project / "app" / "functions" / "summary.py").write_text(FUNCTION.replace("len(frame)", "int(len(frame))"))
    decisions = plan(tmp_path, project)
    assert decisions["DescribeRecords"] == ("RUN", "code changed: DescribeRecords")
    assert decisions["DeployModel"][0] == "RUN"
    assert {name: decision[0] for name, decision in decisions.items() if name not in ("DescribeRecords", "DeployModel")
            } == {"IngestRecords": "SKIP", "TrainModel": "SKIP", "EvaluateModel": "SKIP"}
    rerun = run_app(tmp_path, "--set", "model_epochs=5", project=project)
    assert (summary_of(rerun)["ran"], summary_of(rerun)["reused"]) == ("2", "3"), rerun.stdout


def test_a_task_not_declared_in_the_pipeline_is_named(project, tmp_path):
    pipeline = project / "app" / "pipeline.py"
    text = pipeline.read_text()
    try:
        pipeline.write_text(text.replace("        DescribeRecords,\n", ""))
        result = run_app(tmp_path, "--plan", project=project)
    finally:
        pipeline.write_text(text)
    assert result.returncode == 1
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "DescribeRecords" in error.split("but the app declares")[0] and "but the app declares" in error


def test_the_recipe_touches_only_the_users_room(project):
    changed = files_changed(project)
    assert changed and not outside_the_users_room(changed), changed
