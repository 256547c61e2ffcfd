"""The kind of problem a model solves: regression, binary or multiclass classification, with the classes a
classifier chooses among (read from the model by carolbatch/training/labels.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

REGRESSION = "regression"
BINARY = "binary"
MULTICLASS = "multiclass"


@dataclass(frozen=True)
class Problem:
    """What a model predicts: `kind` (REGRESSION, BINARY or MULTICLASS) and, for a classifier, its `classes` in
    the order of its probability columns (scikit-learn's `classes_`)."""

    kind: str = REGRESSION
    classes: tuple = ()

    @property
    def is_classification(self) -> bool:
        return self.kind != REGRESSION

    def describe(self) -> str:
        """`regression`, or `binary classification (0, 1)`."""
        if not self.is_classification:
            return REGRESSION
        shown = ", ".join(map(str, self.classes[:10])) + (", ..." if len(self.classes) > 10 else "")
        return f"{self.kind} classification ({shown})"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly, as a registry version keeps it."""
        return {"kind": self.kind, "classes": [plain_label(label) for label in self.classes]}

    @classmethod
    def from_dict(cls, facts: Mapping[str, Any] | None) -> Problem:
        """The problem a registry version records; a version from before problems were recorded is a regression."""
        if not isinstance(facts, Mapping) or facts.get("kind") not in (REGRESSION, BINARY, MULTICLASS):
            return cls()
        return cls(facts["kind"], tuple(facts.get("classes") or ()))


def plain_label(label: Any) -> Any:
    """A label as JSON holds it: numpy numbers as Python ones, text as text."""
    return label.item() if isinstance(label, np.generic) else label


def problem_of(classes: Sequence[Any]) -> Problem:
    """The classification problem of these classes (binary for two, multiclass above)."""
    return Problem(BINARY if len(classes) == 2 else MULTICLASS, tuple(plain_label(label) for label in classes))
