"""The crash and concurrency checks of bench/registry_crash.py and bench/registry_concurrency.py, with a
few trials each (the full counts run in bench/: 30 kills, 10 concurrent pairs, 10 clean-ups mid-deploy)."""

from __future__ import annotations

import pytest

from bench.registry_concurrency import LUIGID, concurrency_trials, gc_trials
from bench.registry_crash import crash_trials, history_cases


def test_runs_killed_while_deploying_leave_a_registry_the_rerun_and_gc_make_sound(tmp_path):
    results = crash_trials(tmp_path, trials=2, seed=13)
    assert [result["problems"] for result in results] == [[], []]
    # Issue 23 on the registry they left: a lost or emptied history, a history line written twice.
    cases = history_cases(tmp_path)
    assert [case["problems"] for case in cases] == [[], [], []], cases


def test_two_concurrent_runs_keep_every_deploy_and_the_better_model(tmp_path):
    results = concurrency_trials(tmp_path, trials=2)
    assert [result["problems"] for result in results] == [[], []]


def test_a_clean_up_started_while_a_scheduler_shared_run_writes_a_version_waits_for_it(tmp_path):
    if not LUIGID.exists():
        pytest.skip(f"{LUIGID} is not installed")
    results = gc_trials(tmp_path, trials=2)
    assert [result["problems"] for result in results] == [[], []], results
