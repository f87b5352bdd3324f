# make demo  - the main job (see README)
# make test  - installs everything the suite needs and runs the whole suite
# make bench - benchmarks; figures go to docs/performance.md
# make lint  - ruff
# make check - lint, format check and type check (pyproject.toml's ruff and mypy settings); CI runs it before make test
# make regressions REV=929499a - issue 13's regression tests on that commit's dcluster (docs/reliability.md)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: venv system-deps test test-unit demo demo-clean bench lint check regressions

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel 'setuptools<75.6'
	$(PIP) install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

test: venv system-deps
	$(VENV)/bin/pytest -q -p no:cacheprovider --durations=15 tests

test-unit: venv
	$(VENV)/bin/pytest -q tests/unit

demo: venv system-deps
	$(PY) -m dcluster.demo $(if $(SCHEDULER),--scheduler $(SCHEDULER))

demo-clean: venv
	$(PY) -m dcluster.demo --clean

bench: venv
	$(PY) bench/run_all.py

lint: venv
	$(VENV)/bin/ruff check .

check: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

chaos: venv
	$(PY) bench/chaos.py --runs 1000 --family both

regressions: venv
	$(PY) bench/regressions_on.py $(if $(REV),--rev $(REV))
