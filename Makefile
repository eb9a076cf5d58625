# Two commands work on a fresh machine with only Python 3 and make: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST := $(BIN)/python -m pytest

.PHONY: setup lint test test-fast demo bench soak browser tests-readme notebooks clean wheel-check

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

# Debian's Chromium for the browser tests (installed when missing and possible; otherwise they skip loudly).
browser:
	@bash scripts/ensure-chromium || true

# ruff and mypy over the package, as pyproject.toml configures them (mypy: strict on client/,
# checked everywhere else); both run, and either failing fails it. .ci/run runs it before the tests.
lint: setup
	@status=0; \
	$(BIN)/python -m ruff check junis_jupyter || status=1; \
	$(BIN)/python -m mypy || status=1; \
	exit $$status

test: setup browser
	$(PYTEST) tests
	$(PYTEST) --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg notebooks

# The suite without the real-browser tests, for quick iteration.
test-fast: setup
	$(PYTEST) tests -m "not browser and not soak"

demo: setup
	$(BIN)/python -m junis_jupyter.cli demo --out build/demo

# jupyter-ai's %%ai beside %%junis (benchmarks/jupyter_ai.py) needs its own environment: made when
# missing; if that fails the bench still runs and the contender's rows say "not installed".
JAI_VENV  := .venv-jupyter-ai
JAI_STAMP := $(JAI_VENV)/.installed-stamp

# Jupyter AI's own persona, Jupyternaut, beside the Junis persona in one Jupyter server
# (benchmarks/persona.py): its environment holds both, made when missing; if that fails, its rows
# say "not installed" and the persona is compared with the bare client stream alone.
NAUT_VENV  := .venv-jupyternaut
NAUT_STAMP := $(NAUT_VENV)/.installed-stamp

bench: setup
	@test -f $(JAI_STAMP) || { { test -x $(JAI_VENV)/bin/python || $(PYTHON) -m venv $(JAI_VENV); } \
	  && $(JAI_VENV)/bin/python -m pip install -q 'jupyter-ai-magics>=2.31,<3' 'langchain-openai>=0.3,<0.4' \
	  && touch $(JAI_STAMP); } || echo "bench: jupyter-ai-magics not installed; its rows will say so"
	@test -f $(NAUT_STAMP) || { { test -x $(NAUT_VENV)/bin/python || $(PYTHON) -m venv $(NAUT_VENV); } \
	  && $(NAUT_VENV)/bin/python -m pip install -q -e '.[jupyter-ai,emulator]' 'jupyter-ai-jupyternaut>=0.1,<0.2' \
	  && touch $(NAUT_STAMP); } || echo "bench: Jupyternaut not installed; its rows will say so"
	$(BIN)/python -m benchmarks.run

# The built wheel alone in a fresh venv: %load_ext, %%junis against an emulator, the chat panel,
# and the emulator's server refusing to import without its extra (.ci/run runs it after `make test`).
wheel-check: setup
	bash scripts/wheel-check

# The unit, client, data and emulator suites on the other Pythons that requires-python (>=3.10)
# claims, and the notebook and reliability suites (real kernels, about 3 minutes more) on the
# oldest of them; `make test` runs everything on .venv's Python (3.11 on CI). Each Python gets its own
# venv, .venv-pyX.Y, made from pyenv's build (scripts/find-python; a Python it cannot find fails
# the target, it is never skipped), with the `test` extra (pyproject.toml says why not `dev`).
# JUNIS_FAIL_ON_SKIP=1: a skipped test fails the run too (tests/conftest.py), so nothing these
# venvs lack goes untested unseen. Every Python runs even if one fails; .ci/run calls this.
PYTHONS   ?= 3.10 3.13
PY_SUITES := tests/unit tests/client tests/data tests/emulator
PY_KERNEL_SUITES := tests/notebook tests/reliability
PY_KERNEL_PYTHON ?= 3.10

.PHONY: test-pythons

.venv-py%/.installed-stamp: pyproject.toml
	@py=$$(bash scripts/find-python $*) && { test -x .venv-py$*/bin/python || "$$py" -m venv .venv-py$*; }
	.venv-py$*/bin/python -m pip install -q --upgrade pip
	.venv-py$*/bin/python -m pip install -q -e '.[test]'
	@touch $@

test-pythons: $(PYTHONS:%=.venv-py%/.installed-stamp)
	@failed=; for v in $(PYTHONS); do \
	  suites="$(PY_SUITES)"; \
	  if [ "$$v" = "$(PY_KERNEL_PYTHON)" ]; then suites="$$suites $(PY_KERNEL_SUITES)"; fi; \
	  .venv-py$$v/bin/python -c 'import sys, pandas; print("test-pythons: Python", \
	    sys.version.split()[0], "with pandas", pandas.__version__, "-", sys.argv[1])' "$$suites"; \
	  JUNIS_FAIL_ON_SKIP=1 .venv-py$$v/bin/python -m pytest -q -p no:cacheprovider -m "not soak" \
	    $$suites || failed="$$failed $$v"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-pythons: failed on Python$$failed"; exit 1; fi

# Load tests (thousands of calls, several processes); .ci/run runs them after `make test`.
soak: setup
	JUNIS_SOAK=1 $(PYTEST) tests -m soak

# The committed tests/README.md, from the fault matrix's own run (which writes build/fault-matrix.md).
tests-readme: setup
	$(PYTEST) tests/reliability/test_faults_matrix.py -q
	cp build/fault-matrix.md tests/README.md

# The example notebooks' stored outputs (what nbval compares), from a run against the emulator.
notebooks: setup
	$(BIN)/python scripts/refresh-notebooks

clean:
	rm -rf build .pytest_cache
