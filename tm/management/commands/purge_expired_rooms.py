"""Delete expired rooms, and audit log entries past TM_AUDIT_RETENTION_DAYS. --dry-run
lists the rooms and deletes nothing; --every N keeps doing it.

`make run` (Procfile) and the deploy (deploy/systemd/tm-purge.service) run it with
`--every 30`, so a room whose lifetime ends is gone from every service within a minute
with no command typed: its rows here, and, through the deletion's announcement, its
buffers and streams on the push nodes and its counts in the collector.
"""

import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from tm import audit
from tm.actions import purge_expired_rooms


class Command(BaseCommand):
    help = "Delete rooms past their lifetime, with their participants, messages and events."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true",
                            help="list the rooms that would be deleted, delete nothing")
        parser.add_argument("--every", type=float, metavar="SECONDS",
                            help="keep running: purge, then again every SECONDS, until "
                                 "SIGTERM or SIGINT")

    def handle(self, *args, dry_run: bool = False, every: float | None = None, **options):
        if every is None:
            self._purge(dry_run, quiet=False)
            return
        if not 1 <= every <= 3600:
            raise CommandError("--every takes 1 to 3600 seconds")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"purging expired rooms every {every:g} s")
        while not stop.is_set():
            try:
                self._purge(dry_run, quiet=True)
            except Exception as error:  # the database is away: try again next round
                self.stderr.write(f"purge failed, will retry: {error}")
            close_old_connections()
            stop.wait(every)

    def _purge(self, dry_run: bool, quiet: bool) -> None:
        names = purge_expired_rooms(dry_run=dry_run)
        pruned = 0 if dry_run else audit.prune()
        if pruned:
            self.stdout.write(f"deleted {pruned} audit log entr{'y' if pruned == 1 else 'ies'} "
                              "past their retention")
        if names or not quiet:
            verb = "would delete" if dry_run else "deleted"
            self.stdout.write(f"{verb} {len(names)} expired room(s)"
                              + (": " + ", ".join(names) if names else ""))
