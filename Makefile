# Two commands for a newcomer: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench soak openapi clean

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

## Figures, not tests: ingest against the bare paho limit, alarm latency under load, the
## rules' memory, a 2-minute soak and silent-sensor detection, with the machine, as JSON.
## On an idle machine; `lantai bench all --write-readme` also rewrites the README's table.
bench: $(STAMP)
	$(BIN)/lantai bench all --json

## The long soak: the example site at 10x for 30 minutes; the summary's verdict says
## whether memory stayed flat. A table every 10 s, then the summary (--json: JSON lines).
soak: $(STAMP)
	$(BIN)/lantai bench soak --minutes 30

## Regenerate the committed OpenAPI snapshot after a deliberate API change.
openapi: $(STAMP)
	$(BIN)/lantai openapi > console/openapi.json

clean:
	rm -rf $(VENV) .lantai-demo .pytest_cache .mypy_cache .ruff_cache *.egg-info
