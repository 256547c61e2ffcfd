"""The kinds of value a setting can hold: how each is parsed from text or a number, and what it allows.

Values come from TOML (typed), from Carol app settings (text, numbers, JSON, or None) and from text
(environment, `--set`), so every parser takes both the typed value and its text.

A kind is any object with the protocol `SettingKind` below: the platform's kinds here, or one an app writes
(`python_type` also chooses the setting's Luigi parameter class: str, int, float, bool or tuple).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@runtime_checkable
class SettingKind(Protocol):
    """What a setting's kind gives: the Python type of its values, what it allows (in words, for messages and the
    README table) and `parse`, which returns the value or raises ValueError (its message: `allowed`)."""

    python_type: ClassVar[type]

    @property
    def allowed(self) -> str: ...

    def parse(self, value: Any) -> Any: ...


@dataclass(frozen=True)
class Text:
    """A non-empty text; if `plain`, a plain name (letters, digits, '.', '_', '-'; no '/' and no '..')."""

    plain: bool = False
    python_type = str

    @property
    def allowed(self) -> str:
        return "a plain name: letters, digits, '.', '_', '-', no '/' and no '..'" if self.plain else "a non-empty text"

    def parse(self, value: Any) -> str:
        text = str(value).strip()
        if not text or (self.plain and (not _PLAIN_NAME.match(text) or ".." in text)):
            raise ValueError(self.allowed)
        return text


@dataclass(frozen=True)
class Names:
    """Distinct, non-empty names: a list, comma-separated text, or a JSON array as text (`allow_empty`: or none)."""

    allow_empty: bool = False
    python_type = tuple

    @property
    def allowed(self) -> str:
        return "a comma-separated list of distinct, non-empty column names"

    def parse(self, value: Any) -> tuple[str, ...]:
        items = _json_list(value) if isinstance(value, str) else value
        if isinstance(items, dict):  # a TOML table or a JSON object
            raise ValueError(f"{self.allowed}, not a table")
        if self.allow_empty and (not items if isinstance(items, (list, tuple)) else not str(items).strip()):
            return ()
        if not isinstance(items, (list, tuple)):
            items = str(value).split(",")
        if any(isinstance(item, (dict, list, tuple, bool)) or item is None for item in items):
            raise ValueError(f"{self.allowed}, each a name, not a table, a list or true/false")
        names = tuple(str(item).strip() for item in items)
        if not names or any(not name for name in names) or len(set(names)) != len(names):
            raise ValueError(self.allowed)
        return names


def _json_list(text: str) -> Any:
    """A JSON array typed as text (`["a", "b"]`, as the Carol UI sends lists), or an object; other text as
    it is."""
    if text.strip().startswith(("[", "{")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


@dataclass(frozen=True)
class Sizes:
    """Whole numbers of at least `minimum` (layer sizes): a list, comma-separated text or a JSON array."""

    minimum: int = 1
    python_type = tuple

    @property
    def allowed(self) -> str:
        return f"a comma-separated list of layer sizes, each a whole number >= {self.minimum} (e.g. 128,64)"

    def parse(self, value: Any) -> tuple[int, ...]:
        items = _json_list(value) if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            items = str(value).split(",")
        try:
            sizes = tuple(Whole(self.minimum).parse(item) for item in items)
        except ValueError:
            sizes = ()
        if not sizes:
            raise ValueError(self.allowed)
        return sizes


@dataclass(frozen=True)
class AutoOrWhole:
    """`auto` or a whole number of at least `minimum`, kept as text ("auto" or the number's digits)."""

    minimum: int = 1
    python_type = str

    @property
    def allowed(self) -> str:
        return f"auto or a whole number >= {self.minimum}"

    def parse(self, value: Any) -> str:
        if str(value).strip().lower() == "auto":
            return "auto"
        try:
            return str(Whole(self.minimum).parse(value))
        except ValueError:
            raise ValueError(self.allowed) from None


@dataclass(frozen=True)
class Whole:
    """A whole number from `minimum` to `maximum`; a float with no fraction counts as whole."""

    minimum: int = 0
    maximum: int | None = None
    python_type = int

    @property
    def allowed(self) -> str:
        if self.maximum is None:
            return f"a whole number >= {self.minimum}"
        return f"a whole number from {self.minimum} to {self.maximum}"

    def parse(self, value: Any) -> int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(self.allowed)
        try:
            number = int(value) if isinstance(value, float) else int(str(value).strip())
        except ValueError:
            raise ValueError(self.allowed) from None
        if number < self.minimum or (self.maximum is not None and number > self.maximum):
            raise ValueError(self.allowed)
        return number


@dataclass(frozen=True)
class Real:
    """A finite number between `low` and `high`, each bound inclusive unless said open."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    python_type = float

    @property
    def allowed(self) -> str:
        bounds = []
        if self.low != -math.inf:
            bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high != math.inf:
            bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " ".join(["a number", " and ".join(bounds)]).strip()

    def parse(self, value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(self.allowed)
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(self.allowed) from None
        too_low = number <= self.low if self.low_open else number < self.low
        too_high = number >= self.high if self.high_open else number > self.high
        if not math.isfinite(number) or too_low or too_high:
            raise ValueError(self.allowed)
        return number


@dataclass(frozen=True)
class Flag:
    """true or false (also 1/0, yes/no, as a boolean, a number or text)."""

    python_type = bool

    @property
    def allowed(self) -> str:
        return "true or false"

    def parse(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(self.allowed)
        return text in ("true", "1", "yes")


@dataclass(frozen=True, init=False)
class Choice:
    """One of a few names (`Choice("rmse", "mae")`), in any letter case; kept as declared."""

    options: tuple[str, ...]
    python_type = str

    def __init__(self, *options: str) -> None:
        if not options or len({option.lower() for option in options}) != len(options):
            raise ValueError("a Choice needs distinct options")
        object.__setattr__(self, "options", tuple(options))

    @property
    def allowed(self) -> str:
        return f"one of {', '.join(self.options)}"

    def parse(self, value: Any) -> str:
        text = str(value).strip().lower()
        for option in self.options:
            if option.lower() == text:
                return option
        raise ValueError(self.allowed)



@dataclass(frozen=True)
class DataFile:
    """A local file a task reads in local mode (CSV, Parquet or any bytes). Its content, not its path, is part
    of the identity of every task that declares the setting: an edit reruns them (`data changed: <setting>`),
    restoring the file reuses their earlier results. Not read (nor fingerprinted) in Carol mode."""

    python_type = str

    @property
    def allowed(self) -> str:
        return "a file path"

    def parse(self, value: Any) -> str:
        text = str(value).strip()
        if not text:
            raise ValueError(self.allowed)
        return text


@dataclass(frozen=True)
class StagingTable:
    """A Carol staging table a task reads in Carol mode, `connector/staging`; with `connector_setting`, the
    staging name alone may be given and the connector is that setting's value. Its state (records, latest
    update) is part of the identity of every task that declares the setting. Not read in local mode."""

    connector_setting: str | None = None
    python_type = str

    @property
    def allowed(self) -> str:
        plain = "a staging name" if self.connector_setting else "connector/staging"
        return f"{plain}: letters, digits, '.', '_', '-'" + ("" if self.connector_setting else " on each side")

    def parse(self, value: Any) -> str:
        parts = str(value).strip().split("/")
        if len(parts) > 2 or (len(parts) == 1 and not self.connector_setting):
            raise ValueError(self.allowed)
        try:
            return "/".join(Text(plain=True).parse(part) for part in parts)
        except ValueError:
            raise ValueError(self.allowed) from None

    def address(self, value: str, connector: str | None) -> tuple[str, str]:
        """`(connector, staging)` of a parsed value; `connector`: the value of `connector_setting`."""
        if "/" in value:
            first, second = value.split("/")
            return first, second
        return str(connector), value


Kind = SettingKind

# How an optional setting is left unset: empty in settings.toml, `--set name=`, or none/null.
UNSET_TEXTS = ("", "none", "null")


def is_unset(value: Any) -> bool:
    """Whether a value means "no value" (None, empty or none/null text)."""
    return value is None or str(value).strip().lower() in UNSET_TEXTS
