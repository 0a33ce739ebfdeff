# SparkAI Stream. `make run` serves the whole API locally; `make test` runs every test tier.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bootstrapped
PYTEST := $(VENV)/bin/pytest
# Pass options to the local stack, e.g. `make run ARGS="--model scripted"`.
ARGS ?=

.PHONY: help typecheck run test test-unit test-functional test-template test-toolchain test-local test-sdk test-php bench bench-peer lint format build validate deploy deploy-dashboard test-browser lock clean test-js test-contract openapi

help:
	@echo "make run       the whole API on http://127.0.0.1:3000 (local DynamoDB, local SageMaker, SmolLM2)"
	@echo "make test      every test tier: unit, functional, template, local (real processes), SDK"
	@echo "make test-php  the PHP SDK's unit suite (installs Debian's PHP when missing, as root)"
	@echo "make test-js   the JS SDK's unit suite (npm ci from the lockfile, build, node --test)"
	@echo "make test-contract  Schemathesis against the local stack from its /openapi.json"
	@echo "make openapi   regenerate docs/openapi.yaml from the app"
	@echo "make bench     benchmarks (cold imports, per-request overhead, streaming, limiter, local model)"
	@echo "make bench-peer  SparkAI next to LiteLLM's proxy (pinned, throwaway venv), same local backend"
	@echo "make lint      ruff check + format check"
	@echo "make build     sam build;  make deploy: sam deploy (samconfig.toml, ENV=default|prod)"

$(STAMP): pyproject.toml requirements-dev.txt layers/sparkai/requirements.txt sdk/python/pyproject.toml scripts/bootstrap.sh
	scripts/bootstrap.sh
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m sparkai_local $(ARGS)

# --max-worker-restart=0: a crashed worker (SIGILL, SIGSEGV) fails the run at once. Replacing it
# under --dist loadgroup can deadlock pytest-xdist 3.8 (pytest-dev/pytest-xdist#1323, #1378).
# --dist loadfile keeps each test file on one worker (its module-scoped local stack, its ordering).
# Not loadgroup: under pytest 9, xdist 3.8's loadgroup silently ignores xdist_group marks (it
# renames item._nodeid, which pytest 9 no longer reads), so groups were split across workers.
test: $(STAMP)
	@scripts/ensure-php.sh || [ $$? -eq 2 ]  # PHP before tests/local, which runs the PHP SDK's local suite
	@scripts/ensure-js.sh || [ $$? -eq 2 ]  # Node, npm ci and the JS build: tests/local runs its local suite
	@scripts/ensure-curl.sh || [ $$? -eq 2 ]  # curl: tests/local runs the README's curl example
	$(VENV)/bin/mypy
	$(PYTEST) tests -n 2 --dist loadfile --max-worker-restart=0
	cd sdk/python && ../../$(PYTEST) -q
	@$(MAKE) --no-print-directory test-php
	@$(MAKE) --no-print-directory test-js

test-unit: $(STAMP)
	$(PYTEST) tests/unit
test-functional: $(STAMP)
	$(PYTEST) tests/functional
test-template: $(STAMP)
	$(PYTEST) tests/template
test-toolchain: $(STAMP)
	$(PYTEST) tests/toolchain
test-local: $(STAMP)
	$(PYTEST) tests/local
test-sdk: $(STAMP)
	cd sdk/python && ../../$(PYTEST) -q
# The JS SDK's unit suite (its local suite runs in tests/local/test_js_sdk.py); skipped, loudly,
# when Node.js cannot be installed here (ensure-js.sh exits 2 after saying why).
test-js:
	@scripts/ensure-js.sh; status=$$?; \
	if [ $$status -eq 2 ]; then echo "make test-js: SKIPPED (Node.js is not installed; see the line above)"; exit 0; fi; \
	if [ $$status -ne 0 ]; then exit $$status; fi; \
	cd sdk/js && node --test test/unit/*.test.mjs  # files, not a folder: Node 18 to 22 agree on those
test-contract: $(STAMP)
	$(PYTEST) tests/contract
openapi: $(STAMP)
	$(PY) scripts/openapi.py
# The PHP SDK's unit suite (its local suite runs in tests/local/test_php_sdk.py). ensure-php.sh
# exits 2 when PHP cannot be installed here, after printing why: the tier is then skipped, loudly.
test-php:
	@scripts/ensure-php.sh; status=$$?; \
	if [ $$status -eq 2 ]; then echo "make test-php: SKIPPED (PHP is not installed; see the line above)"; exit 0; fi; \
	if [ $$status -ne 0 ]; then exit $$status; fi; \
	cd sdk/php && phpunit --testsuite unit

bench: $(STAMP)
	$(PY) -m benchmarks

# LiteLLM's proxy side by side, from a pinned throwaway venv in ~/.cache/sparkai (never a project dependency).
bench-peer: $(STAMP)
	$(PY) -m benchmarks.peer $(ARGS)

lint: $(STAMP) typecheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy --strict over every code root ([tool.mypy] in pyproject.toml); make test runs it first.
typecheck: $(STAMP)
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

build: $(STAMP)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/sam build

validate: $(STAMP)
	$(VENV)/bin/sam validate --lint

ENV ?= default
deploy: build
	$(VENV)/bin/sam deploy --config-env $(ENV)

# The dashboard's files and config.json (from the stack's outputs) to its bucket; after `deploy`.
STACK ?= sparkai-stream
deploy-dashboard: $(STAMP)
	$(PY) -m sparkai_admin.dashboard_publish --stack $(STACK)

test-browser: $(STAMP)
	$(PYTEST) tests/browser

lock: $(STAMP)
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile -q --no-emit-index-url --no-emit-find-links \
	  --strip-extras layers/sparkai/requirements.in -o layers/sparkai/requirements.txt
	scripts/lock-dev.sh $(ARGS)

clean:
	rm -rf .aws-sam build .pytest_cache .ruff_cache
