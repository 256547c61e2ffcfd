#!/usr/bin/env python
"""Train, evaluate and deploy the model: `python run.py [--set NAME=VALUE ...]` (`--help` lists the commands,
`--version` prints the app's version (app/__init__.py) and the platform's;
the exit codes and options are documented in carolbatch/cli.py and the README's "Command line").

This file hands the app (app/pipeline.py) and its folder to the platform's command line (carolbatch/cli.py).
"""

import sys
from pathlib import Path

from app import __version__
from carolbatch.cli import main


def load_app():
    """The app (its pipeline and settings), imported when the command line is ready for it."""
    from app.pipeline import APP

    return APP


if __name__ == "__main__":
    sys.exit(main(load_app, Path(__file__).resolve().parent, app_version=__version__))
