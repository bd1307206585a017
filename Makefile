PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/tokentrail: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(BIN)/tokentrail
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

DEMO := tokentrail-demo

demo: $(BIN)/tokentrail
	$(BIN)/tokentrail demo --out $(DEMO)
	$(BIN)/tokentrail scan $(DEMO)/logs --report $(DEMO)/report --format jsonl --output $(DEMO)/scan-alerts.jsonl
	$(BIN)/tokentrail site build $(DEMO)/site --report $(DEMO)/report
	$(BIN)/tokentrail watch demo --seconds 5
	@echo "catalog site: file://$(abspath $(DEMO))/site/index.html"
	@echo "scan report:  file://$(abspath $(DEMO))/site/report/index.html (alone: $(DEMO)/report/index.html)"

test: $(VENV)/.dev
	$(BIN)/ruff check src tests bench tools
	$(BIN)/python -m pytest -n 2

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

bench: $(BIN)/tokentrail
	$(BIN)/python bench/scan_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info
