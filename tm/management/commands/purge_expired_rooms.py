"""Delete expired rooms and everything in them. Safe by default: --dry-run lists them."""

from django.core.management.base import BaseCommand

from tm.actions import purge_expired_rooms


class Command(BaseCommand):
    help = "Delete rooms past their lifetime, with their participants, messages and events."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true",
                            help="list the rooms that would be deleted, delete nothing")

    def handle(self, *args, dry_run: bool = False, **options):
        names = purge_expired_rooms(dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(f"{verb} {len(names)} expired room(s)"
                          + (": " + ", ".join(names) if names else ""))
