"""Announce the settings of every live room that never announced them.

A room's first event is its settings (room.updated), which is how the analytics
collector learns where the room's posts count: it never asks tm. Rooms made before that
event existed have none; this gives them one. Idempotent: a room that has a room.updated
is left alone, so `fab deploy` runs it every time.
"""

from django.core.management.base import BaseCommand

from tm.actions import announce_unannounced_rooms


class Command(BaseCommand):
    help = "Publish room.updated for every live room that has never published one."

    def handle(self, *args, **options):
        announced = announce_unannounced_rooms()
        self.stdout.write(f"announced the settings of {announced} room(s)")
