"""A deploy decision holds only while the model it decided about is the current one (issue 29, item 4)."""

from __future__ import annotations

import re

from carolbatch.registry import read_current_version
from carolbatch.storage.stores import LocalStore
from tests.app.conftest import DEPLOY_APP as APP
from tests.conftest import run_app, summary_of

GOOD = ("--set", "model_epochs=300")
# Another split and seed: another model on any table (a platform setting, so it holds whatever model the app builds).
WORSE = ("--set", "model_epochs=300", "--set", "random_state=2")


def current(workdir) -> str:
    return read_current_version(LocalStore(workdir / "models"), APP)


def test_after_replace_champion_a_rerun_at_the_earlier_settings_decides_again(tmp_path):
    first = run_app(tmp_path, *GOOD)
    assert first.returncode == 0 and summary_of(first)["deployed"] != "none", first.stdout + first.stderr
    replaced = run_app(tmp_path, *WORSE, "--replace-champion")
    assert summary_of(replaced)["deployed"] not in ("none", summary_of(first)["deployed"]), replaced.stdout
    assert current(tmp_path) == summary_of(replaced)["deployed"]

    plan = run_app(tmp_path, *GOOD, "--plan")
    assert re.search(r"^RUN\s+DeployModel\s+deployed model changed$", plan.stdout, flags=re.MULTILINE), plan.stdout
    again = run_app(tmp_path, *GOOD)
    output = again.stdout + again.stderr
    assert again.returncode == 0 and summary_of(again)["ran"] == "1", output
    assert "no longer holds: the version it deployed" in output
    # Decided again against the model now current: published anew, or refused against it.
    assert summary_of(again)["deployed"] in ("none", current(tmp_path))
    settled = run_app(tmp_path, *GOOD)
    assert (summary_of(settled)["ran"], summary_of(settled)["deployed"]) == ("0", "none"), settled.stdout
