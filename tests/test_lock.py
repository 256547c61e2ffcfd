"""requirements.lock: every package requirements*.txt install, pinned, and made from today's requirements."""

from __future__ import annotations

import re
from importlib import metadata

from packaging.requirements import Requirement

from tests.conftest import PROJECT_DIR
from tools.lock import LOCK_FILE, REQUIREMENTS, locked_digest, normalize, read_pins, requirements_digest


def lock_text() -> str:
    return (PROJECT_DIR / LOCK_FILE).read_text()


def direct_requirements() -> list[Requirement]:
    lines = (line.split("#")[0].strip() for name in REQUIREMENTS for line in (PROJECT_DIR / name).read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def test_the_lock_was_made_from_todays_requirements_files():
    assert locked_digest(lock_text()) == requirements_digest(PROJECT_DIR), (
        "requirements*.txt changed since requirements.lock was made: run `make lock`")


def test_the_lock_changes_with_any_requirements_file(tmp_path):
    for name in REQUIREMENTS:
        (tmp_path / name).write_text((PROJECT_DIR / name).read_text())
    before = requirements_digest(tmp_path)
    (tmp_path / REQUIREMENTS[0]).write_text((PROJECT_DIR / REQUIREMENTS[0]).read_text() + "rich==14.0.0\n")
    assert requirements_digest(tmp_path) != before


def test_every_direct_requirement_is_locked_at_its_own_pin():
    pins = read_pins(lock_text())
    for requirement in direct_requirements():
        (specifier,) = requirement.specifier
        assert pins.get(normalize(requirement.name)) == specifier.version, requirement


def test_the_lock_is_exactly_the_installed_closure_of_the_requirements():
    """Resolved again offline from the installed packages: what the requirements pull in, transitively,
    is locked at the installed version, and nothing else is (pip aside, which the Dockerfile installs first)."""
    pins = read_pins(lock_text())
    closure, pending = {}, [(normalize(r.name), frozenset(r.extras)) for r in direct_requirements()]
    while pending:
        name, extras = pending.pop()
        if name in closure and extras <= closure[name]:
            continue
        closure[name] = closure.get(name, frozenset()) | extras
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            environments = [{"extra": extra} for extra in closure[name]] or [{"extra": ""}]
            if requirement.marker is None or any(requirement.marker.evaluate(env) for env in environments):
                pending.append((normalize(requirement.name), frozenset(requirement.extras)))
    installed = {name: metadata.version(name) for name in closure}
    assert pins == {"pip": metadata.version("pip"), **installed}


def test_lock_lines_are_exact_pins_sorted_by_name():
    lines = [line for line in lock_text().splitlines() if not line.startswith("#")]
    assert all(re.fullmatch(r"[a-z0-9-]+==[\w.+!]+", line) for line in lines), lines
    assert lines == sorted(lines, key=lambda line: line.split("==")[0])
