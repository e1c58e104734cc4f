# Xianjie 衔接 — two commands set everything up on a fresh machine:
#   make run    create the environment, install, start the hub (SQLite, embedded broker) with the demo
#   make test   install and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run serve test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/xianjie demo

serve: install
	$(VENV)/bin/xianjie serve

lint: install
	$(PY) -m ruff check hub adapters tests bench

typecheck: install
	$(PY) -m mypy

test: install lint typecheck
	$(PY) -m pytest

bench: install
	$(PY) -m bench

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
