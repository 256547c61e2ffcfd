"""The platform's version and public surface: one version written once, `run.py --version` printing the app's and
the platform's, a changelog naming the version, and an app (app/, run.py, online/) importing only the modules
`carolbatch.PUBLIC_MODULES` lists, and no private name of them."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import app
import carolbatch
from tests.conftest import PROJECT_DIR

APP_CODE = ("app", "online")


def app_files() -> list[Path]:
    files = [path for folder in APP_CODE for path in (PROJECT_DIR / folder).rglob("*.py")]
    return sorted([*files, PROJECT_DIR / "run.py"])


def platform_imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) for each `carolbatch` import in `path`, docstrings' code examples aside."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names if alias.name.split(".")[0] == "carolbatch"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "carolbatch":
            found += [(node.module, alias.name) for alias in node.names]
    return found


def outside_the_surface(module: str, name: str | None) -> str | None:
    """Why importing `name` from `module` leaves the public surface, or None."""
    public = set(carolbatch.PUBLIC_MODULES)
    if name is not None and f"{module}.{name}" in public:
        return None  # `from carolbatch import tasks`: a public module itself
    if module not in public:
        return f"{module} is not a public module"
    if name is not None and name.startswith("_"):
        return f"{name} is private"
    return None


def test_the_app_imports_the_platforms_public_surface_only():
    offenders = {f"{path.relative_to(PROJECT_DIR)}: {module} {name or ''}".strip(): reason
                 for path in app_files() for module, name in platform_imports(path)
                 if (reason := outside_the_surface(module, name))}
    assert not offenders, f"the app imports beyond carolbatch.PUBLIC_MODULES: {offenders}"


def test_the_surface_check_catches_a_private_module_and_name():
    assert outside_the_surface("carolbatch.control.runner", "run") == "carolbatch.control.runner is not a public module"
    assert outside_the_surface("carolbatch.settings", "_private") == "_private is private"
    assert outside_the_surface("carolbatch", "tasks") is None


def test_every_public_module_exists():
    import importlib

    for module in carolbatch.PUBLIC_MODULES:
        importlib.import_module(module)


def test_the_version_is_written_once_and_the_changelog_names_it():
    project = tomllib.loads((PROJECT_DIR / "carolbatch" / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    changelog = (PROJECT_DIR / "carolbatch" / "CHANGELOG.md").read_text()
    assert f"## {carolbatch.__version__}:" in changelog and "## Unreleased" in changelog


def test_run_py_version_prints_the_apps_and_the_platforms():
    result = subprocess.run([sys.executable, "run.py", "--version"], cwd=PROJECT_DIR, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"app {app.__version__}, carolbatch {carolbatch.__version__}"
