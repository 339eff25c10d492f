# storeops — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench migrate clean

# Create .venv when missing and (re)install when pyproject.toml changed.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# The service on SQLite with the example topology (or ./storeops.toml), chat bots off.
# A first run writes .env with a fresh random API_TOKEN; read it there.
run: $(STAMP)
	@test -f .env || { printf 'API_TOKEN=%s\n' "$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))')" > .env; \
		echo "wrote .env with a fresh API_TOKEN (use it as: Authorization: Bearer <API_TOKEN>)"; }
	STOREOPS_CONFIG=$${STOREOPS_CONFIG:-$$(test -f storeops.toml && echo storeops.toml || echo storeops.example.toml)} \
		$(BIN)/storeops run

migrate: $(STAMP)
	$(BIN)/storeops migrate

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

# Everything CI checks: lint, types, the whole suite (PostgreSQL tests where a server answers).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q -ra

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache data
