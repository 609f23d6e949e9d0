# Two entry points (see README):
#   make demo   set everything up in .venv and run the demo course end to end
#   make test   set everything up in .venv and run the tests
#   make hub    a local JupyterHub with the course (an instructor, three students): README, "Try the term on a local hub"
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(abspath $(VENV))/bin
# nbgrader shells out to alembic, so the venv's bin must be on PATH.
export PATH := $(BIN):$(PATH)
# Offline Matbench data: use ../shared/matbench-data when it is there (CI, computer rooms with a
# pre-filled cache); otherwise matminer downloads the data sets itself on first use.
SHARED_DATA := $(abspath ../shared/matbench-data)
ifeq ($(origin MATMINER_DATA), undefined)
ifneq ($(wildcard $(SHARED_DATA)/matbench_expt_gap.json.gz),)
export MATMINER_DATA := $(SHARED_DATA)
endif
endif
# Three test processes, a whole test file each (its module fixtures built once): on two cores most of a
# serial run waits on kernels starting, sandboxes and subprocesses. PYTEST_ARGS="--durations=25" runs serially.
TEST_WORKERS ?= 3
PYTEST_ARGS ?= --durations=25 -n $(TEST_WORKERS) --dist loadfile
# The local hub (`make hub`): its files under HUB_DIR, served on HUB_IP:HUB_PORT.
HUB_DIR  ?= .hub
HUB_IP   ?= 127.0.0.1
HUB_PORT ?= 8000
HUB_PROXY_VERSION := 5.3.0

.PHONY: setup system-packages demo test test-all lint benchmarks clean hub-setup hub

$(VENV)/.installed: pyproject.toml source/research_challenge/requirements.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The course environment (what submissions may import), then matbench without its stale pins.
	$(BIN)/python -m pip install --quiet -r source/research_challenge/requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps matbench==0.6
	# The toolkit with the instructor's stack (the `grader` extra; students install the checker alone).
	$(BIN)/python -m pip install --quiet -e '.[grader,test]'
	touch $@

# bubblewrap sandboxes the graded notebooks; chromium renders the feedback pages in the tests.
# Installed with apt when we are root and they are missing; otherwise we say what is missing.
system-packages:
	@missing=""; command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "Note: not installed:$$missing (sudo apt-get install$$missing). Grading without bubblewrap needs --allow-unsandboxed."; fi; \
	fi

setup: $(VENV)/.installed system-packages

demo: setup
	$(BIN)/autograder demo --course demo-course

# JupyterHub (the `hub` extra) and its proxy (configurable-http-proxy, from npm, into the venv); only `make hub` needs them
$(VENV)/.hub-installed: $(VENV)/.installed pyproject.toml
	command -v npm >/dev/null || { echo "make hub needs node and npm (apt-get install nodejs npm)"; exit 2; }
	$(BIN)/python -m pip install --quiet -e '.[grader,test,hub]'
	npm install --silent --no-fund --no-audit --prefix $(VENV)/hub-proxy configurable-http-proxy@$(HUB_PROXY_VERSION)
	touch $@

hub-setup: setup $(VENV)/.hub-installed

# Ctrl-C stops the hub, its proxy and every user's server
hub: hub-setup
	$(BIN)/python hub/run.py --dir $(HUB_DIR) --ip $(HUB_IP) --port $(HUB_PORT)

# CI runs `make test`: everything but the few longest end-to-end runs (marked `extended`);
# `make test-all` runs those too.
test: setup lint
	$(BIN)/python -m pytest -m "not extended" $(PYTEST_ARGS)

test-all: setup lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# the rule sets are in pyproject.toml ([tool.ruff.lint], [tool.mypy] with the folders not yet typed); `ruff format autograder tests` fixes the layout
lint: setup
	$(BIN)/ruff check autograder tests hub
	$(BIN)/ruff format --check autograder tests hub
	$(BIN)/mypy

benchmarks: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo-course $(HUB_DIR)
