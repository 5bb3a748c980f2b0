# Set-up and everyday commands. `make demo` sets up, pulls the default local models and runs the
# main job on them; `make test` runs the tests (what CI runs).
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test

$(BIN)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# bubblewrap sandboxes the scripts agents write; the built-in tasks' data comes from Debian
# and R data packages (downloaded once, never installed) and is built here.
setup: $(BIN)/.installed
	scripts/install-system-packages.sh bubblewrap
	$(BIN)/budgetml prepare

demo: setup
	$(BIN)/budgetml models pull
	$(BIN)/budgetml run vectorization

test: setup
	scripts/install-system-packages.sh chromium
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -m "not slow"
