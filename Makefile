# One entry point for set-up, the demo and the checks. Needs only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck audit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lastmile demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# Known vulnerabilities in the installed dependencies (PyPI's advisory data; needs the
# network). --strict: a package that cannot be checked fails the audit instead of passing
# it silently. Findings that stay, each with its reason: docs/reliability.md
# (add --ignore-vuln <ID> here only together with that entry).
audit: $(STAMP)
	$(BIN)/pip-audit --local --skip-editable --strict --progress-spinner off

bench: $(STAMP)
	$(BIN)/python benchmarks/planning.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
