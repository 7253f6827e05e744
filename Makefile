# camvault — the two commands a newcomer needs:
#   make demo   the whole story with the real programs on embedded defaults (SQLite + local
#               object store): services, camera, panel, customer, operator, technician, age
#   make test   install everything the tests need (venv, MinIO, PostgreSQL, age, vectors) and run
#               lint + the whole suite against the real servers
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt 2>/dev/null | sha256sum | cut -c1-16)
PYTEST_ARGS ?=

.PHONY: help venv tools lint fmt test web screenshots test-fast demo demo-crypto bench vectors fuzz threat-table clean services-minio services-postgres

help:
	@echo "make demo    - the whole story with the real programs, on embedded defaults"
	@echo "make demo-crypto - the crypto-layer walkthrough (library calls only)"
	@echo "make test    - install tools, lint, run the full test suite on real MinIO/PostgreSQL/age"
	@echo "make screenshots - the browser tests' pictures that docs/USAGE.md shows, into docs/screenshots"
	@echo "make lint    - ruff + mypy + the layer contracts (lint-imports)"
	@echo "make web     - the web app's TypeScript: npm ci, typecheck + tests (shared vectors), build, browser tests (Chromium)"
	@echo "make bench   - benchmarks (results in bench/results/, summary in docs/PERFORMANCE.md)"
	@echo "make vectors - regenerate tests/vectors/*.json"
	@echo "make soak    - load: 500 cameras + 20 operators for 5 min on PostgreSQL + MinIO (SOAK_CAMERAS, SOAK_OPERATORS, SOAK_SECONDS; results in bench/results/soak-*)"
	@echo "make threat-table - run the attack matrix (tests/security/adversaries) and regenerate its table in docs/THREAT_MODEL.md"
	@echo "make fuzz    - parser fuzzers (hypothesis + atheris) FUZZ_SECONDS each (default 60), then schemathesis on both services (FUZZ_SCHEMA_EXAMPLES)"
	@echo "make test-cluster - the compose topology as processes (4-node MinIO, 2 replicas behind HAProxy, 3 custodians) under four faults, with counts (CLUSTER_SECONDS)"
	@echo "make crash   - kill -9 campaign, CRASH_ITERATIONS (default 50) random kills, then both fscks (CRASH_SEED replays; results in build/crash.jsonl)"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# setuptools warns on every editable install of a flat layout (folders named like the
	@# packages); the warning is about that layout, which is deliberate, not about this tree.
	PYTHONWARNINGS=ignore $(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

tools:
	bash scripts/install-tools.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy crypto common storage_service escrow_service witness_service clients camvault demo tests scripts bench web/scripts
	$(VENV)/bin/lint-imports --no-cache

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: venv tools lint web
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The web app's TypeScript (web/): install from package-lock.json, typecheck + unit tests
# (every vector of tests/vectors/ and cross-checks against the Python code), build, then the
# headless Chromium tests (Debian's chromium, never a download) against camvault serve storage.
web: venv tools
	cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund && npm test && npm run build && npm run hashes:check && npm run e2e

screenshots: web
	$(VENV)/bin/python scripts/docs_screenshots.py

test-fast: venv
	$(VENV)/bin/pytest -m "not slow" $(PYTEST_ARGS)

demo: venv
	bash scripts/install-tools.sh age camera models
	$(PY) -m demo.story

demo-crypto: venv
	bash scripts/install-tools.sh age
	$(PY) -m demo.crypto_walkthrough

bench: venv tools
	$(PY) -m bench.run

vectors: venv
	$(PY) scripts/gen_vectors.py

.PHONY: soak
soak: venv tools
	$(PY) -m tests.reliability.load

FUZZ_SECONDS ?= 60
FUZZ_SCHEMA_EXAMPLES ?= 100
fuzz: venv tools
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) -m tests.fuzz.run
	FUZZ_SCHEMA_EXAMPLES=$(FUZZ_SCHEMA_EXAMPLES) FUZZ_SCHEMA_PHASES=examples,coverage,fuzzing \
		$(VENV)/bin/pytest -p no:cacheprovider -q -s tests/fuzz/test_schemas.py

ATTACK_MATRIX ?= build/attack-matrix.json
threat-table: venv tools
	rm -f $(ATTACK_MATRIX)
	CAMVAULT_ATTACK_MATRIX=$(ATTACK_MATRIX) $(VENV)/bin/pytest -p no:cacheprovider -q tests/security/adversaries || true
	$(PY) scripts/threat_table.py --matrix $(ATTACK_MATRIX)

CRASH_ITERATIONS ?= 50
# The deployed topology as processes under faults (also part of make test; this is the
# verbose run, with each scenario's counts printed). CLUSTER_SECONDS lengthens the load.
.PHONY: test-cluster
test-cluster: venv tools
	$(VENV)/bin/pytest -p no:cacheprovider -q -s tests/cluster

.PHONY: crash
crash: venv tools
	mkdir -p build
	CRASH_ITERATIONS=$(CRASH_ITERATIONS) CRASH_REPORT=build/crash.jsonl \
		$(VENV)/bin/pytest -p no:cacheprovider -q -s tests/reliability/test_crash.py -k kill_anything

services-minio: venv tools
	scripts/services.sh minio

services-postgres: venv tools
	scripts/services.sh postgres

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache camvault-data demo-out web/node_modules web/dist
