# Two commands for a newcomer: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench openapi clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto || $(BIN)/pip install --quiet -e '.[embedded-broker]'
	touch $(STAMP)

## The whole service on embedded defaults with a simulated archive: http://127.0.0.1:8080
demo: $(STAMP)
	$(BIN)/lantai demo

## ruff, mypy (strict) and the whole pytest suite (it starts its own Mosquitto).
test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy sensors collectors rules alerts inspections console dashboards lantai tests

pytest: $(STAMP)
	$(BIN)/pytest

## Figures, not tests: ingest against the bare paho limit, and alarm latency under load.
bench: $(STAMP)
	$(BIN)/lantai bench ingest --json
	$(BIN)/lantai bench alarm --json

## Regenerate the committed OpenAPI snapshot after a deliberate API change.
openapi: $(STAMP)
	$(BIN)/lantai openapi > console/openapi.json

clean:
	rm -rf $(VENV) .lantai-demo .pytest_cache .mypy_cache .ruff_cache *.egg-info
