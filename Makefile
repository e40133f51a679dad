# yikatong: `make demo` and `make test` are the quick start (see README.md).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo lint test test-full bench bench-network build clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ykt sim run scenarios/demo-station.json
	$(BIN)/ykt sim run scenarios/demo-canteen-pos.json
	$(BIN)/ykt sim run scenarios/demo-canteen.json
	$(BIN)/ykt sim run scenarios/demo-venue.json

# ruff (pyflakes, pycodestyle, import order, complexity), mypy on the host library, and the
# firmware type-checked against MicroPython's ESP32 stubs; .pre-commit-config.yaml runs the same.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python tests/typecheck_firmware.py

# The suite runs on every core (pytest-xdist); `.venv/bin/pytest` alone runs it in one process.
test: lint
	$(BIN)/pytest -n auto

test-full: $(STAMP)
	YKT_FULL=1 $(BIN)/pytest -n auto

bench: $(STAMP)
	$(BIN)/python -m bench

# every station of the 2017 network, a million journeys, on every core (bench/network_day.py)
bench-network: $(STAMP)
	$(BIN)/python -m bench.network_day

build: $(STAMP)
	$(BIN)/ykt build

clean:
	rm -rf build .pytest_cache
