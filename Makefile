# storeops — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-faults lint typecheck unit bench migrate clean lock lock-upgrade

# Create .venv when missing and (re)install when pyproject.toml or the lock changed: the locked versions, every file
# checked against its hash, then storeops itself without looking for dependencies; `pip check` fails when the lock
# misses something pyproject.toml asks for (run `make lock`).
$(STAMP): pyproject.toml requirements-test.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-test.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	@touch $(STAMP)

# The locks, by uv: requirements-test.lock (the service and the test tools: what make installs) and requirements.lock
# (the service alone, at the same versions: what the image in deploy/ installs). For Linux, macOS and Windows and
# Python 3.11 or newer, with every file's hash. `make lock` after changing a dependency in pyproject.toml keeps
# every other pin; `make lock-upgrade` takes the newest versions pyproject.toml allows.
LOCK := $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command 'make lock'
lock lock-upgrade:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv>=0.5'
	$(LOCK) $(if $(filter lock-upgrade,$@),--upgrade) --extra test -o requirements-test.lock
	$(LOCK) $(if $(filter lock-upgrade,$@),--upgrade) --constraint requirements-test.lock -o requirements.lock

# With chat tokens (TELEGRAM_BOT_TOKEN or SLACK_BOT_TOKEN in .env or the environment): the service on
# SQLite with ./storeops.toml (or the example topology). Without: the sandbox — every outside system
# emulated on 127.0.0.1 and a console at http://127.0.0.1:8080/sandbox (SANDBOX_PORT to change it;
# SANDBOX_ACCESS_LOG=1 logs every HTTP request; SANDBOX_DATABASE_URL=postgresql+asyncpg://user@host:5432 runs it on
# a database of its own made on that PostgreSQL server and dropped on exit, instead of SQLite in a temporary directory).
# A first real run writes .env with a fresh random API_TOKEN; read it there.
run: $(STAMP)
	@if grep -qsE '^(TELEGRAM_BOT_TOKEN|SLACK_BOT_TOKEN)=.+' .env || [ -n "$$TELEGRAM_BOT_TOKEN$$SLACK_BOT_TOKEN" ]; then \
		test -f .env || { printf 'API_TOKEN=%s\n' "$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))')" > .env; \
			echo "wrote .env with a fresh API_TOKEN (use it as: Authorization: Bearer <API_TOKEN>)"; }; \
		STOREOPS_CONFIG=$${STOREOPS_CONFIG:-$$(test -f storeops.toml && echo storeops.toml || echo storeops.example.toml)} \
			exec $(BIN)/storeops run; \
	else \
		echo "no chat tokens configured: starting the sandbox (README, 'Running it for real', says how to go live)"; \
		exec $(BIN)/storeops sandbox --port $${SANDBOX_PORT:-8080} $${SANDBOX_ACCESS_LOG:+--access-log} \
			$${SANDBOX_DATABASE_URL:+--database-url "$$SANDBOX_DATABASE_URL"}; \
	fi

migrate: $(STAMP)
	$(BIN)/storeops migrate

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache --no-logo

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

# Everything CI checks: lint, types, the import rules (pyproject's [tool.importlinter]), the whole suite
# (PostgreSQL tests where a server answers).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/pytest -q -ra

# The fault suite (tests/faults, docs/faults.md), apart from the whole suite: two real `storeops run` processes on a
# PostgreSQL database of their own, killed with -9 mid-work, their database restarted, channels and Slack hanging or
# refusing; a few minutes. FAULTS_RESULTS=bench/results/faults.json also writes the recovery times it measured.
test-faults: $(STAMP)
	STOREOPS_FAULTS_RESULTS=$(FAULTS_RESULTS) $(BIN)/pytest -q -ra -p no:cacheprovider tests/faults

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache data
