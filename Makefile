# Set-up and everyday commands. `make demo` sets up and runs the main job; `make test` runs the tests.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint

$(BIN)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/budgetml run vectorization

test: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/pytest -m "not slow"
