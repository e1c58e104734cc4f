# Xianjie 衔接 — two commands set everything up on a fresh machine:
#   make run    create the environment, install, start the hub (SQLite, embedded broker) with the demo
#   make test   install and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run serve test lint typecheck bench clean browser-deps

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
	$(PY) -m ruff check hub adapters tests bench chaos

typecheck: install
	$(PY) -m mypy

# The console's browser tests drive Debian's Chromium (Playwright with its executable path; nothing downloads a
# browser) and need CJK fonts to render Chinese; the report's PDF needs HarfBuzz's subsetter (WeasyPrint embeds font
# subsets with their text map, which the PDF tests read back): installed here when missing and this is root on Debian.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 \
	    || ! ls /usr/lib/*/libharfbuzz-subset.so.0 >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium, fonts-noto-cjk and libharfbuzz-subset0 for the browser and PDF tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk libharfbuzz-subset0 >/dev/null \
	      || (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk libharfbuzz-subset0 >/dev/null); \
	  else \
	    echo "the browser and PDF tests need Debian's chromium, fonts-noto-cjk and libharfbuzz-subset0 (apt-get install -y chromium fonts-noto-cjk libharfbuzz-subset0)"; \
	  fi; \
	fi

# The suite runs in WORKERS processes (pytest-xdist, each test file on one of them). The hostile corpus runs apart,
# in workers of its own: its memory bounds are measured in the test process, which must not carry the rest's heap.
# Tests marked `alone` (they stop the machine's RabbitMQ) run last, one process, nothing beside them.
WORKERS ?= 2
test: install lint typecheck browser-deps
	@status=0; \
	$(PY) -m pytest -n $(WORKERS) --dist loadfile -m "not alone" --ignore=tests/hostile || status=1; \
	$(PY) -m pytest -n $(WORKERS) --dist loadfile tests/hostile || status=1; \
	$(PY) -m pytest -m alone || status=1; \
	exit $$status

bench: install
	$(PY) -m bench

# The chaos suite (docs/security-chaos.md): 10,000 notices on a private PostgreSQL + RabbitMQ while processes are
# SIGKILLed and the services restart; SEED=n replays a run, NOTICES=n sizes it. Needs root for its tmpfs (else a
# stated fallback). Writes var/chaos/last.json.
.PHONY: chaos
chaos: install
	$(PY) -m chaos $(if $(SEED),--seed $(SEED)) $(if $(NOTICES),--notices $(NOTICES))

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
