"""The "Join a second table" recipe in Carol mode: the second table is a staging table the sandbox serves,
fingerprinted like the first (a no-op rerun reads no records), and joined inside the deployed model."""

from __future__ import annotations

import re

import pytest

from sandbox.staging import stage_records
from tests.app.sample.recipes.conftest import copy_project
from tests.app.sample.recipes.test_join_a_table import apply_recipe, scores_table
from tests.app.sample.sandbox.conftest import carol_environment
from tests.conftest import run_app, summary_of

CONNECTOR = "boston_house_price"


def staged_scores(shift: float = 0.0, updated: str = "2026-11-02 10:00:00"):
    table = scores_table(shift)
    return table.assign(mdmId=[f"rad-{key}" for key in table["RAD"]], mdmCounterForEntity=1, mdmDeleted=False,
                        mdmLastUpdated=updated)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    copy = tmp_path_factory.mktemp("join_carol") / "project"
    copy_project(copy)
    apply_recipe(copy)
    return copy


def test_the_join_runs_in_carol_mode_and_a_changed_second_table_reruns_its_task(
        sandbox_process, staged_records, project, tmp_path):
    stage_records(sandbox_process.folder, CONNECTOR, "neighbourhood_scores", staged_scores())
    env = carol_environment(tmp_path, sandbox_process.environment)
    first = run_app(tmp_path, "--set", "model_epochs=40", env=env, project=project)
    assert first.returncode == 0 and summary_of(first)["ran"] == "5", first.stdout + first.stderr[-3000:]
    assert summary_of(first)["deployed"] != "none", first.stdout
    again = run_app(tmp_path, "--set", "model_epochs=40", env=env, project=project)
    assert (summary_of(again)["ran"], summary_of(again)["reused"]) == ("0", "5"), again.stdout

    stage_records(sandbox_process.folder, CONNECTOR, "neighbourhood_scores",
                  staged_scores(shift=3.0, updated="2026-11-03 10:00:00"))
    plan = run_app(tmp_path, "--plan", "--set", "model_epochs=40", env=env, project=project)
    assert re.search(r"^RUN\s+IngestScores\s+data changed: scores_staging$", plan.stdout, flags=re.MULTILINE), (
        plan.stdout + plan.stderr[-2000:])
    assert re.search(r"^SKIP\s+IngestRecords\s", plan.stdout, flags=re.MULTILINE), plan.stdout


def test_an_unknown_second_table_stops_the_run_with_one_line_and_exit_2(sandbox_process, staged_records, project,
                                                                        tmp_path):
    env = carol_environment(tmp_path, sandbox_process.environment)
    result = run_app(tmp_path, "--set", "scores_staging=no_such_table", env=env, project=project)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1, result.stdout + result.stderr[-2000:]
    assert "no_such_table" in errors[0]
