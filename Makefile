# The README's two commands: `make quickstart` and `make test`. Both create .venv when missing,
# install the package (re-installing only when pyproject.toml changed) and run.
PYTHON ?= python3
VENV ?= .venv
# CPU build from this machine's disk; GPU users: make TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
# Small models on few cores: one thread per process is several times faster than torch's default
# (thread oversubscription); override with OMP_NUM_THREADS=N make ...
export OMP_NUM_THREADS ?= 1
STAMP := $(VENV)/.dnd-installed

.PHONY: quickstart test install

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e '.[test,logging,refractive,teachers]'
	touch $(STAMP)

quickstart: $(STAMP)
	$(BIN)/dnd quickstart

test: $(STAMP)
	$(BIN)/python -m pytest -q
