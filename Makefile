# Quick start: `make demo` (main job) and `make test` (test suite). Both create .venv when
# missing and install the project pinned by constraints.txt; a second run skips the install
# unless pyproject.toml or constraints.txt changed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-table test bench lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,data,ray]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/aimc demo

# the demo table as the README's Quick start shows it, from the last `make demo`
# (tests/test_demo.py fails when the README's table differs from what the demo prints)
demo-table: $(STAMP)
	$(BIN)/python -c "import json; from aimc.demo import markdown_table; \
	print(markdown_table(json.load(open('aimc-out/results.json'))))"

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_inference.py

lint: $(STAMP)
	$(BIN)/ruff check aimc tests benchmarks

clean:
	rm -rf $(VENV) aimc-out .pytest_cache
