# Entry points used by README.md and .ci/run.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
PYTEST := $(RUN) pytest
# Every target here is development: services, commands and tests run with CHORUS_APP_ENV=dev unless told.
export CHORUS_APP_ENV ?= dev

.PHONY: install check-servers rabbitmq-accounts browser run test lint typecheck unit integration e2e security test-faults docs bench bench-tools vendor-altcha

install:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

check-servers: install
	@$(RUN) python deploy/local/check_servers.py

## run: the whole platform as local processes (services, SMTP catcher), until Ctrl-C; each service
## connects to RabbitMQ as its own account, created (with development passwords) first
run: check-servers rabbitmq-accounts
	$(RUN) python deploy/local/launcher.py

## rabbitmq-accounts: create (or update) on the local RabbitMQ's / vhost the account of every service
## and external system, with development passwords, allowed only its event types
rabbitmq-accounts: install
	$(RUN) python -m chorus_common rabbitmq-accounts

## test: lint, type checks, unit, integration, end-to-end and security tests
test: check-servers lint typecheck unit integration e2e security

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .

# One mypy run per service: service folders are not importable names, so each is its own base.
typecheck: install
	$(RUN) mypy conftest.py libs deploy tests
	$(RUN) mypy bench
	@set -e; for service in services/*; do echo "mypy $$service"; $(RUN) mypy $$service; done

unit: install
	$(PYTEST) tests/repo libs/common/tests/unit services/*/tests/unit

integration: check-servers
	$(PYTEST) libs/common/tests/integration services/*/tests/integration

# The browser test drives Debian's Chromium (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || (echo "installing Debian's chromium" && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

e2e: check-servers browser
	$(PYTEST) tests/e2e

## security: the authorization matrix, schemathesis over every OpenAPI document, hostile bodies,
## production refusing unsafe settings; on the platform started as processes
security: check-servers
	$(PYTEST) tests/security

## test-faults: processes killed, RabbitMQ stopped, PostgreSQL restarted, poison messages, concurrent
## sweeps, the network to RabbitMQ cut, the SMTP relay stopped or answering 451/550, the flag file
## removed; each test prints what it counted. It stops and restarts the
## local RabbitMQ and PostgreSQL, so it runs on its own (CI runs it after `make test`).
test-faults: check-servers
	$(PYTEST) -s tests/faults

## docs: write each service's OpenAPI and AsyncAPI documents and the event schemas under docs/,
## and the Kubernetes manifests under deploy/k8s/ from their generator
docs: install
	$(RUN) python tests/repo/documents.py --write
	$(RUN) python deploy/k8s/generate.py --write

## bench: every benchmark in bench/, then one table of their figures (printed, and written to
## bench/results/<date>.md and .json); minutes, not part of `make test`
bench: check-servers bench-tools
	$(RUN) python bench/run_all.py

# The HTTP benchmark's load generator is Debian's wrk; the pipeline benchmark's relay is smtp-sink,
# from Debian's postfix (installed unconfigured: no mail system is set up or started).
## vendor-altcha: replace the support portal's pinned copy of the captcha widget (npm package altcha)
ALTCHA_VERSION ?= 3.2.2
vendor-altcha:
	services/support-portal/vendor-altcha.sh $(ALTCHA_VERSION)

bench-tools:
	@command -v wrk >/dev/null 2>&1 && test -x /usr/sbin/smtp-sink || ( \
		echo "installing Debian's wrk and postfix (for smtp-sink)" && apt-get update -qq && \
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk postfix >/dev/null)
