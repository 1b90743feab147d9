"""pytest plugin: tm's tests on PostgreSQL, production's database, when asked.

`make test` runs the suite on SQLite (the embedded default), then tests/tm again with
TM_DB_ENGINE=postgresql. In that run this plugin (loaded with `-p`, before
pytest-django reads the settings) starts a throwaway cluster on a free loopback port
(testkit/postgres.py) and gives settings.test its TM_DB_* variables; pytest-django
creates its test database there. A TM_DB_HOST already in the environment is used as it
is (a server that CI or a developer runs).
"""

from __future__ import annotations

import os

import pytest

from testkit.postgres import Cluster, start_cluster

_cluster: Cluster | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _cluster
    if os.environ.get("TM_DB_ENGINE") != "postgresql" or os.environ.get("TM_DB_HOST"):
        return
    try:
        _cluster = start_cluster()
    except RuntimeError as error:
        raise pytest.UsageError(str(error)) from None
    os.environ.update(_cluster.env)


def pytest_unconfigure(config):
    if _cluster is not None:
        _cluster.stop()
