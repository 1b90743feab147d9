"""Apply migrations at start-up, safely when several processes start at once.

Each process takes a lock first (a PostgreSQL advisory lock, or an flock on a file
beside the SQLite database), so one migrates and the others wait, then find nothing
to do. TM_MIGRATE_ON_START=0 (settings) turns it off, e.g. when deploys migrate.
"""

from __future__ import annotations

import contextlib
import fcntl

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

ADVISORY_LOCK_ID = 0x746D6D69  # "tmmi"


@contextlib.contextmanager
def migration_lock():
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_ID])
            try:
                yield
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_ID])
        return
    lock_path = settings.VAR_DIR / "migrate.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


class Command(BaseCommand):
    help = "Migrate under a lock unless TM_MIGRATE_ON_START is off."

    def handle(self, *args, **options):
        if not settings.TM_MIGRATE_ON_START:
            self.stdout.write("TM_MIGRATE_ON_START is off: not migrating")
            return
        with migration_lock():
            call_command("migrate", interactive=False, verbosity=1)
