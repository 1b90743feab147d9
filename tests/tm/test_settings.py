"""Production settings read everything from the environment and name what is missing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROD_ENV = {
    "TM_SECRET_KEY": "k" * 50, "TM_INTERNAL_SECRET": "i", "TM_CLIENT_KEY_SECRET": "c",
    "TM_ALLOWED_HOSTS": "tm.example.org", "TM_CSRF_TRUSTED_ORIGINS": "https://tm.example.org",
    "TM_PUBLIC_URL": "https://tm.example.org", "TM_PUSH_URLS": "wss://push.example.org",
    "TM_DB_NAME": "tm", "TM_DB_USER": "tm", "TM_DB_PASSWORD": "p", "TM_DB_HOST": "127.0.0.1",
    "TM_MEMCACHED": "127.0.0.1:11211", "TM_EMAIL_HOST": "localhost",
    "TM_DEFAULT_FROM_EMAIL": "tm@example.org",
}


def _load_prod(env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TM_")}
    return subprocess.run(
        [sys.executable, "-c", "import settings.prod"], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=60)


def test_prod_settings_load_with_the_full_environment():
    assert _load_prod(PROD_ENV).returncode == 0


def test_prod_refuses_to_start_and_names_the_missing_variable():
    for missing in ("TM_SECRET_KEY", "TM_INTERNAL_SECRET", "TM_DB_PASSWORD", "TM_MEMCACHED"):
        env = {k: v for k, v in PROD_ENV.items() if k != missing}
        result = _load_prod(env)
        assert result.returncode != 0
        assert f"environment variable {missing} is not set" in result.stderr


def test_test_runs_use_a_random_cache_prefix():
    prefixes = set()
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-c",
             "import settings.test as s; print(s.CACHES['default']['KEY_PREFIX'])"],
            cwd=ROOT, env={**os.environ, "TM_CACHE_PREFIX": ""}, capture_output=True, text=True,
            timeout=60)
        prefixes.add(result.stdout.strip())
    assert len(prefixes) == 2


@pytest.mark.django_db
def test_the_tests_run_on_the_database_they_were_asked_for():
    """`make test` runs tests/tm twice: SQLite, then PostgreSQL (TM_DB_ENGINE)."""
    from django.db import connection

    wanted = "postgresql" if os.environ.get("TM_DB_ENGINE") == "postgresql" else "sqlite"
    assert connection.vendor == wanted
