"""Why a task runs or is reused, and which stored targets clean-up may remove.

Both answers compare what the current run would compute with what earlier runs recorded (see
`carolbatch.control.recording`): a task's identity, its significant parameters, its code fingerprint and its inputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# A data source setting `<name>` (kinds DataFile, StagingTable) comes with the parameter `<name>_fingerprint`:
# the source's content, part of the identity of every task declaring the setting.
FINGERPRINT_SUFFIX = "_fingerprint"
_TARGET_NAME = re.compile(
    r"^(?P<family>[A-Za-z_][A-Za-z0-9_]*)/(?P<identity>[0-9a-f]{64})\.(?:pkl(?:\.sha256)?|report\.html)$")


@dataclass(frozen=True)
class TaskFacts:
    """What decides a task's output: its identity and the parts the identity is made of."""

    family: str
    identity: str
    params: Mapping[str, str]
    code: str
    upstream: Mapping[str, str] = field(default_factory=dict)
    own_params: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """RUN or SKIP for one task, and why."""

    family: str
    run: bool
    reason: str


def explain_rerun(
    current: TaskFacts, previous: Mapping[str, Any] | None, output: str, upstream_reruns: bool, forced: bool
) -> str:
    """Name the reason a task that will run has to run.

    Args:
        current: the task as this run would compute it.
        previous: the latest run-record entry of the same task family (`params`, `code`, `upstream`), or None.
        output: the state of the task's own output: `valid`, `missing` or `corrupt`.
        upstream_reruns: whether a task it depends on runs in this run.
        forced: whether the user asked to recompute this task.

    Returns:
        `forced`, `output corrupt`, `no output`, `data changed: <settings>`, `settings changed: <names>`,
        `code changed: <family>`, `upstream reruns`, `upstream changed` or `deployed model changed`.
    """
    if forced:
        return "forced"
    if output == "corrupt":
        return "output corrupt"
    if output == "valid":
        # A sound output that is still not complete: the deployed model it was decided against changed.
        return "upstream reruns" if upstream_reruns else "deployed model changed"
    if previous is None:
        return "no output"
    old_params = previous.get("params") or {}
    changed = [name for name in current.own_params if old_params.get(name) != current.params.get(name)]
    data = [name.removesuffix(FINGERPRINT_SUFFIX) for name in changed if name.endswith(FINGERPRINT_SUFFIX)]
    if data:
        return f"data changed: {', '.join(data)}"
    if changed:
        return f"settings changed: {', '.join(changed)}"
    if previous.get("code") != current.code:
        return f"code changed: {current.family}"
    if upstream_reruns:
        return "upstream reruns"
    if dict(previous.get("upstream") or {}) != dict(current.upstream):
        return "upstream changed"
    return "no output"


def fingerprint_parameter(setting: str) -> str:
    """The name of the parameter holding the fingerprint of data source setting `setting`."""
    return setting + FINGERPRINT_SUFFIX


def own_parameters(params: Iterable[str], upstream_params: Iterable[str]) -> tuple[str, ...]:
    """The parameters a task declares itself, not those it inherits from the tasks it depends on."""
    inherited = set(upstream_params)
    return tuple(sorted(name for name in params if name not in inherited))


def format_plan(decisions: Sequence[Decision]) -> list[str]:
    """One aligned line per task: `RUN  <family>  settings changed: <names>`."""
    width = max((len(decision.family) for decision in decisions), default=0)
    return [
        f"{'RUN ' if decision.run else 'SKIP'}  {decision.family:<{width}}  {decision.reason}"
        for decision in decisions
    ]


def format_target_name(prefix: str, family: str, identity: str) -> str:
    """The stored name of a task's output, `<prefix><family>/<identity>.pkl`; `parse_target_name` reads it."""
    return f"{prefix}{family}/{identity}.pkl"


def report_name(target_name: str) -> str:
    """The name of the report kept beside a target (`<family>/<identity>.report.html`); clean-up removes the
    two together."""
    return target_name.removesuffix(".pkl") + ".report.html"


def parse_target_name(name: str, prefix: str = "") -> tuple[str, str] | None:
    """`(family, identity)` of a stored target, its checksum record or its report, or None for anything else.

    A target lives exactly at `<prefix><family>/<identity>.pkl`; a look-alike in any other folder is not one.
    """
    match = _TARGET_NAME.match(name[len(prefix):]) if name.startswith(prefix) else None
    return (match["family"], match["identity"]) if match else None


def identities_to_keep(
    current: Iterable[str], recent_runs: Sequence[Mapping[str, Any]], deployed_lineage: Iterable[str]
) -> set[str]:
    """Target identities clean-up must keep: the current configuration, recent runs, the deployed lineage.

    Args:
        current: identities the current settings would compute.
        recent_runs: the run records to keep the outputs of (their `tasks[].identity`).
        deployed_lineage: identities the deployed model was computed from.
    """
    keep = set(current) | set(deployed_lineage)
    for record in recent_runs:
        keep.update(task["identity"] for task in record.get("tasks", []) if task.get("identity"))
    return keep


def select_garbage(names: Iterable[str], families: Iterable[str], keep: set[str], prefix: str = "") -> list[str]:
    """Stored names of pipeline targets (and their records) whose identity is not in `keep`.

    Names that are not targets of one of `families` (run log, fingerprint cache, registry) are never selected.
    """
    known = set(families)
    selected = []
    for name in names:
        parsed = parse_target_name(name, prefix)
        if parsed and parsed[0] in known and parsed[1] not in keep:
            selected.append(name)
    return sorted(selected)
