# Two commands cover a fresh machine (see README):
#   make console   set everything up, index corpus/, open the console
#   make test      set everything up and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# llama.cpp builds for this CPU (-march=native) but without its Intel AMX kernels: on a Xeon
# with AMX under a VM they crashed every model call (SIGSEGV in ggml_backend_amx_mul_mat).
# A compiler too old to know AMX cannot emit it, so the flags are only passed where accepted.
# Native without AMX answered 30 % faster here than a portable AVX2 build.
LLAMA_CFLAGS ?= $(shell echo 'int x;' | $(CC) -x c -mno-amx-tile -c -o /dev/null - 2>/dev/null && echo -mno-amx-tile -mno-amx-int8 -mno-amx-bf16)

.PHONY: setup console ingest test fuzz lint eval eval-bbc calibrate bench-ingest bench-search bench-answer bench-contention bench-model-server bench-discord bench-injection bench-feeds bench-kill bench-small-files clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed; run make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	@# llama.cpp builds from source; see LLAMA_CFLAGS above.
	CFLAGS="$(LLAMA_CFLAGS)" CXXFLAGS="$(LLAMA_CFLAGS)" $(PY) -m pip install --quiet 'llama-cpp-python>=0.3'
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

ingest: setup
	$(PY) -m bot ingest

console: ingest
	$(PY) -m bot console

test: setup
	$(PY) -m pytest

# Loading, cleaning, chunking and dates on >= 10,000 generated inputs (odd Unicode case,
# deep nesting, punctuation runs, bad file names); prints cases, crashes and the slowest.
fuzz: setup
	$(PY) -m pytest tests/retrieval/test_fuzz.py --hypothesis-profile=fuzz -q

lint: setup
	$(PY) -m ruff check bot retrieval tests benchmarks

# Answer quality with 95 % intervals and the risk/coverage curve, tune and holdout.
eval: ingest
	$(PY) -m bot eval eval/seed --answers --mode hybrid

BENCH_INDEX ?= /tmp/bbc-index
$(BENCH_INDEX)/articles.sqlite: | setup
	$(PY) -m bot ingest --corpus ../shared/corpora/bbc --index $(BENCH_INDEX)

eval-bbc: setup $(BENCH_INDEX)/articles.sqlite
	$(PY) -m bot eval eval/bbc --answers --mode hybrid --index $(BENCH_INDEX)

# Refit bot/confidence-$(MODEL).json: record every candidate (MIN_CONFIDENCE=0, the judge on,
# no time budget) of answer model MODEL on tune and holdout, and the conversation sets; fit
# on tune only (the follow-up offset on the tune conversations), and print the curves
# (holdout re-scored, never fitted on).
RUNS ?= .runs
MODEL ?= qwen-1.5b
RECORD := ANSWER_MODEL=$(MODEL) MIN_CONFIDENCE=0 JUDGE=on LLM_TIME_BUDGET_SECONDS=300
# Conversations at the default threshold, so earlier turns are answered (or declined) as
# members see them; every follow-up's candidate is recorded all the same.
CONVERSE := ANSWER_MODEL=$(MODEL) JUDGE=on LLM_TIME_BUDGET_SECONDS=300 REWRITE_SECONDS=120
calibrate: ingest $(BENCH_INDEX)/articles.sqlite
	mkdir -p $(RUNS)
	for split in tune holdout; do \
	  $(RECORD) $(PY) -m bot eval eval/seed_$$split.jsonl --answers --mode hybrid --json > $(RUNS)/$(MODEL)_seed_$$split.json && \
	  $(RECORD) $(PY) -m bot eval eval/bbc_$$split.jsonl --answers --mode hybrid --json --index $(BENCH_INDEX) > $(RUNS)/$(MODEL)_bbc_$$split.json || exit 1; \
	done
	for split in tune holdout; do \
	  $(CONVERSE) $(PY) -m bot eval eval/followup_seed_$$split.jsonl --answers --mode hybrid --json > $(RUNS)/$(MODEL)_followup_seed_$$split.json && \
	  $(CONVERSE) $(PY) -m bot eval eval/followup_bbc_$$split.jsonl --answers --mode hybrid --json --index $(BENCH_INDEX) > $(RUNS)/$(MODEL)_followup_bbc_$$split.json || exit 1; \
	done
	ANSWER_MODEL=$(MODEL) $(PY) -m bot calibrate $(RUNS)/$(MODEL)_seed_tune.json $(RUNS)/$(MODEL)_bbc_tune.json \
	  --follow-ups $(RUNS)/$(MODEL)_followup_seed_tune.json $(RUNS)/$(MODEL)_followup_bbc_tune.json \
	  --holdout $(RUNS)/$(MODEL)_seed_holdout.json $(RUNS)/$(MODEL)_bbc_holdout.json $(RUNS)/$(MODEL)_followup_seed_holdout.json $(RUNS)/$(MODEL)_followup_bbc_holdout.json

bench-ingest: setup
	$(PY) benchmarks/ingest.py

# FILES one-paragraph files (default 200,000) against the BBC corpus: cold-ingest sentences/s.
FILES ?= 200000
bench-small-files: setup
	$(PY) benchmarks/small_files.py $(FILES)

bench-search: setup $(BENCH_INDEX)/articles.sqlite
	$(PY) benchmarks/search.py $(BENCH_INDEX)

bench-answer: ingest
	$(PY) benchmarks/answer.py

bench-contention: ingest
	$(PY) benchmarks/contention.py

bench-model-server: ingest
	$(PY) benchmarks/model_server.py

bench-discord: ingest
	$(PY) benchmarks/discord_load.py

# Injections caught (written for the tests) and BBC sentences the detector would drop.
bench-injection: setup
	$(PY) benchmarks/injection.py

# /add of loopback pages and a feed poll of 20 new entries, with the real model.
bench-feeds: setup
	$(PY) benchmarks/feeds.py

# SIGKILL add, a feed poll's write and a sync's commit, ten times each at random moments.
bench-kill: setup
	$(PY) benchmarks/kill_points.py 10

clean:
	rm -rf $(VENV) .index .pytest_cache
