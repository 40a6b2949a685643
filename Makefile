# faultcast: `make demo` and `make test` each set up .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup lint typecheck bench sdk-wheel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

DEMO_DB := faultcast-demo/faultcast.duckdb
DEMO_PORT ?= 8501

# Simulate, ingest and learn a day of 8 services, then serve the dashboard on it (Ctrl-C stops it).
demo: $(STAMP)
	$(BIN)/faultcast demo --db $(DEMO_DB)
	$(BIN)/faultcast retrain --db $(DEMO_DB) --since 24h --holdout 4h
	@echo "faultcast dashboard: open http://127.0.0.1:$(DEMO_PORT)  (Ctrl-C stops it)"
	$(BIN)/faultcast dashboard --db $(DEMO_DB) --port $(DEMO_PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist worksteal --timeout 600 -q

lint: $(STAMP)
	$(BIN)/ruff check faultcast ingest models analytics dashboard tests benchmarks
	$(BIN)/ruff format --check faultcast ingest models analytics dashboard tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy faultcast ingest models analytics dashboard

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/learn.py
	$(BIN)/python benchmarks/startup.py

# The application SDK alone (faultcast-sdk, no dependencies) as a wheel in dist/; built from a
# copy (links to the shared rule modules followed) so no build/ or *.egg-info lands in the package.
sdk-wheel: $(STAMP)
	@tmp=$$(mktemp -d) && cp -rL faultcast/sdk $$tmp/src && rm -rf $$tmp/src/__pycache__ && \
	$(BIN)/python -m pip wheel --no-deps --no-build-isolation -w dist $$tmp/src && rm -rf $$tmp

clean:
	rm -rf $(VENV) faultcast-demo dist .pytest_cache .mypy_cache .ruff_cache
