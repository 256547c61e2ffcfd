"""Several run.py processes share one pipeline through a central luigid and never run a task twice."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from carolbatch.registry import read_current_version, verify_version
from carolbatch.storage.stores import LocalStore
from tests.app.conftest import DEPLOY_APP, TASKS
from tests.conftest import PROJECT_DIR, app_environment, summary_of

LUIGID = Path(sys.executable).with_name("luigid")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "luigid exited at start"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"luigid did not listen on port {port} within {timeout}s")


@pytest.fixture
def luigid(tmp_path):
    """A central scheduler on a free local port, configured by the project's luigi.cfg; yields its port."""
    if not LUIGID.exists():
        pytest.skip(f"{LUIGID} is not installed")
    port = free_port()
    folder = tmp_path / "luigid"
    folder.mkdir()
    env = {**app_environment(tmp_path), "LUIGI_CONFIG_PATH": str(PROJECT_DIR / "luigi.cfg")}
    process = subprocess.Popen(
        [str(LUIGID), "--port", str(port), "--address", "127.0.0.1", "--pidfile", str(folder / "pid"),
         "--logdir", str(folder), "--state-path", str(folder / "state.pickle")],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=open(folder / "stderr.log", "w"),
    )
    try:
        wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def start_run(workdir: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "run.py"), "--scheduler-host", "127.0.0.1", "--scheduler-port", str(port)],
        cwd=workdir, env=app_environment(workdir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_two_processes_run_each_task_once_through_a_central_scheduler(tmp_path, luigid):
    first, second = start_run(tmp_path, luigid), start_run(tmp_path, luigid)
    results = []
    for process in (first, second):
        stdout, stderr = process.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))

    for result in results:
        assert result.returncode == 0, result.stdout + result.stderr
        assert summary_of(result)["status"] == "SUCCESS"
        assert int(summary_of(result)["ran"]) + int(summary_of(result)["reused"]) == len(TASKS)
    finished = Counter(
        name for result in results for name in re.findall(r"finished (\w+) in [\d.]+s", result.stderr)
    )
    assert finished == Counter(TASKS), finished
    assert sum(int(summary_of(result)["ran"]) for result in results) == len(TASKS)
    deployed = [summary_of(result)["deployed"] for result in results if summary_of(result)["deployed"] != "none"]
    assert len(deployed) == 1
    versions = [path for path in (tmp_path / "models" / DEPLOY_APP).iterdir() if path.is_dir()]
    assert [path.name for path in versions] == deployed


def wait_for_version_files(registry: Path, process: subprocess.Popen, timeout: float = 240) -> str:
    """The version a run has started to write (a version folder with a file, no manifest yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        started = [path for path in registry.glob("*/*") if path.parent.is_dir() and path.is_file()
                   and not (path.parent / "checksums.json").exists()]
        if started:
            return started[0].parent.name
        time.sleep(0.05)
    raise AssertionError("the run wrote no version files")


@pytest.mark.parametrize("gc_args", [(), ("--scheduler-host", "127.0.0.1")], ids=["gc", "gc-with-scheduler"])
def test_a_run_through_a_central_scheduler_holds_the_registry_lock_while_it_writes_a_version(tmp_path, luigid, gc_args):
    registry = tmp_path / "models" / DEPLOY_APP
    # Registry writes slowed by the test hook: the clean-up starts while the version is half written.
    run = subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "run.py"), "--scheduler-host", "127.0.0.1", "--scheduler-port", str(luigid)],
        cwd=tmp_path, env=app_environment(tmp_path, REGISTRY_TEST_WRITE_DELAY="0.5"), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    version = wait_for_version_files(registry, run)
    gc = subprocess.run([sys.executable, str(PROJECT_DIR / "run.py"), "--gc", *gc_args, "--scheduler-port",
                         str(luigid)], cwd=tmp_path, env=app_environment(tmp_path), capture_output=True, text=True,
                        timeout=300)
    stdout, stderr = run.communicate(timeout=300)
    ran = subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)
    assert gc.returncode == 0, gc.stdout + gc.stderr
    assert version not in gc.stdout, gc.stdout  # nothing of the version being written was removed
    assert summary_of(ran)["deployed"] == version, stdout + stderr
    store = LocalStore(tmp_path / "models")
    verify_version(store, DEPLOY_APP, version)
    assert read_current_version(store, DEPLOY_APP) == version
