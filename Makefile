# The same targets are used by developers, pre-commit and CI (.ci/run calls `make ci`).
PYTHON ?= python

.PHONY: install format lint typecheck test test-pg bench all ci

install:
	$(PYTHON) -m pip install -e '.[dev]'

format:
	$(PYTHON) -m ruff format durable tests property_tests examples benchmarks
	$(PYTHON) -m ruff check --fix durable tests property_tests examples benchmarks

lint:
	$(PYTHON) -m ruff format --check durable tests property_tests examples benchmarks
	$(PYTHON) -m ruff check durable tests property_tests examples benchmarks

typecheck:
	$(PYTHON) -m mypy durable

test:
	$(PYTHON) -m pytest

test-pg:
	$(PYTHON) -m pytest -k postgres

bench:
	$(PYTHON) -m benchmarks.steps

all: lint typecheck test
