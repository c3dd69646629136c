# The two commands of the quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The local Workflows interpreter, without the old FastAPI it pins (see pyproject.toml).
	$(BIN)/python -m pip install --quiet --no-deps 'workflows-emulator==1.10.0'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lro demo

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

# Every benchmark in bench/ (a test checks the list); bench/RESULTS.md holds their figures.
bench: $(STAMP)
	$(BIN)/python -m bench.lifecycle_sqlite
	$(BIN)/python -m bench.lifecycle_postgres
	$(BIN)/python -m bench.wakeup_latency
	$(BIN)/python -m bench.durable_sqlite
	$(BIN)/python -m bench.durable_postgres
	$(BIN)/python -m bench.durable_spanner
	$(BIN)/python -m bench.get_operation_grpc
	$(BIN)/python -m bench.list_pages
	$(BIN)/python -m bench.list_pages --backend postgresql

clean:
	rm -rf $(VENV) lro-demo.db
