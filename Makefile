# tap-zoho-bulkread: `make demo` runs the main job, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
MELTANO_VENV := .venv-meltano
UV := $(VENV)/bin/uv
export MELTANO_SEND_ANONYMOUS_USAGE_STATS := false
TARGET ?= duckdb

.PHONY: install test test-fast lint demo bench fuzz clean

$(VENV)/bin/uv:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet uv

$(VENV)/.installed: pyproject.toml emulator/pyproject.toml $(VENV)/bin/uv
	$(UV) pip install --quiet --python $(VENV)/bin/python -e ".[fast]" -e ./emulator --group dev
	touch $@

$(MELTANO_VENV)/.installed: meltano.yml pyproject.toml $(VENV)/bin/uv
	$(UV) venv --quiet --allow-existing --python $(VENV)/bin/python $(MELTANO_VENV)
	$(UV) pip install --quiet --python $(MELTANO_VENV)/bin/python "meltano[postgres]>=4.4,<4.5"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(MELTANO_VENV)/bin/meltano install
	touch $@

install: $(VENV)/.installed $(MELTANO_VENV)/.installed

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy tap_zoho_bulkread emulator/zoho_bulkread_emulator
	# three workers on two cores: most tests wait on a subprocess or a job, not the CPU
	$(VENV)/bin/pytest -n 3 --dist loadfile

# the unit tier: in-process tests of one part each, in seconds
test-fast: $(VENV)/.installed
	$(VENV)/bin/pytest -n 2 --dist loadfile tests/unit

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy tap_zoho_bulkread emulator/zoho_bulkread_emulator

demo: install
	$(VENV)/bin/python scripts/demo.py $(TARGET)

clean:
	rm -rf $(VENV) $(MELTANO_VENV) .meltano .demo output

# the exact-export check of `make test` on 1,000 generated exports instead of a few
fuzz: $(VENV)/.installed
	EXACT_EXPORT_SEEDS=$${SEEDS:-1000} EXACT_EXPORT_FIRST_SEED=$${FIRST_SEED:-1000} \
		$(VENV)/bin/pytest -n 2 -q -p no:randomly tests/unit/test_exact_exports.py \
		-k test_every_decoder_and_output_reads_a_generated_export_exactly

bench: $(VENV)/.installed
	$(VENV)/bin/python scripts/bench.py
