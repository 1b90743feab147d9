# tm: `make run` sets up and runs the whole system; `make test` runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export TM_PORT := $(PORT)

.PHONY: run test setup lint check-deploy clean bench

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev,prod]'
	touch $@

setup: $(VENV)/.installed

# The end-to-end tests' pages run the shipped scripts under Node (testkit/pages.py).
PAGES_NODE := testkit/pages/node_modules/.installed
$(PAGES_NODE): testkit/pages/package-lock.json
	cd testkit/pages && npm ci --no-audit --no-fund --silent
	touch $@

run: setup
	$(VENV)/bin/honcho start -f Procfile

test: setup $(PAGES_NODE)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	node --test tests/js/
	$(PY) -m pytest
	@# tm's tests again on PostgreSQL, production's database (tests/support/postgres_server.py).
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then \
		echo "TM_DB_ENGINE=postgresql $(PY) -m pytest tests/tm -q"; \
		TM_DB_ENGINE=postgresql $(PY) -m pytest tests/tm -q; \
	else echo "PostgreSQL is not installed: tm's tests ran on SQLite only (apt-get install postgresql)"; fi

# Benchmarks (bench/README.md): figures appended to BENCHMARKS.md; ~7 minutes.
bench: setup
	bench/run_all.sh

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# What `manage.py check --deploy` says with production settings (README explains it).
check-deploy: setup
	TM_SECRET_KEY=$$(head -c 48 /dev/urandom | base64) TM_INTERNAL_SECRET=x TM_CLIENT_KEY_SECRET=x \
	TM_ALLOWED_HOSTS=tm.example.org TM_CSRF_TRUSTED_ORIGINS=https://tm.example.org \
	TM_PUBLIC_URL=https://tm.example.org TM_PUSH_URLS=https://push.example.org \
	TM_DB_NAME=tm TM_DB_USER=tm TM_DB_PASSWORD=x TM_DB_HOST=127.0.0.1 TM_MEMCACHED=127.0.0.1:11211 \
	TM_EMAIL_HOST=localhost TM_DEFAULT_FROM_EMAIL=tm@example.org \
	DJANGO_SETTINGS_MODULE=settings.prod $(PY) manage.py check --deploy

clean:
	rm -rf $(VENV) var
