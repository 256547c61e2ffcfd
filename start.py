#!/usr/bin/env python
"""The image's command: start the Carol process `PROCESS_TYPE` names (manifest.json sets it per process).

`batch` runs `run.py` with this command's arguments; `online` serves the current model with
`python -m online` on 0.0.0.0:5000, the port manifest.json declares, and the arguments (a later `--bind`
wins). Without `PROCESS_TYPE`: `online` when Carol's `CAROLONLINENAME` is set (Carol sets it for an online
process; pycarol's online API reads it), else `batch`. The process replaces this one, so a container stop
(SIGTERM) reaches the app itself. Anything else ends with one error line and exit 2.
"""

from __future__ import annotations

import os
import sys

PROCESS_VARIABLE = "PROCESS_TYPE"
ONLINE_BIND = "0.0.0.0:5000"
COMMANDS = {
    "batch": ["run.py"],
    "online": ["-m", "online", "--bind", ONLINE_BIND],
}


def process_type(environ: dict[str, str]) -> str:
    """The process to start: `PROCESS_TYPE`, else `online` in a Carol online process, else `batch`."""
    return environ.get(PROCESS_VARIABLE) or ("online" if environ.get("CAROLONLINENAME") else "batch")


def command(process: str, arguments: list[str]) -> list[str]:
    """The Python command line of `process`, or a ValueError naming the choices."""
    if process not in COMMANDS:
        choices = " or ".join(COMMANDS)
        raise ValueError(f"{PROCESS_VARIABLE}={process!r} names no process of this image (expected {choices})")
    return [sys.executable, *COMMANDS[process], *arguments]


if __name__ == "__main__":
    try:
        argv = command(process_type(dict(os.environ)), sys.argv[1:])
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    os.execv(sys.executable, argv)
