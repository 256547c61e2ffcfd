"""A sandbox process on free ports, staging data shaped like Carol's, and run.py pointed at the sandbox."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from dotenv import dotenv_values

from sandbox.staging import stage_records
from tests.conftest import PROJECT_DIR, SAMPLE_DATA, app_environment

START_SECONDS = 60
DUPLICATED_IDS = range(0, 40, 2)  # older versions with no target: kept by mistake, the record count shows it
DELETED_IDS = (3, 7, 11, 13, 17)


class SandboxProcess:
    """`python -m sandbox` running in a subprocess; `environment` is what it wrote to its env file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.env_file = folder / ".env.sandbox"
        self.log = open(folder / "sandbox.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--folder", str(folder), "--carol-port", "0", "--storage-port", "0",
             "--storage-read-port", "0",
             "--env-file", str(self.env_file), "--no-sample"],
            cwd=PROJECT_DIR, stdout=self.log, stderr=subprocess.STDOUT, text=True,
        )
        self.environment = self._wait_for_environment()

    def _wait_for_environment(self) -> dict[str, str]:
        deadline = time.monotonic() + START_SECONDS
        while not self.env_file.is_file():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sandbox did not start: {(self.folder / 'sandbox.log').read_text()}")
            time.sleep(0.1)
        return dict(dotenv_values(self.env_file))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def carol_staging_records() -> pd.DataFrame:
    """The sample records as a Carol staging holds them, with stale duplicates and deleted records."""
    sample = pd.read_csv(SAMPLE_DATA)
    current = sample.assign(mdmId=sample["sample"].map("sample-{}".format), mdmCounterForEntity=2,
                            mdmDeleted=sample["sample"].isin(DELETED_IDS), mdmLastUpdated="2026-11-02 10:00:00")
    stale = current[current["sample"].isin(DUPLICATED_IDS)].assign(
        target=float("nan"), mdmCounterForEntity=1, mdmDeleted=False, mdmLastUpdated="2026-11-01 10:00:00")
    return pd.concat([stale, current], ignore_index=True)


def expected_record_count(staging: pd.DataFrame) -> int:
    """Records left after keeping each mdmId's latest version and dropping deleted ones."""
    latest = staging.sort_values("mdmCounterForEntity").groupby("mdmId").tail(1)
    return int((~latest["mdmDeleted"]).sum())


def carol_environment(workdir: Path, sandbox_environment: dict[str, str], **extra: str) -> dict[str, str]:
    """run.py's environment in Carol mode against the sandbox, with pycarol's caches inside `workdir`."""
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    return app_environment(workdir, **{**sandbox_environment, "TMPDIR": str(workdir / "tmp"), **extra})


@pytest.fixture(scope="module")
def sandbox_process(tmp_path_factory):
    process = SandboxProcess(tmp_path_factory.mktemp("sandbox"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def staged_records(sandbox_process) -> pd.DataFrame:
    records = carol_staging_records()
    stage_records(sandbox_process.folder, "boston_house_price", "samples", records)
    return records
