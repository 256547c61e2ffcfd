"""Building the one settings object from its layers: declared defaults, settings.toml, Carol app settings,
`APP_<NAME>` environment variables and `--set`, each later layer overriding the earlier ones."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carolbatch.settings.kinds import is_unset
from carolbatch.settings.declaration import Settings, SettingsDeclaration, SettingsError

ENV_PREFIX = "APP_"
# pycarol's own switch for Carol-stored targets, read as the `cloud_target` setting.
PYCAROL_CLOUD_TARGET = "CLOUD_TARGET"

Layer = tuple[str, Mapping[str, Any]]


def read_settings_file(path: Path) -> dict[str, Any]:
    """Read the project's settings file (a TOML table of setting names to values).

    Raises:
        SettingsError: the file is missing, cannot be read (a directory, no permission), is not UTF-8 text
            or is not valid TOML.
    """
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} not found") from None
    except IsADirectoryError:
        raise SettingsError(f"settings file {path} is a directory, not a file") from None
    except OSError as error:
        raise SettingsError(f"settings file {path} cannot be read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"settings file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"settings file {path} is not valid TOML: {error}") from None


def settings_from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Pick `APP_<NAME>` variables, keyed by lower-case setting name (and pycarol's `CLOUD_TARGET`)."""
    values = {
        key[len(ENV_PREFIX):].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key != ENV_PREFIX
    }
    if PYCAROL_CLOUD_TARGET in environ:
        values.setdefault("cloud_target", environ[PYCAROL_CLOUD_TARGET])
    return values


def parse_assignments(assignments: Sequence[str]) -> dict[str, str]:
    """Turn `NAME=VALUE` strings (from `--set`) into a mapping.

    Raises:
        SettingsError: an assignment has no `=` or no name.
    """
    values = {}
    for assignment in assignments:
        name, separator, value = assignment.partition("=")
        if not separator or not name.strip():
            raise SettingsError(f"--set {assignment!r} is not NAME=VALUE")
        values[name.strip()] = value
    return values


def without_unset(values: Mapping[str, Any]) -> dict[str, Any]:
    """Carol sends None (or empty text) for a setting declared in the UI and left empty: not set."""
    return {name: value for name, value in values.items() if not (value is None or str(value).strip() == "")}


def split_unknown(declaration: SettingsDeclaration, values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The values of known settings, and the names the app does not know (sorted).

    Used for sources the app does not own (Carol app settings hold other processes' settings; a
    container's environment holds other programs' `APP_*` variables): their unknown names are a warning.
    """
    known = {name: value for name, value in values.items() if name in declaration}
    return known, sorted(set(values) - set(known))


@dataclass(frozen=True)
class ResolvedSettings:
    """The validated settings and, for each, the layer its value came from."""

    settings: Settings
    sources: dict[str, str]


def resolve_settings(declaration: SettingsDeclaration, layers: Sequence[Layer]) -> ResolvedSettings:
    """Merge setting layers (lowest precedence first) and validate every value.

    Args:
        layers: `(source name, {setting name: value})` pairs; the source name is quoted in errors.

    Raises:
        SettingsError: a name is unknown, a value is invalid, or a setting has no value.
    """
    merged = _merge(declaration, layers)
    missing = [name for name in declaration.names if name not in merged]
    if missing:
        raise SettingsError(f"settings without a value: {', '.join(missing)}")
    parsed = {name: _parse(declaration, name, value, source) for name, (source, value) in merged.items()}
    settings = declaration.settings_class(**{name: parsed[name] for name in declaration.names})
    _check_columns(settings)
    return ResolvedSettings(settings=settings, sources={name: merged[name][0] for name in declaration.names})


def build_settings(declaration: SettingsDeclaration, layers: Sequence[Layer]) -> Settings:
    """The validated settings of `layers` (see `resolve_settings`)."""
    return resolve_settings(declaration, layers).settings


def _merge(declaration: SettingsDeclaration, layers: Sequence[Layer]) -> dict[str, tuple[str, Any]]:
    merged: dict[str, tuple[str, Any]] = {}
    for source, values in layers:
        for name, value in values.items():
            if name not in declaration:
                raise SettingsError(
                    f"unknown setting {name!r} (from {source}); known settings: {', '.join(declaration.names)}"
                )
            merged[name] = (source, value)
    return merged


def _parse(declaration: SettingsDeclaration, name: str, value: Any, source: str) -> Any:
    setting = declaration[name]
    if setting.optional and is_unset(value):
        return None
    try:
        return setting.kind.parse(value)
    except ValueError as allowed:
        raise SettingsError(f"setting {name}={value!r} (from {source}) is invalid: expected {allowed}") from None
    except Exception:  # an app's own kind that fails otherwise still names what it allows
        raise SettingsError(f"setting {name}={value!r} (from {source}) is invalid: expected "
                            f"{getattr(setting.kind, 'allowed', type(setting.kind).__name__)}") from None


def _check_columns(settings: Settings) -> None:
    not_features = [name for name in settings.categorical_columns if name not in settings.feature_columns]
    if not_features:
        raise SettingsError(f"categorical_columns must be among feature_columns: {', '.join(not_features)} is not")
    if settings.target_column in settings.feature_columns or settings.id_column in settings.feature_columns:
        raise SettingsError(
            f"feature_columns must not contain target_column {settings.target_column!r} "
            f"or id_column {settings.id_column!r}"
        )
    if settings.target_column == settings.id_column:
        raise SettingsError(f"target_column and id_column must name different columns (both {settings.id_column!r})")


def gather_layers(declaration: SettingsDeclaration, settings_file: Layer, carol_values: Mapping[str, Any],
                  environment: Mapping[str, Any], assignments: Mapping[str, Any]) -> tuple[list[Layer], list[str]]:
    """Every layer, lowest precedence first, and the names ignored from the sources the app does not own.

    Carol app settings and the environment are lenient (None/empty Carol values are not set; unknown
    names are returned to be warned about); `settings_file` and `assignments` stay strict.
    """
    carol_known, carol_unknown = split_unknown(declaration, without_unset(carol_values))
    environment_known, environment_unknown = split_unknown(declaration, environment)
    ignored = [f"{name} (Carol app settings)" for name in carol_unknown] + [
        f"{ENV_PREFIX}{name.upper()} (environment)" for name in environment_unknown]
    layers = [("default", declaration.defaults()), settings_file, ("Carol app settings", carol_known),
              ("environment", environment_known), ("--set", assignments)]
    return layers, ignored


def format_settings_sources(resolved: ResolvedSettings) -> list[str]:
    """One line per setting: name, effective value, and the layer it came from (`run.py --settings`)."""
    shown = {name: json.dumps(value) for name, value in resolved.settings.as_dict().items()}
    name_width, value_width = max(map(len, shown)), max(map(len, shown.values()))
    return [f"{name:<{name_width}}  {value:<{value_width}}  {resolved.sources[name]}" for name, value in shown.items()]
