# The two commands (see README): `make demo` runs the RLHF demo, `make test` runs the tests.
# Each one sets up .venv by itself first (scripts/setup.sh is idempotent and quick when done).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test test-slow lint bench docs docs-serve

setup:
	@scripts/setup.sh

demo: setup
	$(PY) -m rlhf_env.cli demo

test: setup
	$(PY) -m pytest

test-slow: setup
	$(PY) -m pytest -m slow

lint: setup
	$(VENV)/bin/ruff check rlhf_env agents tests examples benchmarks docs/hooks
	$(VENV)/bin/mypy

# bench_control_labels.py's peer arm runs imitation in its own venv (.venv-imitation).
bench: setup
	@scripts/setup_imitation.sh
	$(PY) benchmarks/run_all.py

# The documentation site (mkdocs.yml): built into site/ with every warning an error.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-serve: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8001
