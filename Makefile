# Every target sets up what it needs: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# aws-sam-cli pins boto3 exactly, so it lives in its own tool environment.
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed
SAM_CLI_SPEC := aws-sam-cli>=1.130,<2
# `sam validate --lint` and cfn-lint run offline from AWS: no account, credentials or AWS
# endpoint (only PyPI: the install, and SAM's weekly version check, which may fail quietly).
# The region only selects cfn-lint's regional resource specs.
VALIDATE_REGION := us-east-1
SAM_ENV := SAM_CLI_TELEMETRY=0
# What `sam build` produces and `sam deploy` ships; tests/release checks this very directory.
BUILD_DIR := .aws-sam/build
# An independent judge of the state machines (Step Functions' own rules, such as unique
# state names, that moto and cfn-lint do not check).
NODE_TOOLS := .tools/node
ASL_VALIDATOR := $(NODE_TOOLS)/node_modules/.bin/asl-validator
ASL_VALIDATOR_SPEC := asl-validator@^4.0.0

.PHONY: setup demo test lint bench validate build clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/ipsync-migrator demo

# CI runs only this target, so the template is validated and the artefact built here too.
# pytest-xdist: one worker per CPU, at most TEST_WORKERS; --dist loadfile keeps each test file
# on one worker, so a module's fixtures (tests/e2e/test_iam.py's migrations) run once. Files go
# out in collection order (--no-loadscope-reorder): the few slow e2e tests first, the many fast
# unit tests last to fill the gaps (xdist's default sends the files with most tests first).
# Every server binds 127.0.0.1 port 0 and every scratch path is a per-worker tmp_path, so
# workers share only read-only inputs (.aws-sam/build, .tools). The 30 slowest tests end the
# output.
TEST_WORKERS ?= 4
test: $(STAMP) validate build $(ASL_VALIDATOR)
	ASL_VALIDATOR=$(ASL_VALIDATOR) IPSYNC_BUILD_DIR=$(BUILD_DIR) $(BIN)/pytest -q \
		-n auto --maxprocesses $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations 30

lint: $(STAMP)
	$(BIN)/ruff check functions tests bench
	$(BIN)/ruff format --check functions tests bench
	$(BIN)/mypy

$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check '$(SAM_CLI_SPEC)'
	touch $(SAM_STAMP)

validate: $(STAMP) $(SAM_STAMP)
	$(SAM_ENV) $(SAM) validate --lint --region $(VALIDATE_REGION) --template template.yaml
	$(BIN)/cfn-lint --regions $(VALIDATE_REGION) -- template.yaml
	$(BIN)/cfn-lint --regions $(VALIDATE_REGION) -- member-role.yaml

# No Docker needed: every function and the layer use BuildMethod makefile (functions/Makefile,
# layer/Makefile); pip fetches the layer's arm64 python3.13 wheels, and a python3.13 (PATH,
# pyenv or LAMBDA_PYTHON) compiles the bytecode Lambda would otherwise compile at cold start.
build: $(SAM_STAMP)
	$(SAM_ENV) $(SAM) build --template template.yaml --build-dir $(BUILD_DIR)

$(ASL_VALIDATOR):
	mkdir -p $(NODE_TOOLS)
	npm install --silent --no-audit --no-fund --prefix $(NODE_TOOLS) '$(ASL_VALIDATOR_SPEC)'

# bench.fleet runs a small fleet here (80 deployments over 20 accounts x 2 regions): 1,000 full
# migrations take too long on 2 cores for every `make bench`; docs/benchmarks.md has the
# full size (`python -m bench.fleet --deployments 1000`).
bench: $(STAMP) build
	$(BIN)/python -m bench.discovery
	$(BIN)/python -m bench.artefact
	$(BIN)/python -m bench.migration
	$(BIN)/python -m bench.fleet

# The acceptance suite against a real account, named explicitly (its credentials must be that
# account's): a disposable estate, `sam deploy` of the build, the CLI's whole story, then
# everything deleted (README "Acceptance run": cost, time). `make test` runs the same suite
# on the local runtime.
.PHONY: acceptance
acceptance: $(STAMP) $(SAM_STAMP) build
	IPSYNC_ACCEPTANCE_ENDPOINT=aws \
	IPSYNC_ACCEPTANCE_ACCOUNT='$(or $(ACCOUNT),$(IPSYNC_ACCEPTANCE_ACCOUNT))' \
	IPSYNC_ACCEPTANCE_REGION='$(or $(REGION),$(IPSYNC_ACCEPTANCE_REGION))' \
	SAM=$(SAM) IPSYNC_BUILD_DIR=$(BUILD_DIR) \
	$(BIN)/pytest tests/acceptance/test_acceptance.py -v -s

clean:
	rm -rf $(VENV) .tools .aws-sam .pytest_cache .mypy_cache .ruff_cache
