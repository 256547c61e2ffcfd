"""`python -m online`: the online app of this project, served by carolbatch/online/server.py."""

import sys
from pathlib import Path

from app.pipeline import APP
from carolbatch.online.server import main

sys.exit(main(APP, Path(__file__).resolve().parents[1]))
