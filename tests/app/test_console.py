"""The console of `run.py`: the app's own lines and the summary; Luigi's INFO lines only with `--verbose`."""

from __future__ import annotations

import re

from tests.app.conftest import ALL_TASKS
from tests.conftest import run_app, summary_of

LUIGI_INFO = re.compile(r"^\S+ INFO +luigi(-interface)?: ", re.M)


def test_luigis_info_lines_stay_out_of_the_console_unless_verbose(tmp_path):
    quiet = run_app(tmp_path)

    assert summary_of(quiet)["ran"] == ALL_TASKS, quiet.stderr
    assert not LUIGI_INFO.search(quiet.stderr), quiet.stderr
    assert re.search(r"^\S+ INFO +\S+: ", quiet.stderr, re.M), "the app's own lines are still there"
    assert quiet.stdout.rstrip().splitlines()[-1].startswith("summary: ")

    verbose = run_app(tmp_path, "--verbose")

    assert summary_of(verbose)["reused"] == ALL_TASKS
    assert LUIGI_INFO.search(verbose.stderr), verbose.stderr
