# The README's two commands:
#   make demo   set up everything, then run the pipeline end to end on the embedded stack
#   make test   set up everything, then run the whole test suite (what CI runs)
# Set-up is idempotent: a virtualenv in .venv with the project installed editable, and
# the Kafka broker's jars resolved by Maven into ~/.cache/fraudstream (once).
# Python dependencies are constrained by requirements/image.lock, the lock the compose
# image installs, so both deployments run the same versions (`make lock` renews it).

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast qtt bench clean lock

$(STAMP): pyproject.toml requirements/image.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found: install Python 3.11" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]' -c requirements/image.lock
	@touch $(STAMP)

setup: $(STAMP)
	$(PY) -m fraudstream.embedded.kafka resolve
	$(PY) -m tests.support.compose_schema

demo: setup
	$(VENV)/bin/fraudstream demo

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

qtt: setup
	$(PY) -m tests.conformance.qtt

bench: setup
	$(PY) bench/produce.py

# Re-resolve the image's dependencies (pyproject.toml, with the notebook extra, and the
# build backend) for the image's Python from .env, on every platform Docker runs on.
lock: $(STAMP)
	$(PY) -m pip install --quiet uv
	. ./.env && $(VENV)/bin/uv pip compile pyproject.toml requirements/image-build.in --extra notebook \
	  --universal --python-version "$$PYTHON_VERSION" --quiet -o requirements/image.lock \
	  --custom-compile-command "make lock (Python $$PYTHON_VERSION, from .env)"

clean:
	rm -rf $(VENV) build *.egg-info
