"""carolbatch: the platform a Carol batch app is built on. An app hands it an `AppDefinition` (its pipeline and
settings declaration); carolbatch imports nothing from the app.

Public surface: what an app may import, listed in `PUBLIC_MODULES` (tests/test_public_surface.py checks app/,
run.py and online/ against it): `AppDefinition`, `Pipeline` here; the settings declaration and its kinds; the
task bases and what their tasks return; the model contract and its building blocks; the registry's loader; the
entry points `carolbatch.cli.main` and `carolbatch.online.server.main`. Anything else may change between
versions without a word in CHANGELOG.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from carolbatch.definition import AppDefinition, Pipeline

__version__ = "0.3.0"  # the one place it is written: carolbatch/pyproject.toml reads it; CHANGELOG.md says what changed

# The modules an app may import from (and their public names: no leading underscore). A change to one of
# them that an app must follow is a breaking change in CHANGELOG.md.
PUBLIC_MODULES = (
    "carolbatch",
    "carolbatch.base_tasks",
    "carolbatch.cli",
    "carolbatch.deployment",
    "carolbatch.evaluation",
    "carolbatch.online.server",
    "carolbatch.records.sources",
    "carolbatch.registry",
    "carolbatch.settings",
    "carolbatch.settings.kinds",
    "carolbatch.storage.stores",
    "carolbatch.tasks",
    "carolbatch.training.contract",
    "carolbatch.training.epochs",
    "carolbatch.training.fitting",
    "carolbatch.training.partial_fit",
    "carolbatch.training.preprocessing",
    "carolbatch.training.target_scaling",
)

__all__ = ["AppDefinition", "PUBLIC_MODULES", "Pipeline", "__version__"]


def __getattr__(name: str):
    """`AppDefinition` and `Pipeline`, imported when first asked for: `run.py --help` and `--version` import
    this package without the settings declaration (and numpy) behind them."""
    if name in ("AppDefinition", "Pipeline"):
        from carolbatch import definition

        return getattr(definition, name)
    raise AttributeError(f"module 'carolbatch' has no attribute {name!r}")
