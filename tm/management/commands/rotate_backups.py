"""Delete database backups older than TM_BACKUP_KEEP_DAYS from a backup directory.

`fab backup` runs it after each dump, so a backup lives TM_BACKUP_KEEP_DAYS and no
longer: data deleted from the database (an expired room, an erased post) is gone from
every backup by then (docs/retention.md). Only tm's own dumps (`tm-*.dump`) are
touched; anything else in the directory is left alone.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

PATTERN = "tm-*.dump"


class Command(BaseCommand):
    help = "Delete tm's database backups older than TM_BACKUP_KEEP_DAYS."

    def add_arguments(self, parser):
        parser.add_argument("--dir", required=True, help="the backup directory")
        parser.add_argument("--keep-days", type=int, default=None,
                            help="override TM_BACKUP_KEEP_DAYS")
        parser.add_argument("--dry-run", action="store_true", help="list, delete nothing")

    def handle(self, *args, dir: str, keep_days: int | None = None, dry_run: bool = False,
               **options):
        keep = settings.TM_BACKUP_KEEP_DAYS if keep_days is None else keep_days
        if keep < 1:
            raise CommandError("backups are kept at least one day")
        folder = Path(dir)
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a directory")
        cutoff = time.time() - keep * 24 * 3600
        old = sorted(path for path in folder.glob(PATTERN)
                     if path.is_file() and path.stat().st_mtime < cutoff)
        for path in old:
            if not dry_run:
                path.unlink()
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(f"{verb} {len(old)} backup(s) older than {keep} days"
                          + (": " + ", ".join(p.name for p in old) if old else ""))
