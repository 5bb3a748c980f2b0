# Set-up and everyday commands. `make demo` sets up, pulls the default local models and runs the
# main job on them; `make test` runs the tests (what CI runs).
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test

# llama.cpp is compiled for a portable x86-64 (AVX2, FMA, F16C), not for this CPU: built for a
# CPU with AMX it runs AMX tile instructions, which crash (SIGSEGV at ldtilecfg) where the
# kernel or VM does not enable AMX for the process, as on some cloud VMs. No cache, so a wheel
# built earlier with other flags is not reused.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON

$(BIN)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet --no-cache-dir -c constraints.txt 'llama-cpp-python[server]'
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
