# make install | run | test | lint | clean   (see README.md)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV   := .venv
FLASK  := $(VENV)/bin/flask --app app
HOST   ?= 127.0.0.1
PORT   ?= 5000
VENDOR := app/static/vendor
NM     := node_modules
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Stamps: a second `make install` does nothing unless the inputs changed.
PY_STAMP     := $(VENV)/.install-stamp
VENDOR_STAMP := $(VENDOR)/.install-stamp

.PHONY: help install system-deps python-deps vendor run serve-prod bench test lint clean distclean

help:
	@echo "make install  venv + pip install -e '.[dev]', postgresql, chromium, dovecot, slapd, poppler (apt, if missing), npm assets"
	@echo "make run      install, init-db, deploy, demo, then serve http://$(HOST):$(PORT) with the timer worker,"
	@echo "             the outbox sender and, when IMAP_URL is set, the mail fetcher"
	@echo "make serve-prod  db upgrade (pending migrations), deploy, then gunicorn (gunicorn.conf.py), a timer worker and an outbox sender (README, Production: Upgrades)"
	@echo "make bench    run the benchmark (bench/run.py) and print its table"
	@echo "make test     install, then scripts/test.sh (private PostgreSQL, ruff, pytest; ARGS='...' for pytest)"
	@echo "make lint     ruff check app tests bench"
	@echo "make clean    remove node_modules, vendored assets and caches (keeps .venv and instance/)"

install: system-deps python-deps vendor

# System packages, only when missing: no apt at all when both are there.
system-deps:
	@missing=""; \
	bin=$$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1); \
	if ! { [ -n "$$bin" ] && [ -x "$$bin/initdb" ]; } \
	   && ! { command -v pg_config >/dev/null && [ -x "$$(pg_config --bindir)/initdb" ]; }; then \
	    missing="$$missing postgresql"; fi; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/sbin/dovecot ] || missing="$$missing dovecot-imapd"; \
	[ -x /usr/sbin/slapd ] || missing="$$missing slapd"; \
	command -v ldapadd >/dev/null || missing="$$missing ldap-utils"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	ldconfig -p | grep -q libpangoft2-1.0 || missing="$$missing libpango-1.0-0 libpangoft2-1.0-0"; \
	[ -f /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf ] || missing="$$missing fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	    echo "Installing system packages:$$missing"; \
	    $(SUDO) apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q$$missing; \
	fi

python-deps: $(PY_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

vendor: $(VENDOR_STAMP)

# Distribution files copied as they are; one bundle is built: bpmnlint for the modeler (frontend/lint/: the
# rules packed by bpmnlint-pack-config from bpmnlintrc.json, then bundled with bpmn-js-bpmnlint by esbuild).
# node_modules/ and $(VENDOR)/ are ignored by git.
LINT_PACKED := $(NM)/.cache/bpmnlint/packed-config.mjs
$(VENDOR_STAMP): package.json package-lock.json Makefile frontend/lint/entry.js frontend/lint/bpmnlintrc.json
	npm ci --no-audit --no-fund
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/bpmn-js $(VENDOR)/bpmn-js-properties-panel $(VENDOR)/camunda-bpmn-moddle $(VENDOR)/chart.js \
	         $(VENDOR)/dmn-js $(VENDOR)/bpmnlint $(dir $(LINT_PACKED))
	$(NM)/.bin/bpmnlint-pack-config -c frontend/lint/bpmnlintrc.json -o $(LINT_PACKED) -t es
	$(NM)/.bin/esbuild frontend/lint/entry.js --bundle --minify --format=iife --legal-comments=eof \
	    --alias:bpmnlint-packed-config=./$(LINT_PACKED) --outfile=$(VENDOR)/bpmnlint/bpmnlint-bundle.js
	cp $(NM)/bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css $(VENDOR)/bpmnlint/
	cp $(NM)/bpmn-js/dist/bpmn-modeler.production.min.js \
	   $(NM)/bpmn-js/dist/bpmn-viewer.production.min.js \
	   $(NM)/bpmn-js/dist/bpmn-navigated-viewer.production.min.js $(VENDOR)/bpmn-js/
	cp -r $(NM)/bpmn-js/dist/assets $(VENDOR)/bpmn-js/assets
	cp $(NM)/bpmn-js-properties-panel/dist/bpmn-js-properties-panel.umd.js $(VENDOR)/bpmn-js-properties-panel/
	cp $(NM)/@bpmn-io/properties-panel/dist/assets/properties-panel.css $(VENDOR)/bpmn-js-properties-panel/
	cp $(NM)/camunda-bpmn-moddle/resources/camunda.json $(VENDOR)/camunda-bpmn-moddle/
	cp $(NM)/chart.js/dist/chart.umd.js $(VENDOR)/chart.js/
	cp $(NM)/dmn-js/dist/dmn-modeler.production.min.js $(NM)/dmn-js/dist/dmn-viewer.production.min.js $(VENDOR)/dmn-js/
	cp -r $(NM)/dmn-js/dist/assets $(VENDOR)/dmn-js/assets
	for p in bpmn-js bpmn-js-properties-panel camunda-bpmn-moddle chart.js dmn-js; do \
	    cp $(NM)/$$p/LICENSE* $(VENDOR)/$$p/ 2>/dev/null || true; done
	cp $(NM)/bpmnlint/LICENSE $(VENDOR)/bpmnlint/LICENSE.bpmnlint
	cp $(NM)/bpmn-js-bpmnlint/LICENSE $(VENDOR)/bpmnlint/LICENSE.bpmn-js-bpmnlint
	for p in bpmn-js bpmn-js-properties-panel @bpmn-io/properties-panel camunda-bpmn-moddle chart.js dmn-js \
	         bpmnlint bpmn-js-bpmnlint; do \
	    echo "$$p $$(node -p "require('./$(NM)/$$p/package.json').version")"; done > $(VENDOR)/VERSIONS.txt
	touch $@

run: install
	$(FLASK) init-db
	$(FLASK) deploy
	$(FLASK) demo
	@$(FLASK) timers run & timers=$$!; $(FLASK) outbox send & outbox=$$!; mail=; \
	if [ -n "$$IMAP_URL" ]; then $(FLASK) mail fetch & mail=$$!; fi; \
	trap 'kill $$timers $$outbox $$mail 2>/dev/null; wait $$timers $$outbox $$mail 2>/dev/null' EXIT; \
	trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

# Production-like: pending migrations applied first (flask db upgrade: README, Production, Upgrades, says what it
# locks), then several gunicorn workers (metrics summed across them: gunicorn.conf.py), one timer and one outbox worker.
serve-prod: install
	$(FLASK) db upgrade
	$(FLASK) deploy
	@$(FLASK) timers run & timers=$$!; $(FLASK) outbox send & outbox=$$!; mail=; \
	if [ -n "$$IMAP_URL" ]; then $(FLASK) mail fetch & mail=$$!; fi; \
	trap 'kill $$timers $$outbox $$mail 2>/dev/null; wait $$timers $$outbox $$mail 2>/dev/null' EXIT; \
	trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(VENV)/bin/gunicorn -c gunicorn.conf.py 'app:create_app()'

bench: python-deps
	PYTHONPATH=$(CURDIR) $(VENV)/bin/python bench/run.py $(ARGS)

test: install
	scripts/test.sh $(ARGS)

lint: python-deps
	$(VENV)/bin/ruff check $(wildcard app tests bench)

clean:
	rm -rf $(NM) $(VENDOR) .pytest_cache .ruff_cache .pgtest build dist *.egg-info
	find app tests bench -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true

# Also removes the virtualenv (instance/, which holds data and the secret key, is never touched).
distclean: clean
	rm -rf $(VENV)
