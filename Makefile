# Every target sets up what it needs: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# aws-sam-cli pins boto3 exactly, so it lives in its own tool environment.
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam

.PHONY: setup demo test lint bench validate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/ipsync-migrator demo

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check functions tests bench
	$(BIN)/ruff format --check functions tests bench
	$(BIN)/mypy

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet 'aws-sam-cli>=1.130,<2'

validate: $(STAMP) $(SAM)
	AWS_DEFAULT_REGION=us-east-1 $(SAM) validate --lint --template template.yaml
	$(BIN)/cfn-lint template.yaml

bench: $(STAMP)
	$(BIN)/python -m bench.discovery

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
