# One task runner. Every target creates the virtual environment itself when it is missing.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo demo-lake test lint format typecheck security audit unit test-slow bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: ingest the emulator's sample logs into ./demo-output and print a summary
demo: $(STAMP)
	$(BIN)/log-ingestion demo --output demo-output

## demo-lake: the same into Delta tables on a local S3 server (SeaweedFS), read back, both stopped
demo-lake: $(STAMP)
	$(BIN)/log-ingestion demo --lake

## test: every gate CI runs: lint, format, types, security scan, tests with coverage
test: lint typecheck security unit

lint: $(STAMP)
	$(BIN)/python scripts/shape.py
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

security: $(STAMP)
	$(BIN)/bandit -q -r src -ll

unit: $(STAMP)
	$(BIN)/pytest -n 2 -m "not slow" --cov --cov-report=term --cov-fail-under=90

## audit: known vulnerabilities in installed dependencies (needs the advisory service)
audit: $(STAMP)
	scripts/audit.sh $(BIN)

## test-slow: long kill tests (SIGKILL / SIGTERM at random moments)
test-slow: $(STAMP)
	$(BIN)/pytest -m slow -p no:randomly

## bench: the benchmark suite; prints a table and writes bench-results/latest.json
bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage demo-output bench-results
