#!/usr/bin/env python
"""Train, evaluate and deploy the model: `python run.py [--set NAME=VALUE ...]`.

`--plan` shows what a run would do and why, `--force TASK` recomputes a task and its downstream,
`--gc [--keep N] [--keep-models N] [--dry-run]` removes targets no current or recent run uses.
`--models` lists the deployed model versions, `--rollback [VERSION]` makes an earlier one current.
`--settings` prints every setting, its effective value and the layer it came from.
`--replace-champion` deploys this run's challenger (if it passes its thresholds) even when it is not comparable
with the deployed model, or worse; the registry history keeps the reason.

Exit codes: 0 success, 1 a task failed or Carol could not be reached, 2 bad settings, data or usage,
143 stopped by SIGTERM. The last line printed is always the run summary.

This file hands the app (app/pipeline.py) and its folder to the platform's command line (carolbatch/cli.py).
"""

import sys
from pathlib import Path

from carolbatch.cli import main


def load_app():
    """The app (its pipeline and settings), imported when the command line is ready for it."""
    from app.pipeline import APP

    return APP


if __name__ == "__main__":
    sys.exit(main(load_app, Path(__file__).resolve().parent))
