# The two commands of the quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo needs lro alone: a venv of its own, without the development tools.
DEMO_VENV := .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed
# The local Workflows interpreter (workflows-emulator) pins an old FastAPI; it gets a
# venv of its own, which tests/resume/test_workflow_run.py runs as a subprocess.
WORKFLOWS_VENV := .venv-workflows
WORKFLOWS_STAMP := $(WORKFLOWS_VENV)/.installed

.PHONY: demo test lint typecheck deps unit package bench clean

# Each venv is made anew (--clear) when what it installs changes: nothing is left over.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv --clear $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet -e .
	touch $(DEMO_STAMP)

$(WORKFLOWS_STAMP): Makefile
	$(PYTHON) -m venv --clear $(WORKFLOWS_VENV)
	$(WORKFLOWS_VENV)/bin/python -m pip install --quiet 'workflows-emulator==1.10.0'
	touch $(WORKFLOWS_STAMP)

demo: $(DEMO_STAMP)
	$(DEMO_VENV)/bin/lro demo

test: lint typecheck deps unit package

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The installed packages agree with each other's requirements.
deps: $(STAMP) $(WORKFLOWS_STAMP)
	$(BIN)/python -m pip check
	$(WORKFLOWS_VENV)/bin/python -m pip check

unit: $(STAMP) $(WORKFLOWS_STAMP)
	$(BIN)/pytest

# An sdist and a wheel that PyPI would accept.
package: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --quiet --outdir dist .
	$(BIN)/twine check --strict dist/*

# Every benchmark in bench/ (a test checks the list); bench/RESULTS.md holds their figures.
bench: $(STAMP)
	$(BIN)/python -m bench.lifecycle_sqlite
	$(BIN)/python -m bench.lifecycle_postgres
	$(BIN)/python -m bench.wakeup_latency
	$(BIN)/python -m bench.durable_sqlite
	$(BIN)/python -m bench.durable_postgres
	$(BIN)/python -m bench.durable_spanner
	$(BIN)/python -m bench.get_operation_grpc
	$(BIN)/python -m bench.serving_auth
	$(BIN)/python -m bench.serve_waits
	$(BIN)/python -m bench.list_pages
	$(BIN)/python -m bench.list_pages --backend postgresql
	$(BIN)/python -m bench.state_codec
	$(BIN)/python -m bench.wake_parents_postgres
	$(BIN)/python -m bench.otel_overhead
	$(BIN)/python -m bench.lifecycle_aio
	$(BIN)/python -m bench.aio_waits --backend sqlite
	$(BIN)/python -m bench.aio_waits --backend postgresql
	$(BIN)/python -m bench.purge --backend sqlite
	$(BIN)/python -m bench.purge --backend postgresql
	$(BIN)/python -m bench.dbos_two_step

clean:
	rm -rf $(VENV) $(DEMO_VENV) $(WORKFLOWS_VENV) dist lro-demo.db
