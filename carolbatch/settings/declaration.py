"""Declaring settings: one `Setting` per name, and the frozen `Settings` class a declaration builds.

The platform declares its own settings (carolbatch/settings/platform.py); an app adds its own and supplies
the defaults only it can know (its columns, its data file). `declare_settings` combines both into the one
`SettingsDeclaration` that parsing, the settings layers, Luigi parameters and the README table read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from carolbatch.settings.kinds import Kind


class _NoDefault:
    """The default of a setting only the app can know: without one from the app, a settings file must set it."""

    def __repr__(self) -> str:
        return "NO_DEFAULT"

    def __reduce__(self) -> str:
        return "NO_DEFAULT"  # unpickled as this module's one instance


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class Setting:
    """One setting. `optional` settings may be left empty (None); `significant=False` ones never change a
    result, so they are not part of any task's identity."""

    name: str
    kind: Kind
    default: Any
    meaning: str
    optional: bool = False
    significant: bool = True


class SettingsError(ValueError):
    """A setting is unknown, missing or has a value outside what is allowed."""


class Settings:
    """Everything that shapes a run: the base of each declaration's frozen dataclass (`settings_class`)."""

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-friendly values (lists for tuples)."""
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in dataclasses.asdict(self).items()}

    def __reduce__(self):
        # The class is built at run time, so pickle finds it again through its declaration.
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        return _restore_settings, (self.declared, fields)


@dataclass(frozen=True)
class SettingsDeclaration:
    """Every setting of an app, in order, and the frozen dataclass its values are held in."""

    settings: tuple[Setting, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(setting.name for setting in self.settings)

    def __contains__(self, name: object) -> bool:
        return any(setting.name == name for setting in self.settings)

    def __getitem__(self, name: str) -> Setting:
        for setting in self.settings:
            if setting.name == name:
                return setting
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        """The declared default of every setting that has one, the lowest settings layer."""
        return {setting.name: setting.default for setting in self.settings if setting.default is not NO_DEFAULT}

    @property
    def settings_class(self) -> type[Settings]:
        return _settings_class(self.settings)


def declare_settings(*groups: Iterable[Setting], defaults: Mapping[str, Any] | None = None) -> SettingsDeclaration:
    """The settings of `groups` (the platform's, then the app's) with the app's `defaults` filled in.

    Raises:
        ValueError: a name is declared twice, or a default names no declared setting.
    """
    settings = [setting for group in groups for setting in group]
    names = [setting.name for setting in settings]
    twice = sorted({name for name in names if names.count(name) > 1})
    unknown = sorted(set(defaults or {}) - set(names))
    if twice or unknown:
        raise ValueError(f"settings declared twice: {twice}; defaults of undeclared settings: {unknown}")
    given = dict(defaults or {})
    return SettingsDeclaration(tuple(
        dataclasses.replace(setting, default=given[setting.name]) if setting.name in given else setting
        for setting in settings))


@cache
def _settings_class(settings: tuple[Setting, ...]) -> type[Settings]:
    """One frozen dataclass per declaration (built once, so its instances compare and pickle alike)."""
    fields = [(setting.name, setting.kind.python_type | None if setting.optional else setting.kind.python_type)
              for setting in settings]
    return dataclasses.make_dataclass(
        "Settings", fields, bases=(Settings,), frozen=True,
        namespace={"__doc__": Settings.__doc__, "__module__": __name__, "declared": settings})


def _restore_settings(settings: tuple[Setting, ...], fields: dict[str, Any]) -> Settings:
    return _settings_class(settings)(**fields)
