# Two commands do the whole set-up: `make run` (dashboard on the demo data), `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test lint format demo bench bench-smoke clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

data/cadence.duckdb: | $(VENV)/.runtime
	$(BIN)/python -m analytics demo --db $@

# Listens on this computer only unless CADENCE_ADDRESS is set (e.g. 0.0.0.0): without sign-in
# (docs/security.md) everyone who reaches the server can change and reset the data.
CADENCE_ADDRESS ?= 127.0.0.1
run: $(VENV)/.runtime data/cadence.duckdb
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true \
		--server.address $(CADENCE_ADDRESS)

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: $(VENV)/.runtime
	$(BIN)/python -m analytics demo --db data/cadence.duckdb

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/bench.py

bench-smoke: $(VENV)/.dev
	$(BIN)/python benchmarks/bench.py --scale 0.1

clean:
	rm -rf $(VENV) data/cadence.duckdb .pytest_cache

# Refresh docs/screenshots/ (README) from the demo data in headless Chromium.
screenshots: $(VENV)/.dev
	CADENCE_README_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/test_browser.py -k "every_page"
