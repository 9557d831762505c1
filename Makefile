# The two commands a newcomer needs: `make report` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: report test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,fast]'
	$(BIN)/python -m ipykernel install --sys-prefix --name cemkit --display-name "cemkit (Python 3)" >/dev/null
	touch $(STAMP)

## make report: create .venv, install, run the auto pack on its synthetic demo data into reports/
report: $(STAMP)
	$(BIN)/cemkit run --pack auto --out reports

## make test: install test extras and run the whole test suite on every core (pytest-xdist; a test file runs
## whole on one worker, so a module's demo run is made once)
XDIST := -n auto --dist loadfile
test: $(STAMP)
	$(BIN)/python -m pytest -q $(XDIST)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q $(XDIST) -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_run.py

clean:
	rm -rf $(VENV) reports/*/ .pytest_cache
