# Two commands cover a fresh machine (see README):
#   make console   set everything up, index corpus/, open the console
#   make test      set everything up and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup console ingest test lint bench-ingest bench-search bench-answer bench-model-server bench-discord clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed; run make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

ingest: setup
	$(PY) -m bot ingest

console: ingest
	$(PY) -m bot console

test: setup
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check bot retrieval tests benchmarks

bench-ingest: setup
	$(PY) benchmarks/ingest.py

BENCH_INDEX ?= /tmp/bbc-index
bench-search: setup
	test -f $(BENCH_INDEX)/articles.sqlite || $(PY) -m bot ingest --corpus ../shared/corpora/bbc --index $(BENCH_INDEX)
	$(PY) benchmarks/search.py $(BENCH_INDEX)

bench-answer: ingest
	$(PY) benchmarks/answer.py

bench-model-server: ingest
	$(PY) benchmarks/model_server.py

bench-discord: ingest
	$(PY) benchmarks/discord_load.py

clean:
	rm -rf $(VENV) .index .pytest_cache
