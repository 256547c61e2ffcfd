"""The code layout's rules, checked on the source: module and function sizes, and which room imports which.

Two rooms: app/ (the user's: app/flow holds commons.py and one task per module; app/functions plain logic,
never importing luigi, app.flow or carolbatch.control; app/pipeline.py the app handed to the platform) and
carolbatch/ (the platform), which imports nothing from app/ and names none of its tasks. carolbatch/control is
run control, imported only by the platform's entry points (carolbatch/cli.py, carolbatch/online/server.py)
and tests. Nothing imports run.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 30
# Python files outside carolbatch/control that may import it: the platform's entry points.
CONTROL_CALLERS = ("carolbatch/cli.py", "carolbatch/online/server.py")
SEARCHED = ("app", "bench", "carolbatch", "online", "sandbox", "tests", "tools")
# pycarol's reference layout; a task the user adds is one more module beside these.
REFERENCE_FLOW = {"__init__.py", "commons.py", "ingestion.py", "train_model.py", "evaluate_model.py", "deploy_model.py"}


def python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (PROJECT_DIR / folder).rglob("*.py")
                  if ".venv" not in path.parts)


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def imports_any(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(name for name in imported_modules(path)
                  if any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes))


def relative(path: Path) -> str:
    return path.relative_to(PROJECT_DIR).as_posix()


def test_modules_are_at_most_400_lines():
    long = {relative(path): lines for path in [*python_files("app", "carolbatch"), PROJECT_DIR / "run.py"]
            if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by what they do): {long}"


def function_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from `def` (or its first decorator) to the end, not counting the docstring."""
    first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    lines = node.end_lineno - first + 1
    if ast.get_docstring(node) is not None:
        docstring = node.body[0]
        lines -= docstring.end_lineno - docstring.lineno + 1
    return lines


def test_functions_are_at_most_30_lines_besides_their_docstring():
    long = {}
    for path in [*python_files("app", "carolbatch"), PROJECT_DIR / "run.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and function_lines(node) > MAX_FUNCTION_LINES:
                long[f"{relative(path)}:{node.name}"] = function_lines(node)
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (docstring aside): {long}"


def test_functions_import_neither_luigi_nor_the_flow_nor_run_control():
    offenders = {relative(path): found for path in python_files("app/functions")
                 if (found := imports_any(path, ("luigi", "pycarol.pipeline", "app.flow", "carolbatch.control")))}
    assert not offenders, f"app/functions must stay plain: {offenders}"


def test_flow_does_not_import_run_control():
    offenders = {relative(path): found for path in python_files("app/flow")
                 if (found := imports_any(path, ("carolbatch.control",)))}
    assert not offenders, offenders


def test_only_the_platform_entry_points_import_run_control():
    offenders = {relative(path): found for path in python_files(*SEARCHED)
                 if not relative(path).startswith(("carolbatch/control/", "tests/", *CONTROL_CALLERS))
                 and (found := imports_any(path, ("carolbatch.control",)))}
    assert not offenders, f"carolbatch.control is imported only by carolbatch's entry points: {offenders}"


def test_the_platform_imports_nothing_from_the_app():
    offenders = {relative(path): found for path in python_files("carolbatch") if (found := imports_any(path, ("app",)))}
    assert not offenders, f"carolbatch must not import app/: {offenders}"


def test_the_platform_names_no_task_of_the_app():
    from app.pipeline import PIPELINE

    offenders = {relative(path): sorted(name for name in PIPELINE.families if re.search(rf"\b{name}\b", text))
                 for path in python_files("carolbatch") if (text := path.read_text())}
    offenders = {path: names for path, names in offenders.items() if names}
    assert not offenders, f"carolbatch reads the app's pipeline declaration, it names none of its tasks: {offenders}"


def test_nothing_imports_run_py():
    offenders = [relative(path) for path in python_files(*SEARCHED) if imports_any(path, ("run",))]
    assert not offenders, f"run.py is the entry point, never a library: {offenders}"


def test_flow_holds_commons_and_one_task_per_module():
    from carolbatch.tasks import AppTask

    assert REFERENCE_FLOW <= {path.name for path in (PROJECT_DIR / "app" / "flow").glob("*.py")}
    for path in python_files("app/flow"):
        if path.name in ("__init__.py", "commons.py"):
            continue
        tree = ast.parse(path.read_text())
        classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
        functions = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
        assert len(classes) == 1 and not functions, f"{relative(path)}: one task class, nothing else"
        module = __import__(f"app.flow.{path.stem}", fromlist=[classes[0]])
        assert issubclass(getattr(module, classes[0]), AppTask), relative(path)


@pytest.mark.parametrize("room", ["app/flow", "app/functions", "carolbatch", "carolbatch/control", "carolbatch/storage"])
def test_each_room_is_a_package(room):
    assert (PROJECT_DIR / room / "__init__.py").is_file()


REGISTRY = PROJECT_DIR / "carolbatch" / "registry"
# The registry's modules in order: each imports only registry modules before it (see its __init__).
REGISTRY_ORDER = ("names", "checksums", "history", "versions", "retention")


def test_the_registry_is_one_subpackage_of_modules_up_to_400_lines_and_functions_up_to_30():
    modules = sorted(path.stem for path in REGISTRY.glob("*.py") if path.name != "__init__.py")
    assert modules == sorted(REGISTRY_ORDER), f"add a new registry module to REGISTRY_ORDER: {modules}"
    long = {relative(path): len(path.read_text().splitlines()) for path in REGISTRY.glob("*.py")
            if len(path.read_text().splitlines()) > 400}
    long.update({f"{relative(path)}:{node.name}": function_lines(node) for path in REGISTRY.glob("*.py")
                 for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and function_lines(node) > 30})
    assert not long, long


def test_registry_modules_import_only_those_before_them():
    for position, name in enumerate(REGISTRY_ORDER):
        found = imports_any(REGISTRY / f"{name}.py", ("carolbatch.registry",))
        later = [module for module in found if module.split(".")[2] not in REGISTRY_ORDER[:position]]
        assert not later, f"carolbatch/registry/{name}.py imports {later}: not one of {REGISTRY_ORDER[:position]}"


def test_outside_the_registry_code_imports_its_public_surface_only():
    outside = [path for path in python_files("app", "bench", "online", "tests", "tools")
               if not path.name.startswith("test_registry")]
    outside += [path for path in (PROJECT_DIR / "carolbatch").rglob("*.py") if REGISTRY not in path.parents]
    outside.append(PROJECT_DIR / "run.py")
    offenders = {relative(path): found for path in outside
                 if (found := [name for name in imports_any(path, ("carolbatch.registry",))
                               if name.split(".")[2:3] and name.split(".")[2] in REGISTRY_ORDER])}
    assert not offenders, f"import from carolbatch.registry, not its modules: {offenders}"


# The tests in two rooms, like the code: tests/platform tests carolbatch on synthetic data (tests/conftest.py is
# shared by both rooms), tests/app tests this app from its own declaration and settings, and tests/app/sample the
# bundled example on its sample. A user changing the model, the columns or the number of tasks changes tests/app
# only.
PLATFORM_TESTS = ("tests/platform", "tests/conftest.py")
# What ties a test to the bundled sample: its data file and its deploy app (tests/app/sample alone names them).
SAMPLE_TIES = ("SAMPLE_DATA", "sample_fingerprint", "sample_columns_query", "sample_query_stream", "bostonhouse")


def test_app_tests_outside_the_sample_folder_name_neither_its_data_nor_its_deploy_app():
    sample = PROJECT_DIR / "tests" / "app" / "sample"
    offenders = {relative(path): ties for path in python_files("tests/app") if sample not in path.parents
                 and (ties := [tie for tie in SAMPLE_TIES if tie in path.read_text()])}
    assert not offenders, f"tests tied to the bundled sample belong in tests/app/sample: {offenders}"


def platform_test_files() -> list[Path]:
    return sorted(path for name in PLATFORM_TESTS for path in
                  ([PROJECT_DIR / name] if name.endswith(".py") else (PROJECT_DIR / name).rglob("*.py")))


def sample_columns() -> set[str]:
    from app.functions.settings import APP_DEFAULTS

    return {*APP_DEFAULTS["feature_columns"], APP_DEFAULTS["target_column"], APP_DEFAULTS["id_column"]}


def named_columns(path: Path, columns: set[str]) -> set[str]:
    """The columns a string in `path` is, or names as a word (names like `LSTAT`; `target` is a word of prose)."""
    strings = [node.value for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    words = {column for column in columns if len(column) > 1 and column != column.lower()}
    return {column for column in columns for text in strings
            if text == column or (column in words and re.search(rf"\b{re.escape(column)}\b", text))}


def test_platform_tests_import_nothing_from_the_app():
    offenders = {relative(path): found for path in platform_test_files() if (found := imports_any(path, ("app",)))}
    assert not offenders, f"tests/platform tests carolbatch on synthetic data, without app/: {offenders}"


def test_platform_tests_name_no_column_of_the_sample():
    columns = sample_columns()
    assert {"target", "sample"} <= columns  # the check reads the app's defaults, not a list of its own
    offenders = {relative(path): sorted(found) for path in platform_test_files()
                 if (found := named_columns(path, columns))}
    assert not offenders, f"tests/platform has its own columns (tiny_frame's a, b, c, y): {offenders}"
