# leadscore: `make` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(HOME)/.local/bin/uv
endif
RUN := $(UV) run --frozen
DEMO_DIR ?= demo_data
DEMO_LEADS ?= 50000
SCALE_LEADS ?= 50000,200000,1000000
HOST ?= 127.0.0.1
PORT ?= 3000
UI_PORT ?= 8080
PREDICTIONS ?= predictions.db

.DEFAULT_GOAL := help
.PHONY: help setup run demo-data validate-demo train-demo test lint format bench bench-serve bench-worlds bench-scale mlflow-ui clean ui ui-screenshots

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(UV):
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --user --quiet uv || python3 -m pip install --user --quiet uv

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $@

setup: .venv/.synced ## Install uv (via pip) and the locked environment

demo-data: setup ## Make the demo CRM export with its ground truth (DEMO_DIR, DEMO_LEADS)
	$(RUN) leadscore demo-data --out $(DEMO_DIR) --leads $(DEMO_LEADS)

validate-demo: demo-data ## Validate the demo export against the data contract
	$(RUN) leadscore validate --data $(DEMO_DIR)

.PHONY: retrain
retrain: setup ## Retrain on a new export (DATA=DIR), gate against @champion, print the decision
	@test -n "$(DATA)" || { echo "usage: make retrain DATA=DIR (a CRM export folder)"; exit 2; }
	$(RUN) leadscore validate --data $(DATA)
	$(RUN) leadscore train --data $(DATA)

train-demo: validate-demo ## Train on the demo export, log to MLflow, register the model
	$(RUN) leadscore train --data $(DEMO_DIR)

run: train-demo ## Set up, make demo data, validate it, train, then serve it on HOST:PORT
	$(RUN) leadscore serve --host $(HOST) --port $(PORT)

ui: setup ## Marketing-ops web app on the demo model (after `make run`'s training) on HOST:UI_PORT
	@test -e $(PREDICTIONS) || $(RUN) leadscore replay-log --data $(DEMO_DIR) --predictions $(PREDICTIONS)
	$(RUN) leadscore ui --host $(HOST) --port $(UI_PORT) --predictions $(PREDICTIONS) --data $(DEMO_DIR)

ui-screenshots: setup ## Refresh the web app's screenshots in docs/ui/ (runs its browser tests)
	LEADSCORE_UI_SCREENSHOTS=$(CURDIR)/docs/ui $(RUN) pytest -q -p no:xdist tests/ops/test_web_browser.py

test: setup ## Set up and run the test suite
	$(RUN) pytest -n 2 -q

lint: setup ## ruff format check, ruff lint, mypy
	$(RUN) ruff format --check .
	$(RUN) ruff check .
	$(RUN) mypy

format: setup ## Apply ruff formatting and safe fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench: setup ## Run the benchmarks under bench/ (figures go in docs/benchmarks.md)
	$(RUN) python bench/run.py

bench-worlds: setup ## Train and score every named demo world against its exact truth (docs/benchmarks.md)
	$(RUN) python bench/bench_worlds.py

bench-scale: setup ## Train and score 50k, 200k and 1M-lead worlds, 1 process and local:2 (SCALE_LEADS)
	$(RUN) python bench/bench_scale.py --leads $(SCALE_LEADS) --workdir .bench-scale --json .bench-scale/results.json

bench-serve: setup ## Load-test the scoring service (and `mlflow models serve`); BASELINE=<rev> serves that revision beside it
	$(RUN) python bench/bench_serve.py --workdir .bench-serve --json .bench-serve/results.json $(if $(BASELINE),--baseline $(BASELINE))

mlflow-ui: setup ## Open the local MLflow store on http://$(HOST):5000
	$(RUN) mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host $(HOST) --port 5000

clean: ## Remove generated data, MLflow stores and the venv
	rm -rf $(DEMO_DIR) mlruns mlartifacts mlflow.db .bench-serve .bench-scale .venv .pytest_cache .mypy_cache .ruff_cache
