"""Task order, task names, the plan of a run before anything ran, and what --force affects."""

from __future__ import annotations

import pytest

from app.pipeline import APP
from carolbatch.control.maintenance import affected_tasks, all_tasks, check_task_names, describe_plan
from carolbatch.control.startup import prepare_run
from carolbatch.errors import AppError
from tests.app.conftest import TASK_COUNT
from tests.conftest import APP_DATA, PROJECT_DIR

FAMILIES = ["IngestRecords", "TrainModel", "EvaluateModel", "DeployModel"]


@pytest.fixture
def root(tmp_path):
    environ = {"APP_DATA_PATH": str(APP_DATA), "APP_TARGET_DIR": str(tmp_path / "t"),
               "APP_REGISTRY_DIR": str(tmp_path / "m")}
    return prepare_run(APP, PROJECT_DIR, environ, []).root


def test_all_tasks_lists_upstream_first(root):
    assert [task.get_task_family() for task in all_tasks(root)] == FAMILIES


def test_unknown_task_names_are_bad_input_naming_the_known_ones(root):
    check_task_names(root, ["TrainModel"])
    with pytest.raises(AppError) as raised:
        check_task_names(root, ["Train", "DeployModel"])
    assert raised.value.exit_code == 2 and "unknown task Train; tasks are IngestRecords, TrainModel" in str(raised.value)


def test_forcing_a_task_affects_it_and_everything_downstream(root):
    assert [task.get_task_family() for task in affected_tasks(root, ["TrainModel"])] == FAMILIES[1:]
    assert affected_tasks(root, []) == []


def test_before_any_run_the_plan_runs_everything_for_lack_of_output(root):
    lines = describe_plan(root)
    assert lines[-1] == f"plan: {TASK_COUNT} to run, 0 to reuse"
    assert all(line.split()[0] == "RUN" and line.endswith("no output") for line in lines[:-1])
