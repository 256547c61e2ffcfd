"""carolbatch/pyproject.toml builds a wheel holding every module of the platform package, and only those."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import carolbatch
from tests.conftest import PROJECT_DIR

# In a copy of the folder, so the build's own files (build/, *.egg-info) stay out of the project, by pip as
# the pyproject says (`pip wheel --no-deps ./carolbatch`; its build environment comes from the package index).
# SETUPTOOLS_USE_DISTUTILS=stdlib: on machines where something imports the stdlib's distutils first (some
# site hooks do), setuptools' distutils hack otherwise stops the build with an AssertionError.


def test_the_platform_builds_a_wheel_with_every_module(tmp_path):
    source = tmp_path / "carolbatch"
    shutil.copytree(PROJECT_DIR / "carolbatch", source, ignore=shutil.ignore_patterns("__pycache__"))
    environment = {**os.environ, "SETUPTOOLS_USE_DISTUTILS": "stdlib"}
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(source), "-w", str(tmp_path / "dist")]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]

    (wheel,) = (tmp_path / "dist").iterdir()
    version = carolbatch.__version__  # pyproject.toml reads it from carolbatch/__init__.py
    assert wheel.name == f"carolbatch-{version}-py3-none-any.whl"
    modules = {name for name in zipfile.ZipFile(wheel).namelist() if not name.startswith(f"carolbatch-{version}.dist-info/")}
    expected = {f"carolbatch/{path.relative_to(PROJECT_DIR / 'carolbatch').as_posix()}"
                for path in (PROJECT_DIR / "carolbatch").rglob("*.py") if "__pycache__" not in path.parts}
    assert modules == expected
