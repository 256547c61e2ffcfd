"""Check that the app's own tests follow its settings: `python -m tools.check_copy [PYTEST_ARGS...]`.

Builds a copy of the project (as tests/conftest.py's `copy_project` does) whose settings.toml names
scikit-learn's bundled diabetes table, written to the copy's data/ with an id column (its own columns, id and
`deploy_app`), and without tests/app/sample/ (the tests of the bundled sample, which a copier deletes). It runs
the copy's pipeline once, then pytest in the copy on the test paths given, with the options given (default
paths: `REPRESENTATIVE`, a subset that runs in a few minutes; `tests` runs every test outside tests/app/sample,
for 15+ minutes). Exit code:
pytest's, or 1 when the run fails.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
# The tests of the app that read its declaration and settings, across each room: the tasks, the functions,
# run control and the command line's endings.
REPRESENTATIVE = ("tests/app/flow", "tests/app/functions", "tests/app/control",
                  "tests/app/test_run.py", "tests/app/test_endings.py", "tests/test_public_surface.py")
SETTINGS = """# A copy of the app on scikit-learn's diabetes table (tools/check_copy.py).
data_path = "data/diabetes.csv"
feature_columns = [{features}]
target_column = "progression"
id_column = "patient"
deploy_app = "diabetes"
"""


def write_diabetes(project: Path) -> None:
    """data/diabetes.csv (442 patients, 10 measurements, `progression`) and the settings.toml naming it."""
    import pandas as pd
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True)
    frame = pd.concat([pd.Series(range(1, len(data.data) + 1), name="patient"), data.data,
                       data.target.rename("progression")], axis=1)
    frame.to_csv(project / "data" / "diabetes.csv", index=False)
    features = ", ".join(f'"{name}"' for name in data.data.columns)
    (project / "settings.toml").write_text(SETTINGS.format(features=features))


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(PROJECT_DIR))
    from tests.conftest import copy_project

    with tempfile.TemporaryDirectory() as folder:
        project = copy_project(Path(folder) / "copy")
        # bench/ without its data: a test of the app imports a benchmark's trials.
        shutil.copytree(PROJECT_DIR / "bench", project / "bench", ignore=shutil.ignore_patterns("data", "__pycache__"))
        shutil.rmtree(project / "tests" / "app" / "sample")
        write_diabetes(project)
        run = subprocess.run([sys.executable, "run.py"], cwd=project, capture_output=True, text=True)
        print(run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:], flush=True)
        if run.returncode != 0:
            print(run.stderr[-2000:], file=sys.stderr)
            return 1
        named = any((project / arg.split("::")[0]).exists() for arg in argv if not arg.startswith("-"))
        tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *argv,
                                *([] if named else REPRESENTATIVE)], cwd=project)
        return tests.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
