"""A recipe is applied to a copy of the project; what it changed is compared with the project itself."""

from __future__ import annotations

import filecmp
from pathlib import Path

from tests.conftest import LEFT_OUT, PROJECT_DIR, copy_project

__all__ = ["copy_project", "files_changed", "outside_the_users_room"]

# A template user edits app/ and their settings file; nothing else may need a change.
USER_FILES = ("app/", "settings.toml")


def files_changed(copy: Path) -> list[str]:
    """Paths (relative, POSIX) added, removed or changed in `copy` against the project itself."""
    changed = []

    def walk(comparison: filecmp.dircmp, prefix: str) -> None:
        changed.extend(prefix + name for name in [*comparison.left_only, *comparison.right_only,
                                                   *comparison.diff_files, *comparison.funny_files])
        for name, sub in comparison.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(PROJECT_DIR, copy, ignore=[*LEFT_OUT, "__init__.pyc"]), "")
    return sorted(path for path in changed if not Path(path).match("*.egg-info"))


def outside_the_users_room(paths: list[str], generated: tuple[str, ...] = ()) -> list[str]:
    """The changed paths a template user should not have had to touch."""
    return [path for path in paths if not path.startswith(USER_FILES) and path not in generated]
