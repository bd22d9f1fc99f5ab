# Whistle: one entry point. `make run` starts everything locally; `make test` runs the suite.
SHELL := /bin/bash
UV := $(shell command -v uv >/dev/null 2>&1 && echo uv || echo python3 -m uv)
UV_VERSION := 0.13.9

.PHONY: help bootstrap run stop status test unit lint bench eval

help:
	@echo "make run     start Kafka, PostgreSQL, the four services and the demo feed"
	@echo "make stop    stop everything 'make run' started"
	@echo "make status  what is running"
	@echo "make test    the whole test suite (starts and stops the stack itself)"
	@echo "make unit    unit tests only (no Kafka, no PostgreSQL)"
	@echo "make bench   ceilings and pipeline figures into bench/results/"
	@echo "make eval    the classifier's evaluation report into bench/results/"

bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --quiet

run: bootstrap
	@$(UV) run --frozen whistle-stack run

stop: bootstrap
	@$(UV) run --frozen whistle-stack down

status: bootstrap
	@$(UV) run --frozen whistle-stack status

test: bootstrap
	@$(UV) run --frozen pytest -ra

unit: bootstrap
	@$(UV) run --frozen pytest -ra -n auto --maxprocesses 4 tests/unit

bench: bootstrap
	@$(UV) sync --frozen --quiet --group bench
	@$(UV) run --frozen --group bench python bench/run.py

lint: bootstrap
	@$(UV) run --frozen ruff check .

eval: bootstrap
	@$(UV) run --frozen python bench/eval_classifier.py
