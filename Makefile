# Everything runs inside .venv, created on first use and kept in step with the lockfile
# (requirements-dev.lock, written from pyproject.toml by `make lock`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

.PHONY: install
install: $(STAMP) ## create .venv and install the service with its dev tools and embedded servers

# The flags each lockfile is written with; `make lock` and docs/operations.md say when to run it.
PIP_COMPILE := $(BIN)/pip-compile --quiet --strip-extras --generate-hashes --allow-unsafe \
	--no-emit-index-url --no-emit-find-links

.PHONY: lock
lock: $(STAMP) ## rewrite requirements.lock and requirements-dev.lock from pyproject.toml (newest allowed)
	$(PIP_COMPILE) --upgrade -o requirements.lock pyproject.toml
	$(PIP_COMPILE) --upgrade --extra dev --extra embedded -c requirements.lock \
		-o requirements-dev.lock pyproject.toml

.PHONY: run
run: $(STAMP) ## start the API, the worker and the sandbox on embedded defaults
	$(BIN)/orders-service dev

.PHONY: test
test: lint $(STAMP) ## what CI runs: lint, then every test with branch coverage and its floor
	$(BIN)/python -m pytest --cov --cov-report=term

# The unit tests need none of the plugins of the other layers (schemathesis, faker, the embedded
# valkey, coverage), and the state-machine property test runs 50 examples instead of CI's 200.
UNIT_OPTIONS := -p no:schemathesis -p no:faker -p no:valkey -p no:pytest_cov -p no:anyio

.PHONY: unit
unit: $(STAMP) ## the unit tests: no I/O, seconds
	STATE_MACHINE_EXAMPLES=50 $(BIN)/python -m pytest tests/unit $(UNIT_OPTIONS)

.PHONY: integration
integration: $(STAMP) ## contract and integration tests: real Redis, Mongo-wire, HTTP on loopback
	$(BIN)/python -m pytest tests/contract tests/integration

.PHONY: e2e
e2e: $(STAMP) ## the service's real processes, and the demo shop in headless Chromium
	$(BIN)/python -m pytest tests/e2e tests/browser

.PHONY: lint
lint: $(STAMP) ## ruff, ruff format --check, mypy --strict, import-linter
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

.PHONY: simulate
simulate: $(STAMP) ## 1000 orders through the use-cases with 30% of downstream calls failing
	$(BIN)/orders-service simulate --orders 1000 --fault-rate 0.3

.PHONY: bench
bench: $(STAMP) ## run the benchmarks (see docs/benchmarks.md)
	$(BIN)/python -m bench

.PHONY: hooks
hooks: $(STAMP) ## run the pre-commit checks on every file (install them: .venv/bin/pre-commit install)
	$(BIN)/pre-commit run --all-files

.PHONY: format
format: $(STAMP) ## format and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
