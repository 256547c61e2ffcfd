"""Rewrite the settings table in README.md from the settings declaration: `make settings-doc`."""

from __future__ import annotations

import sys
from pathlib import Path

from carolbatch.settings.doc import replace_settings_table

if __name__ == "__main__":
    readme = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    readme.write_text(replace_settings_table(readme.read_text()))
    print(f"settings table in {readme} rewritten")
