"""The Carol manifest, the Docker build context and the pinned requirements."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

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
    (build,) = manifest["docker"]
    assert (PROJECT_DIR / build["gitDockerfileName"]).is_file()


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
