"""Adding a setting is one declaration plus the code that uses it: done here in a copy of the project."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.app.conftest import ALL_TASKS
from tests.conftest import PROJECT_DIR, app_environment, run_app, summary_of

DECLARATION = '    Setting("new_knob", Whole(1), 3, "a knob added by a test"),\n'
PARAMETER = '    new_knob = setting_parameter("new_knob")\n'


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project with `new_knob` declared and made a parameter of TrainModel."""
    copy = tmp_path_factory.mktemp("added") / "project"
    shutil.copytree(PROJECT_DIR, copy, ignore=shutil.ignore_patterns(
        ".venv", ".tmp", "sandbox_data", "luigi_targets", "models", ".git", "bench", "__pycache__",
        ".pytest_cache", ".hypothesis"))
    settings = copy / "app" / "functions" / "settings.py"
    text = settings.read_text()
    end = text.index(")\n\nSETTINGS = ")
    settings.write_text(text[:end] + DECLARATION + text[end:])
    task = copy / "app" / "flow" / "train_model.py"
    anchor = '    model_epochs = setting_parameter("model_epochs")\n'
    task.write_text(task.read_text().replace(anchor, anchor + PARAMETER))
    return copy


def test_the_new_setting_is_parsed_with_its_default_and_layer(project, tmp_path):
    result = run_app(tmp_path, "--settings", "--set", "new_knob=7", project=project)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^new_knob\s+7\s+--set$", result.stdout, flags=re.MULTILINE)
    default = run_app(tmp_path, "--settings", project=project)
    assert re.search(r"^new_knob\s+3\s+default$", default.stdout, flags=re.MULTILINE)


def test_the_new_setting_is_validated_against_its_declared_bounds(project, tmp_path):
    result = run_app(tmp_path, "--settings", env=app_environment(tmp_path, APP_NEW_KNOB="0"), project=project)
    assert result.returncode == 2
    assert "setting new_knob='0' (from environment) is invalid: expected a whole number >= 1" in result.stderr


def test_the_readme_check_fails_until_the_table_is_regenerated(project):
    check = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "tests/app/functions/test_settings_doc.py::test_readme_settings_table_matches_the_declaration"]
    assert subprocess.run(check, cwd=project, capture_output=True, timeout=120).returncode == 1
    subprocess.run([sys.executable, "-m", "tools.settings_doc", "README.md"], cwd=project, check=True, timeout=60)
    assert "| `new_knob` | whole number | `3` | a whole number >= 1 | a knob added by a test |" in (
        project / "README.md").read_text()
    assert subprocess.run(check, cwd=project, capture_output=True, timeout=120).returncode == 0


def test_the_new_setting_reaches_its_task_and_is_part_of_its_identity(project, tmp_path):
    first = run_app(tmp_path, "--set", "model_epochs=5", project=project)
    assert first.returncode == 0 and summary_of(first)["ran"] == ALL_TASKS, first.stderr
    plan = run_app(tmp_path, "--plan", "--set", "model_epochs=5", "--set", "new_knob=8", project=project)
    assert plan.returncode == 0, plan.stderr
    assert re.search(r"^SKIP\s+IngestRecords\s", plan.stdout, flags=re.MULTILINE)
    assert re.search(r"^RUN\s+TrainModel\s+settings changed: new_knob$", plan.stdout, flags=re.MULTILINE)
