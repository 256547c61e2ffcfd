"""The crash and concurrency checks of bench/registry_crash.py and bench/registry_concurrency.py, with a
few trials each (the full counts run in bench/: 30 kills, 10 concurrent pairs)."""

from __future__ import annotations

from bench.registry_concurrency import concurrency_trials
from bench.registry_crash import crash_trials


def test_runs_killed_while_deploying_leave_a_registry_the_rerun_and_gc_make_sound(tmp_path):
    results = crash_trials(tmp_path, trials=2, seed=13)
    assert [result["problems"] for result in results] == [[], []]


def test_two_concurrent_runs_keep_every_deploy_and_the_better_model(tmp_path):
    results = concurrency_trials(tmp_path, trials=2)
    assert [result["problems"] for result in results] == [[], []]
