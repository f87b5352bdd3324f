# make demo  - the main job (see README)
# make test  - installs everything the suite needs and runs the whole suite
# make bench - benchmarks; figures go to docs/performance.md
# make lint  - ruff
# make check - lint, format check and type check (pyproject.toml's ruff and mypy settings); CI runs it before make test
# make regressions REV=929499a - issue 13's regression tests on that commit's dcluster (docs/reliability.md)
# make validate-templates - cfn-lint and Heat's own parser on templates/ (in .venv-templates, not the test venv)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: venv system-deps test test-unit demo demo-clean bench lint check regressions validate-templates

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

# The validators are heavy (openstack-heat brings Heat's engine): a venv of their own.
TVENV := .venv-templates
$(TVENV)/.installed: Makefile
	test -x $(TVENV)/bin/python || python3 -m venv $(TVENV)
	$(TVENV)/bin/pip install -q 'cfn-lint==1.58.0' 'openstack-heat==27.0.1'
	touch $@

validate-templates: $(TVENV)/.installed
	$(TVENV)/bin/cfn-lint templates/aws/all-in-one.yaml
	$(TVENV)/bin/python templates/validate_hot.py
