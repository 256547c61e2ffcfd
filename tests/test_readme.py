"""The README as a new user reads it: each `python run.py ...` and `make ...` command it gives runs as written, in a
shell where `.venv` is active after `make run` (as its "The environment" says), and each path it names exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR, copy_project

README = (PROJECT_DIR / "README.md").read_text()
COMMAND = re.compile(r"^(python run\.py|make)( |$)")
# A command written as a pattern (placeholders in capitals, optional parts in brackets, `...`) is not run.
PATTERN = re.compile(r"\[|\.\.\.|\b(NAME|VALUE|HOST|PORT|TASK|N|VERSION)\b|^make$")
# Run in a copy after `make run`, in this order; no training.
FAST = ("python run.py", "python run.py --version", "python run.py --settings", "python run.py --plan",
        "python run.py --models", "python run.py --verbose", "make install-dev", "make settings-doc", "make clean")
# Each trains a model (seconds to a minute on the sample).
SLOW = ("make run ARGS=\"--set model_epochs=500\"", "python run.py --set model_hidden_layers=64",
        "python run.py --force TrainModel", "python run.py --replace-champion")
NOT_RUN = {
    "make test": "the whole suite (this test is part of it)",
    "make test PYTEST_ARGS=tests/platform": "a part of the suite",
    "make test PYTEST_ARGS=-k recipe": "a part of the suite",
    "make test PYTEST_ARGS=--ignore=tests/app/sample": "a part of the suite",
    "make lock": "resolves against the package index (tests/test_lock.py checks the lock)",
    "make serve": "a server that runs until stopped (tests/app/online start it)",
    "make manifest": "needs the project's git remote (tests/test_manifest_tool.py runs the tool)",
}
# What the README says a command writes: absent until it runs.
# Paths that a recipe or a bench writes (the README says how), not shipped with the project.
WRITTEN = ("bench/data/", "data/breast_cancer.csv", "app/flow/ingest_scores.py", "data/neighbourhood_scores.csv")


def readme_commands(text: str) -> list[str]:
    """The commands of the README's shell blocks (continued lines joined, comments dropped) and inline code."""
    found, fence = [], None
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if fence is None:
            found += [span.strip() for span in re.findall(r"`([^`]+)`", line) if COMMAND.match(span.strip())]
        elif fence in ("", "sh", "bash"):
            command = line.strip()
            while command.endswith("\\"):
                command = command[:-1].rstrip() + " " + next(lines).strip()
            command = re.sub(r"\s+#.*$", "", command)
            found += [command] if COMMAND.match(command) else []
    return list(dict.fromkeys(found))


CONCRETE = [command for command in readme_commands(README) if not PATTERN.search(command)]


def test_every_concrete_command_of_the_readme_is_run_here_or_excused():
    assert "python run.py --plan" in CONCRETE and "make run" in CONCRETE  # the extraction finds them
    unknown = [command for command in CONCRETE if command not in (*FAST, *SLOW, "make run", *NOT_RUN)
               and "houses.csv" not in command]  # "Use your own table": tests/app/sample/recipes/test_own_table.py
    assert not unknown, f"README commands this test neither runs nor excuses: {unknown}"


def test_each_path_the_readme_names_exists():
    named = set(re.findall(r"(?<![\w/.<{$-])((?:app|carolbatch|tests|bench|tools|sandbox|online|data|\.ci)/[\w./-]*[\w/])",
                           README))
    assert len(named) > 30
    # A copy made one's own deletes the example's tests, which the README still names.
    gone = ("tests/app/sample",) if not (PROJECT_DIR / "tests" / "app" / "sample").exists() else ()
    missing = sorted(path for path in named if not (PROJECT_DIR / path).exists() and not path.startswith((*WRITTEN, *gone)))
    assert not missing, f"paths the README names that do not exist: {missing}"


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    """A copy of the project after `make run`, and how to run a command there with `.venv` active."""
    project = copy_project(tmp_path_factory.mktemp("readme") / "project")
    (project / ".venv").symlink_to(Path(sys.prefix))  # the environment these tests run in, as `make run` left it
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CAROL", "APP_", "LONGTASKID"))}
    env.update(PATH=f"{project / '.venv' / 'bin'}{os.pathsep}{env['PATH']}", VIRTUAL_ENV=str(project / ".venv"),
               PYTHONDONTWRITEBYTECODE="1")

    def run(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True,
                              timeout=600)

    first = run("make run")
    assert first.returncode == 0 and "status=SUCCESS ran=" in first.stdout, first.stdout + first.stderr[-2000:]
    return project, run


def check(result: subprocess.CompletedProcess, command: str) -> None:
    assert result.returncode == 0, f"{command}: exit {result.returncode}\n{result.stdout[-1000:]}{result.stderr[-2000:]}"
    if command.startswith("python run.py") and command != "python run.py --version":
        assert result.stdout.strip().splitlines()[-1].startswith("summary: status="), result.stdout


def test_the_fast_commands_run_as_written_after_make_run(shell):
    project, run = shell
    for command in FAST:
        check(run(command), command)
    assert run("python run.py --version").stdout.startswith("app ")
    assert not (project / "luigi_targets").exists() and not (project / "models").exists()  # make clean


@pytest.mark.slow
def test_the_commands_that_train_run_as_written(shell):
    _, run = shell
    for command in SLOW:
        check(run(command), command)
