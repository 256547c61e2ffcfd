"""Run locks on local folders: one holder at a time per target folder and registry, named to the others."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.pipeline import APP
from carolbatch.control.run_locks import check_folders, check_writable, lock_registry, lock_run
from carolbatch.control.startup import open_registry, prepare_run
from carolbatch.errors import BAD_INPUT, AppError
from carolbatch.storage.locks import LOCK_FILE, LockBusyError, describe_holder, local_locks
from tests.app.conftest import default_settings
from tests.conftest import APP_DATA, PROJECT_DIR


@pytest.fixture
def environ(tmp_path):
    return {"APP_DATA_PATH": str(APP_DATA), "APP_TARGET_DIR": str(tmp_path / "t"),
            "APP_REGISTRY_DIR": str(tmp_path / "m")}


@pytest.fixture
def plan(environ):
    return prepare_run(APP, PROJECT_DIR, environ, [])


@pytest.fixture
def registry_folder(plan, tmp_path):
    return tmp_path / "m" / plan.settings.deploy_app


def test_a_run_locks_its_target_folder_and_registry_naming_itself(plan, tmp_path, registry_folder):
    with lock_run(plan, "gc", wait=False):
        for folder in (tmp_path / "t", registry_folder):
            assert describe_holder((folder / LOCK_FILE).read_bytes()).startswith(f"pid {os.getpid()} on ")
            assert "(gc) since" in describe_holder((folder / LOCK_FILE).read_bytes())


def test_a_second_run_that_does_not_wait_is_refused_naming_the_holder(plan, tmp_path):
    with lock_run(plan, "run", wait=False):
        with pytest.raises(LockBusyError) as raised:
            with lock_run(plan, "gc", wait=False):
                pytest.fail("entered a locked run")
    assert str(raised.value).startswith(f"{tmp_path / 't'} is locked by pid {os.getpid()} on ")
    assert "(run) since" in str(raised.value)


def test_the_lock_is_released_after_the_with_block_however_it_ends(plan):
    with lock_run(plan, "run", wait=False):
        pass
    with pytest.raises(RuntimeError):
        with lock_run(plan, "run", wait=False):
            raise RuntimeError("the run failed")
    with lock_run(plan, "gc", wait=False):
        pass


def test_a_rollback_holds_off_a_run_and_the_run_releases_its_target_lock(plan, environ, tmp_path, registry_folder):
    access = open_registry(APP, PROJECT_DIR, environ, [])
    with lock_registry(access, "rollback", wait=False):
        with pytest.raises(LockBusyError, match=r"is locked by pid \d+ on .* \(rollback\)") as raised:
            with lock_run(plan, "run", wait=False):
                pytest.fail("entered a run while the registry is locked")
        assert str(raised.value).startswith(f"{registry_folder} is locked")
        # The target lock taken before the registry's was given back when the registry's was refused.
        with local_locks([tmp_path / "t"], "probe", wait=False):
            pass
    with lock_run(plan, "run", wait=False):
        with pytest.raises(LockBusyError, match=r"\(run\)"):
            with lock_registry(access, "rollback", wait=False):
                pytest.fail("rolled back during a run")


def test_runs_sharing_a_central_scheduler_take_no_lock_for_the_run(plan, tmp_path, registry_folder):
    with lock_run(plan, "run", wait=False, shared=True):
        assert not (tmp_path / "t" / LOCK_FILE).exists() and not (registry_folder / LOCK_FILE).exists()
    with lock_run(plan, "run", wait=False):
        with lock_run(plan, "run", wait=False, shared=True):
            pass


def test_runs_sharing_a_central_scheduler_hold_the_registry_lock_for_each_registry_write(plan, registry_folder):
    context = plan.root.run_context()
    with lock_run(plan, "run", wait=False):
        with context.registry_writes():  # the run holds the lock already: not taken twice
            pass
    with lock_run(plan, "run", wait=False, shared=True):
        with context.registry_writes():
            assert "(run) since" in describe_holder((registry_folder / LOCK_FILE).read_bytes())
            with pytest.raises(LockBusyError, match=r"\(run\)"):
                with local_locks([registry_folder], "gc", wait=False):
                    pytest.fail("cleaned up during a registry write")
        with local_locks([registry_folder], "gc", wait=False):
            pass  # released between writes
    with context.registry_writes():  # after the run: nothing to take
        with local_locks([registry_folder], "gc", wait=False):
            pass


@pytest.mark.parametrize("name", ["target_dir", "registry_dir"])
def test_a_target_or_registry_folder_that_is_a_file_is_bad_input_naming_the_setting(tmp_path, name):
    folders = {"target_dir": str(tmp_path / "t"), "registry_dir": str(tmp_path / "m")}
    (tmp_path / "m").mkdir()
    check_folders(default_settings(**folders))  # one exists as a folder, the other not yet
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(AppError) as raised:
        check_folders(default_settings(**{**folders, name: str(tmp_path / "file")}))
    assert raised.value.exit_code == BAD_INPUT
    assert str(raised.value) == f"setting {name}={str(tmp_path / 'file')!r} is a file, not a folder"


def test_a_target_folder_inside_the_registry_is_locked_once_not_waited_for_by_its_own_run(tmp_path):
    deploy_app = default_settings().deploy_app
    environ = {"APP_DATA_PATH": str(APP_DATA), "APP_REGISTRY_DIR": str(tmp_path / "m"),
               "APP_TARGET_DIR": str(tmp_path / "m" / deploy_app)}
    plan = prepare_run(APP, PROJECT_DIR, environ, [])
    with lock_run(plan, "run", wait=True):  # taken twice, this would wait for itself forever
        assert "(run) since" in describe_holder((tmp_path / "m" / deploy_app / LOCK_FILE).read_bytes())
        with pytest.raises(LockBusyError):
            with local_locks([tmp_path / "m" / deploy_app], "gc", wait=False):
                pass


@pytest.mark.parametrize("name", ["target_dir", "registry_dir"])
def test_a_folder_inside_a_file_is_bad_input_naming_the_setting_and_the_file(tmp_path, name):
    (tmp_path / "file").write_text("not a folder")
    folders = {"target_dir": str(tmp_path / "t"), "registry_dir": str(tmp_path / "m"), name: str(tmp_path / "file" / "x")}
    with pytest.raises(AppError) as raised:
        check_folders(default_settings(**folders))
    assert raised.value.exit_code == BAD_INPUT
    assert str(raised.value) == (f"setting {name}={str(tmp_path / 'file' / 'x')!r} lies inside the file "
                                 f"{str(tmp_path / 'file')!r}")


def test_a_deploy_app_folder_that_is_a_file_is_bad_input_unless_the_registry_is_in_carol(tmp_path):
    settings = default_settings(target_dir=str(tmp_path / "t"), registry_dir=str(tmp_path / "m"))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / settings.deploy_app).write_text("not a folder")
    with pytest.raises(AppError) as raised:
        check_folders(settings)
    assert raised.value.exit_code == BAD_INPUT
    assert str(raised.value) == (f"the registry folder {str(tmp_path / 'm' / settings.deploy_app)!r} of "
                                 f"deploy_app={settings.deploy_app!r} is a file, not a folder")
    check_folders(settings, local_registry=False)  # in Carol mode the registry is the deploy app's storage


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes any folder; the container test runs it as uid 10001")
@pytest.mark.parametrize("name", ["target_dir", "registry_dir"])
def test_a_folder_this_user_cannot_write_is_bad_input_naming_it(tmp_path, name):
    folders = {"target_dir": str(tmp_path / "t"), "registry_dir": str(tmp_path / "m")}
    Path(folders[name]).mkdir(mode=0o555)
    with pytest.raises(AppError) as raised:
        check_writable(default_settings(**folders))
    assert raised.value.exit_code == BAD_INPUT
    assert str(raised.value).startswith(f"setting {name}={folders[name]!r} cannot be written by this user")
