# faultcast: `make demo` and `make test` each set up .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/faultcast demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --timeout 600 -q

lint: $(STAMP)
	$(BIN)/ruff check faultcast ingest models analytics dashboard tests benchmarks
	$(BIN)/ruff format --check faultcast ingest models analytics dashboard tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy faultcast ingest models analytics

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) faultcast-demo .pytest_cache .mypy_cache .ruff_cache
