# Two entry points: `make run` (set up, index corpus/, serve the web UI) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint eval audit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[llm,dev,milvus,ray]"
	touch $(STAMP)

setup: $(STAMP)

## Build the index of corpus/ if needed and serve the API + web UI on http://127.0.0.1:8000
run: setup
	HF_HUB_OFFLINE=1 $(BIN)/assistant serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check $(wildcard assistant tests bench)
	$(BIN)/mypy assistant
	$(BIN)/lint-imports

## Lint, type-check, the whole test suite (real model, FAISS, HTTP, Chromium; includes the eval gate)
test: setup
	bash .ci/install-chromium.sh
	bash .ci/install-tesseract.sh
	$(MAKE) --no-print-directory lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

audit: setup
	$(BIN)/pip-audit --skip-editable

clean:
	rm -rf $(VENV) index/snapshots index/CURRENT index/vector_cache.sqlite* .pytest_cache .mypy_cache .ruff_cache
