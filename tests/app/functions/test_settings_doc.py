from __future__ import annotations

import pytest

from app.pipeline import APP
from carolbatch.settings.doc import TABLE_END, TABLE_START, format_settings_table, replace_settings_table
from tests.conftest import PROJECT_DIR


def test_readme_settings_table_matches_the_declaration():
    readme = (PROJECT_DIR / "README.md").read_text()
    assert format_settings_table(APP.settings) in readme, "README settings table is stale: run `make settings-doc`"


def test_table_has_one_row_per_declared_setting_with_its_default():
    rows = format_settings_table(APP.settings).splitlines()[3:-1]
    assert [row.split("`")[1] for row in rows] == list(APP.settings.names)
    epochs = next(row for row in rows if row.startswith("| `model_epochs`"))
    assert "| whole number | `1000` | a whole number >= 1 |" in epochs
    assert "| number | empty | a number > 0, or empty |" in next(row for row in rows if "max_test_rmse" in row)


def test_replacing_the_table_keeps_the_text_around_it():
    document = f"before\n{TABLE_START}\nold\n{TABLE_END}\nafter\n"
    replaced = replace_settings_table(APP.settings, document)
    assert replaced.startswith("before\n") and replaced.endswith("\nafter\n") and "\nold\n" not in replaced
    assert replace_settings_table(APP.settings, replaced) == replaced


def test_a_document_without_markers_is_refused():
    with pytest.raises(ValueError, match="markers"):
        replace_settings_table(APP.settings, "no table here")
