"""luigid's visualiser shows every task of the pipeline after a run through the central scheduler."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess

import pytest

from tests.app.conftest import ALL_TASKS, TASKS
from tests.app.test_central_scheduler import luigid  # noqa: F401 (fixture)
from tests.conftest import run_app, summary_of

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Where a copy of the screenshot goes when set (for a human to look at); the test keeps its own in tmp_path.
SCREENSHOT_COPY = "VISUALISER_SCREENSHOT"


def chromium(profile, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium that talks to nothing but the given URL and lets the page's scripts finish."""
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--window-size=1400,900", *args],
        capture_output=True, text=True, timeout=120,
    )


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", header[16:24])


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")
def test_visualiser_shows_every_task(tmp_path, luigid):  # noqa: F811
    result = run_app(tmp_path, "--scheduler-host", "127.0.0.1", "--scheduler-port", str(luigid))
    assert result.returncode == 0, result.stderr
    assert summary_of(result)["ran"] == ALL_TASKS
    url = f"http://127.0.0.1:{luigid}/static/visualiser/index.html"

    page = chromium(tmp_path / "profile-dom", "--dump-dom", url)
    assert page.returncode == 0, page.stderr
    for task in TASKS:
        assert task in page.stdout, f"{task} not on the visualiser page"

    screenshot = tmp_path / "visualiser.png"
    shot = chromium(tmp_path / "profile-shot", f"--screenshot={screenshot}", url)
    assert shot.returncode == 0, shot.stderr
    assert png_size(screenshot) == (1400, 900)
    if os.environ.get(SCREENSHOT_COPY):
        shutil.copyfile(screenshot, os.environ[SCREENSHOT_COPY])
