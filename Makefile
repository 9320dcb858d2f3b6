# Two commands do all the set-up on a fresh machine:
#   make serve   install what is needed, then run authcore on SQLite (./var)
#   make test    install what is needed, then run every check and the full suite
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin

CHROMIUM ?= /usr/bin/chromium
# MIT Kerberos, for the tests only: libkrb5-dev to build the gssapi package of
# the optional `kerberos` extra (it publishes no Linux wheels), the KDC and
# tools for tests/api/test_axidian_windows.py. `make serve` needs none of it.
KERBEROS_PACKAGES := krb5-kdc krb5-admin-server krb5-user libkrb5-dev
KERBEROS_TOOLS    := /usr/sbin/krb5kdc /usr/sbin/kadmin.local /usr/bin/kinit /usr/bin/krb5-config

.PHONY: serve test install generate lint chromium kerberos bench

# What `make serve` runs on: the runtime dependencies only, no root, no apt,
# nothing compiled against system headers.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The checks' tools, and the kerberos extra where libkrb5-dev is installed
# (`kerberos` installs it as root); elsewhere the Windows-logon tests skip.
# Once libkrb5-dev is there, `rm $(BIN)/.installed-dev` to add the extra.
$(BIN)/.installed-dev: $(BIN)/.installed | kerberos
	@if command -v krb5-config >/dev/null; then extras='.[dev,kerberos]'; else \
		extras='.[dev]'; \
		echo "*** libkrb5-dev is missing: installing without the kerberos extra (gssapi);"; \
		echo "*** the Windows-logon tests will be skipped (and fail when CI is set)"; \
	fi; \
	echo "pip install -e '$$extras'"; \
	$(BIN)/python -m pip install --quiet -e "$$extras"
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.installed

# Installed when missing and running as root; otherwise the venv can't build
# gssapi (without libkrb5-dev) and the Windows-logon tests skip (and fail when
# CI is set).
kerberos:
	@missing=; for tool in $(KERBEROS_TOOLS); do [ -x $$tool ] || missing=1; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing MIT Kerberos (gssapi build, tests/api/test_axidian_windows.py)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(KERBEROS_PACKAGES); \
	else \
		echo "*** MIT Kerberos is missing: the kerberos extra (gssapi) needs libkrb5-dev to"; \
		echo "*** build, and the Windows-logon tests skip (fail when CI is set). Install it with:"; \
		echo "*** sudo apt-get install $(KERBEROS_PACKAGES)"; \
	fi

# tests/e2e drives Debian's Chromium (Playwright's own browser downloads are
# not used). Installed when missing and running as root; otherwise the e2e
# tests skip (and fail when CI is set).
# After `kerberos`: two apt-gets must never run at once (make -j).
chromium: | kerberos
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium (for tests/e2e)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "*** $(CHROMIUM) is missing: the browser tests in tests/e2e will be skipped"; \
		echo "*** (and fail when CI is set). Install it with: sudo apt-get install chromium"; \
	fi

serve: $(BIN)/.installed
	$(BIN)/authcore serve

generate: $(BIN)/.installed-dev
	$(BIN)/python scripts/gen_protos.py

lint: $(BIN)/.installed-dev node_modules/.installed
	$(BIN)/python scripts/gen_protos.py --check
	npx --no-install buf lint
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

test: lint chromium
	$(BIN)/pytest

# A smoke run of the scale benchmark (bench/README.md): both storage modes
# with short windows, then the ratio table and issue 14's targets as PASS /
# MISS lines. PostgreSQL + Redis mode needs both on 127.0.0.1 (see --postgres
# and --redis); without them that mode is reported as failed. A measurement,
# not a check: it never fails the build. BENCH_ARGS adds options, e.g.
# BENCH_ARGS="--modes sqlite".
BENCH_ARGS ?=
bench: $(BIN)/.installed-dev
	-$(BIN)/python bench/run_scale_bench.py --quick $(BENCH_ARGS)
