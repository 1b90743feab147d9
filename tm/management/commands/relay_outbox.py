"""Re-send events that were committed but never reached a reflektor (the outbox relay),
and room deletions whose announcement no reflektor took."""

import time
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from tm.publish import relay_unannounced_deletions, relay_unpublished


class Command(BaseCommand):
    help = "Publish outbox events still unpublished a few seconds after their commit."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--interval", type=float, default=2.0,
                            help="seconds between passes (default 2)")
        parser.add_argument("--grace", type=float, default=3.0,
                            help="leave events younger than this to the commit-time publish")

    def handle(self, *args, once=False, interval=2.0, grace=3.0, **options):
        older_than = timedelta(seconds=grace)
        while True:
            sent = relay_unpublished(older_than)
            if sent:
                self.stdout.write(f"relayed {sent} event(s)")
            announced = relay_unannounced_deletions(older_than)
            if announced:
                self.stdout.write(f"announced {announced} room deletion(s)")
            if once:
                return
            close_old_connections()
            time.sleep(interval)
