"""Rewrite the settings table in README.md from the app's settings declaration (the platform's settings and
app/functions/settings.py): `make settings-doc`."""

from __future__ import annotations

import sys
from pathlib import Path

from app.pipeline import APP
from carolbatch.settings.doc import replace_settings_table

if __name__ == "__main__":
    readme = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    readme.write_text(replace_settings_table(APP.settings, readme.read_text()))
    print(f"settings table in {readme} rewritten")
