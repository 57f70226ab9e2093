# One entry point for set-up, the devnet and the tests. Every target installs what it needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BVENV := .venv-brownie
SVENV := .venv-slither
export SOLCX_BINARY_PATH := $(CURDIR)/tools/solc
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup compile lint test test-contracts test-python devnet deploy bench clean slither check-alerts

setup: $(VENV)/.installed $(BVENV)/.installed node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(VENV)/.installed: requirements/runtime.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements/runtime.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

# Lint tools go into the same venv (mypy must import the runtime's packages to check against them),
# but only when lint runs, so the devnet image (`make compile`) stays without them.
$(VENV)/.installed-dev: $(VENV)/.installed requirements/dev.txt
	$(VENV)/bin/pip install -q -r requirements/dev.txt
	touch $@

$(BVENV)/.installed: requirements/brownie.txt
	test -x $(BVENV)/bin/python || $(PY) -m venv $(BVENV)
	$(BVENV)/bin/pip install -q -r requirements/brownie.txt
	touch $@

compile: setup
	$(BVENV)/bin/brownie compile

## Static checks of the Python: ruff (rules in pyproject.toml) and mypy (strict on the core layers).
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

## The whole test suite: lint, static analysis (slither), contract tests on anvil (brownie), then relayer
## unit and end-to-end tests.
test: lint slither compile
	scripts/ensure-redis.sh
	scripts/ensure-promtool.sh >/dev/null || echo "no promtool: the alert rule checks will be skipped"
	$(BVENV)/bin/brownie test tests/contracts
	$(VENV)/bin/python -m pytest -p no:pytest-brownie -p no:cacheprovider tests/unit tests/e2e

test-contracts: compile
	$(BVENV)/bin/brownie test tests/contracts

test-python: compile
	scripts/ensure-redis.sh
	$(VENV)/bin/python -m pytest -p no:pytest-brownie tests/unit tests/e2e

## The embedded default: three anvil chains, Redis, contracts, validators, relayer and a scenario.
devnet: compile
	scripts/ensure-redis.sh
	$(VENV)/bin/xmargin devnet up

## A real network (docs/deploy.md): `XMARGIN_DEPLOYER_KEY=0x... make deploy NETWORK=testnet` deploys the plan
## config/deploy/$(NETWORK).yaml and writes deployments/$(NETWORK).json.
deploy: compile
	@test -n "$(NETWORK)" || { echo "usage: make deploy NETWORK=<name> (plan: config/deploy/<name>.yaml)"; exit 2; }
	$(VENV)/bin/xmargin deploy $(NETWORK)

## Static analysis (part of `make test`): slither over every contract, JSON reports in reports/;
## fails on any high or medium finding not suppressed inline with a reason (scripts/slither_gate.py).
slither: $(SVENV)/.installed node_modules/.installed
	$(SVENV)/bin/python scripts/slither_gate.py

$(SVENV)/.installed: requirements/slither.txt
	test -x $(SVENV)/bin/python || $(PY) -m venv $(SVENV)
	$(SVENV)/bin/pip install -q -r requirements/slither.txt
	touch $@

## The Prometheus alert rules: promtool's syntax check and its unit tests (ops/prometheus/), and
## the runbook and metric checks against docs/operator.md.
check-alerts: $(VENV)/.installed
	scripts/ensure-promtool.sh >/dev/null
	XMARGIN_REQUIRE_PROMTOOL=1 $(VENV)/bin/python -m pytest -p no:pytest-brownie -p no:cacheprovider tests/unit/test_alert_rules.py -q

bench: compile
	scripts/ensure-redis.sh
	$(VENV)/bin/pip install -q -r requirements/bench.txt || echo "matplotlib not installed: bench/stress.py will skip its pictures"
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf build .devnet
