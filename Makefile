# Two commands do all the set-up on a fresh machine:
#   make serve   install what is needed, then run authcore on SQLite (./var)
#   make test    install what is needed, then run every check and the full suite
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin

.PHONY: serve test install generate lint

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.installed

serve: $(BIN)/.installed
	$(BIN)/authcore serve

generate: $(BIN)/.installed
	$(BIN)/python scripts/gen_protos.py

lint: $(BIN)/.installed node_modules/.installed
	$(BIN)/python scripts/gen_protos.py --check
	npx --no-install buf lint
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

test: lint
	$(BIN)/pytest
