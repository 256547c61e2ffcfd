"""`python -m tools.manifest`: manifest.json's Docker build pointed at the repository Carol builds from."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from pycarol.app.manifest_validator import ManifestValidator

from tests.conftest import PROJECT_DIR
from tools.manifest import https_url, main


@pytest.mark.parametrize(("remote", "url"), [
    ("git@github.com:acme/boston-batch.git", "https://github.com/acme/boston-batch"),
    ("ssh://git@github.com/acme/boston-batch.git", "https://github.com/acme/boston-batch"),
    ("https://github.com/acme/boston-batch.git", "https://github.com/acme/boston-batch"),
    ("https://token@github.com/acme/boston-batch", "https://github.com/acme/boston-batch"),
])
def test_git_remotes_become_https_addresses(remote, url):
    assert https_url(remote) == url


def test_a_remote_that_is_no_repository_is_refused():
    with pytest.raises(ValueError, match="not the address of a Git repository"):
        https_url("/srv/git/boston")


def git(folder, *args):
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def test_the_manifest_gets_the_clones_origin_and_branch_and_stays_valid(tmp_path):
    shutil.copy(PROJECT_DIR / "manifest.json", tmp_path / "manifest.json")
    git(tmp_path, "init", "-q", "-b", "release")
    git(tmp_path, "remote", "add", "origin", "git@github.com:acme/boston-batch.git")

    assert main(["--project", str(tmp_path)]) == 0

    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert len(manifest["docker"]) == 1  # one image; each process chooses its command at start
    for build in manifest["docker"]:
        assert (build["gitRepoUrl"], build["gitBranch"]) == ("https://github.com/acme/boston-batch", "release")
    assert ManifestValidator(manifest).run() == ""


def test_without_an_origin_the_manifest_is_left_alone(tmp_path, capsys):
    shutil.copy(PROJECT_DIR / "manifest.json", tmp_path / "manifest.json")
    git(tmp_path, "init", "-q")
    before = (tmp_path / "manifest.json").read_bytes()
    assert main(["--project", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: git remote get-url origin failed")
    assert (tmp_path / "manifest.json").read_bytes() == before
