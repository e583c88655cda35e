# tap-zoho-bulkread: `make demo` runs the main job, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
MELTANO_VENV := .venv-meltano
UV := $(VENV)/bin/uv
export MELTANO_SEND_ANONYMOUS_USAGE_STATS := false
TARGET ?= duckdb

.PHONY: install test test-fast lint demo bench clean

$(VENV)/bin/uv:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet uv

$(VENV)/.installed: pyproject.toml $(VENV)/bin/uv
	$(UV) pip install --quiet --python $(VENV)/bin/python -e ".[dev]"
	touch $@

$(MELTANO_VENV)/.installed: meltano.yml pyproject.toml $(VENV)/bin/uv
	$(UV) venv --quiet --allow-existing --python $(VENV)/bin/python $(MELTANO_VENV)
	$(UV) pip install --quiet --python $(MELTANO_VENV)/bin/python "meltano>=4.4,<4.5"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(MELTANO_VENV)/bin/meltano install
	touch $@

install: $(VENV)/.installed $(MELTANO_VENV)/.installed

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy tap_zoho_bulkread
	$(VENV)/bin/pytest -n 2 --dist loadfile

test-fast: $(VENV)/.installed
	$(VENV)/bin/pytest -n 2 --dist loadfile -m "not slow"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy tap_zoho_bulkread

demo: install
	$(VENV)/bin/python scripts/demo.py $(TARGET)

clean:
	rm -rf $(VENV) $(MELTANO_VENV) .meltano .demo output

bench: $(VENV)/.installed
	$(VENV)/bin/python scripts/bench.py
