# Parley: `make run` for a one-process trial, `make test` for the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test venv migrate seed cluster bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

migrate: venv
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput

seed: migrate
	DEBUG=$${DEBUG:-1} PORT=$(PORT) $(BIN)/python manage.py seed_demo

run: seed
	@echo "Parley on http://$(HOST):$(PORT)/  (admin: /admin/, desk: /agent/)"
	DEBUG=$${DEBUG:-1} $(BIN)/daphne -b $(HOST) -p $(PORT) chatsite.asgi:application

# The JavaScript type check's compiler (a dev dependency from npm); skipped where there is no npm.
node_modules/.installed: package.json package-lock.json
	if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent && touch $@; fi

test: venv node_modules/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks against baselines (bench/README.md): `make bench`, or one scenario: `make bench SCENARIO=stop`.
bench: venv
	$(BIN)/pip install --quiet -r bench/requirements.txt
	$(BIN)/python -m bench.run $(SCENARIO) --readme

cluster: venv
	$(BIN)/python deploy/cluster.py

clean:
	rm -rf $(VENV) db.sqlite3 .test-db-*.sqlite3
