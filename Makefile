# Two commands for a newcomer (see README.md):
#   make book   create .venv, install everything, execute every chapter, write _build/html
#   make test   the whole test suite, including a fresh strict build of the book
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LABSETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json

.PHONY: venv book notebooks test test-fast lint lab bench binder-check clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install --no-deps --no-build-isolation -e .
	$(BIN)/python tools/lab_settings.py $(LABSETTINGS)
	$(BIN)/python -c "from lstm_lib.nn import compiled; compiled.report()"
	touch $@

book: $(STAMP)
	$(BIN)/python tools/book.py

# the executed chapters as .ipynb in _build/notebooks/ (for Colab and downloads), from the
# execution cache of `make book`, which must run first
notebooks: $(STAMP)
	$(BIN)/python tools/notebooks.py

# one BLAS/OpenMP thread per test worker: the workers already use every core
test: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n auto --dist loadgroup

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not book"

lint: $(STAMP)
	$(BIN)/ruff check .

# chapters open as notebooks, MyST rendered by jupyterlab-myst, check cells and solution code
# collapsed (tools/lab_settings.py, tools/lab_contents.py)
lab: $(STAMP)
	$(BIN)/python tools/lab_settings.py $(LABSETTINGS) --server-config _build/lab/jupyter_server_config.py
	$(BIN)/jupyter lab --config=_build/lab/jupyter_server_config.py chapters/

bench: $(STAMP)
	$(BIN)/python bench/bench_rnn.py $(BENCH_ARGS)

# Binder's environment from .binder/ in a fresh venv, then every chapter executed in it (slow;
# add --no-cpu-index where PyTorch's wheel index is out of reach)
binder-check: $(STAMP)
	$(BIN)/python tools/binder_check.py _build/binder-venv $(BINDER_FLAGS)

clean:
	rm -rf _build .pytest_cache .hypothesis .ruff_cache
