"""The app's settings: one typed, validated, frozen object built from layered sources."""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "APP_"


class SettingsError(ValueError):
    """A setting is unknown, missing or has a value outside what is allowed."""


@dataclass(frozen=True)
class Settings:
    """Everything that shapes a run. Built only by `build_settings`."""

    input_connector: str
    input_staging: str
    data_path: str
    feature_columns: tuple[str, ...]
    target_column: str
    id_column: str
    test_size: float
    random_state: int
    model_hidden_layers: tuple[int, ...]
    model_l2regularization: float
    model_epochs: int
    model_batch_size: str
    validation_size: float
    n_iter_no_change: int
    tol: float
    max_test_rmse: float | None
    min_test_r2: float | None
    champion_tolerance: float
    min_improvement_over_baseline: float
    deploy_app: str
    target_dir: str
    registry_dir: str
    float32: bool
    max_in_memory_rows: int
    model_poll_seconds: float
    max_request_records: int

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-friendly values (lists for tuples)."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in dataclasses.asdict(self).items()
        }


def _text(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("a non-empty text")
    return text


def _names(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    names = tuple(str(item).strip() for item in items)
    if not names or any(not name for name in names) or len(set(names)) != len(names):
        raise ValueError("a comma-separated list of distinct, non-empty column names")
    return names


def _layer_sizes(value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    try:
        sizes = tuple(_integer(1)(item) for item in items)
    except ValueError:
        sizes = ()
    if not sizes:
        raise ValueError("a comma-separated list of layer sizes, each a whole number >= 1 (e.g. 128,64)")
    return sizes


def _batch_size(value: Any) -> str:
    if str(value).strip().lower() == "auto":
        return "auto"
    try:
        return str(_integer(1)(value))
    except ValueError:
        raise ValueError("auto or a whole number >= 1") from None


def _integer(minimum: int):
    def parse(value: Any) -> int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"a whole number >= {minimum}")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"a whole number >= {minimum}") from None
        if number < minimum:
            raise ValueError(f"a whole number >= {minimum}")
        return number

    return parse


def _real(low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False):
    described = f"a number {'>' if low_open else '>='} {low:g}"
    if high != math.inf:
        described += f" and {'<' if high_open else '<='} {high:g}"

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(described)
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(described) from None
        too_low = number <= low if low_open else number < low
        too_high = number >= high if high_open else number > high
        if not math.isfinite(number) or too_low or too_high:
            raise ValueError(described)
        return number

    return parse


def _plain_name(value: Any) -> str:
    text = str(value).strip()
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", text) or ".." in text:
        raise ValueError("a plain name: letters, digits, '.', '_', '-', no '/' and no '..'")
    return text


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError("true or false")
    return text in ("true", "1", "yes")


def _optional(parse):
    def parse_optional(value: Any):
        if value is None or str(value).strip().lower() in ("", "none", "null"):
            return None
        return parse(value)

    return parse_optional


_PARSERS = {
    "input_connector": _text,
    "input_staging": _text,
    "data_path": _text,
    "feature_columns": _names,
    "target_column": _text,
    "id_column": _text,
    "test_size": _real(0.0, 1.0, low_open=True, high_open=True),
    "random_state": _integer(0),
    "model_hidden_layers": _layer_sizes,
    "model_l2regularization": _real(0.0),
    "model_epochs": _integer(1),
    "model_batch_size": _batch_size,
    "validation_size": _real(0.0, 1.0, low_open=True, high_open=True),
    "n_iter_no_change": _integer(1),
    "tol": _real(0.0),
    "max_test_rmse": _optional(_real(0.0, low_open=True)),
    "min_test_r2": _optional(_real(-math.inf, 1.0)),
    "champion_tolerance": _real(0.0),
    "min_improvement_over_baseline": _real(0.0),
    "deploy_app": _plain_name,
    "target_dir": _text,
    "registry_dir": _text,
    "float32": _boolean,
    "max_in_memory_rows": _integer(1),
    "model_poll_seconds": _real(0.0, low_open=True),
    "max_request_records": _integer(1),
}
SETTING_NAMES = tuple(field.name for field in dataclasses.fields(Settings))
assert set(_PARSERS) == set(SETTING_NAMES)


def read_settings_file(path: Path) -> dict[str, Any]:
    """Read the committed defaults (a TOML table of setting names to values).

    Raises:
        SettingsError: the file is missing or is not valid TOML.
    """
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} not found") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"settings file {path} is not valid TOML: {error}") from None


def settings_from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Pick `APP_<NAME>` variables, keyed by lower-case setting name."""
    return {
        key[len(ENV_PREFIX):].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key != ENV_PREFIX
    }


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


def build_settings(layers: Sequence[tuple[str, Mapping[str, Any]]]) -> Settings:
    """Merge setting layers (lowest precedence first) and validate every value.

    Args:
        layers: `(source name, {setting name: value})` pairs; the source name is quoted in errors.

    Returns:
        The validated settings.

    Raises:
        SettingsError: a name is unknown, a value is invalid, or a setting has no value.
    """
    merged: dict[str, tuple[str, Any]] = {}
    for source, values in layers:
        for name, value in values.items():
            if name not in _PARSERS:
                raise SettingsError(
                    f"unknown setting {name!r} (from {source}); known settings: {', '.join(SETTING_NAMES)}"
                )
            merged[name] = (source, value)
    missing = [name for name in SETTING_NAMES if name not in merged]
    if missing:
        raise SettingsError(f"settings without a value: {', '.join(missing)}")
    parsed = {}
    for name, (source, value) in merged.items():
        try:
            parsed[name] = _PARSERS[name](value)
        except ValueError as allowed:
            raise SettingsError(f"setting {name}={value!r} (from {source}) is invalid: expected {allowed}") from None
    settings = Settings(**parsed)
    if settings.target_column in settings.feature_columns or settings.id_column in settings.feature_columns:
        raise SettingsError(
            f"feature_columns must not contain target_column {settings.target_column!r} "
            f"or id_column {settings.id_column!r}"
        )
    return settings
