PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run serve test install install-dev clean manifest settings-doc lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements.lock pip

# Every package at the version requirements.lock pins (`make lock` makes it from requirements*.txt).
$(VENV)/.installed: requirements.txt requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt -c requirements.lock
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt requirements.lock $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt -c requirements.lock
	touch $@

# Pin every package requirements*.txt install, transitive ones too, into requirements.lock (pip resolves;
# nothing is installed). Run it after changing a requirements file; tests/test_lock.py fails until then.
lock: | $(BIN)/python
	$(BIN)/python -m tools.lock

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/python run.py $(ARGS)

manifest: install
	$(BIN)/python -m tools.manifest $(ARGS)

# The online app on the registry `make run` deploys to (models/), at http://127.0.0.1:5000 by default.
SERVE_BIND ?= 127.0.0.1:5000
serve: install
	$(BIN)/python -m online --bind $(SERVE_BIND) $(ARGS)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Rewrite README.md's settings table from the settings declaration (carolbatch/settings/platform.py and
# app/functions/settings.py).
settings-doc: install
	$(BIN)/python -m tools.settings_doc README.md

clean:
	rm -rf luigi_targets models
