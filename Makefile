# make demo: create .venv, install, run the demo on built-in synthetic data.
# make test: create .venv, install with the dev and postgres extras, run the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The tests also run tune workers on a real PostgreSQL (its driver).
$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/deepmouse demo

test: $(TEST_STAMP)
	$(BIN)/ruff check deepmouse tests benchmarks
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check deepmouse tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
