# sitaware developer entry points. `make demo` runs the main job, `make test` the tests.
# Both set up everything on a fresh Debian machine: system packages, a virtualenv, the
# Kafka jars (Maven Central), ClickHouse (Debian), then the local stack.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test install stack-up stack-down clean-venv

$(STAMP): pyproject.toml deploy/install-system-deps.sh
	deploy/install-system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

stack-up: install
	$(BIN)/sitaware stack up

stack-down:
	$(BIN)/sitaware stack down

demo: stack-up
	$(BIN)/sitaware demo

test: stack-up
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
