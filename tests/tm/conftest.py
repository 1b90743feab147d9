"""tm's tests: the publish thread lets go of its database connection before the test
database is dropped (PostgreSQL refuses to drop a database still in use)."""

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _publish_thread_lets_go(django_db_setup, django_db_blocker) -> Iterator[None]:
    yield
    from tm.publish import BACKGROUND

    BACKGROUND.release()
