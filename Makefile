# trainlab: `make` sets up .venv and runs the default training; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch where that is what the machine has (pip finds it offline here);
# on a CUDA machine: make TORCH="torch" (or any torch>=2.2 build you prefer).
TORCH ?= torch==2.13.0

.PHONY: all setup train test lint format clean course browser postgresql

all: train

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev,scale]"
	touch $@

train: setup
	$(BIN)/python train.py

test: setup lint browser postgresql
	$(BIN)/python -m pytest

# The course page's browser check (tests/course/test_course_browser.py) needs Chromium: in CI (root,
# Debian) it is installed here; elsewhere the check is skipped without it (apt-get install chromium).
browser:
	@if [ "$$CI" = "true" ] && ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

# The shared-study tests (tests/test_study_storage.py) start a PostgreSQL server of their own with
# initdb (Debian keeps it in /usr/lib/postgresql/<version>/bin): in CI (root, Debian) the package is
# installed here; elsewhere those tests are skipped without it (apt-get install postgresql).
postgresql:
	@if [ "$$CI" = "true" ] && ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		&& command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; fi

# The lecture's claims, measured: outputs/course/index.html (README, "The course, reproduced").
course: setup
	$(BIN)/python -m trainlab.course --out outputs/course

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) outputs/20* outputs/multirun .pytest_cache .ruff_cache
