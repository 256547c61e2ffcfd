"""--force recomputes in place; --gc removes what no current, recent or deployed run uses."""

from __future__ import annotations

import re

from tests.app.conftest import ALL_TASKS
from tests.app.reuse.conftest import counts, plan_of, run_log, target_files
from tests.conftest import run_app


def test_force_recomputes_in_place(workdir):
    before = target_files(workdir)
    assert plan_of(workdir, "--force", "TrainModel") == {
        "IngestRecords": ("SKIP", "output exists"), "TrainModel": ("RUN", "forced"),
        "EvaluateModel": ("RUN", "upstream reruns"), "DeployModel": ("RUN", "upstream reruns")}
    assert counts(run_app(workdir, "--force", "TrainModel")) == ("3", "1")
    # The same model again is refused, and a refusal's report goes beside its target.
    (report,) = target_files(workdir).keys() - before.keys()
    assert report.startswith("DeployModel/") and report.endswith(".report.html")
    assert run_app(workdir, "--force", "NoSuchTask").returncode == 2


def test_gc_keeps_current_and_deployed_lineage_and_reports_bytes(workdir):
    deployed = {task["target"] for task in run_log(workdir)[0]["tasks"]}
    for epochs in ("40", "60"):
        assert counts(run_app(workdir, "--set", f"model_epochs={epochs}")) == ("3", "1")
    current = {task["target"] for task in run_log(workdir)[-1]["tasks"]}
    before = target_files(workdir)

    dry = run_app(workdir, "--gc", "--keep", "0", "--dry-run", "--set", "model_epochs=60")
    assert dry.returncode == 0 and target_files(workdir) == before
    listed = re.findall(r"^would remove (\S+) \((\d+) bytes\)$", dry.stdout, flags=re.MULTILINE)
    assert len(listed) == 7  # the model_epochs=40 run's three targets, their records and its refusal's report

    result = run_app(workdir, "--gc", "--keep", "0", "--set", "model_epochs=60")
    assert result.returncode == 0, result.stderr
    after = target_files(workdir)
    removed = before.keys() - after.keys()
    assert len(removed) == 7 and {name for name in removed if name.endswith(".pkl")}.isdisjoint(deployed | current)
    assert all(name in after for name in deployed | current)
    freed = int(re.search(r"freed (\d+) bytes", result.stdout).group(1))
    assert freed == sum(before[name] for name in removed) > 0
    assert counts(run_app(workdir)) == ("0", ALL_TASKS)
