"""Operator commands: purge expired rooms, and migrate safely at start-up."""

import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tm.models import Event, Message, Participant, Room

ROOT = Path(__file__).resolve().parents[2]


def _expire(name):
    Room.objects.filter(name=name).update(expires_at=timezone.now() - timedelta(seconds=1))
    Room.objects.get(name=name).flush_cache()


@pytest.mark.django_db
def test_purge_deletes_expired_rooms_and_everything_in_them(make_room, join, capsys):
    make_room("old-room")
    make_room("live-room")
    ann = join("old-room", "ann")
    assert ann.post("/api/v1/rooms/old-room/messages", {"text": "bye"}).status_code == 201
    _expire("old-room")

    call_command("purge_expired_rooms", "--dry-run")
    assert "would delete 1 expired room(s): old-room" in capsys.readouterr().out
    assert Room.objects.filter(name="old-room").exists()

    call_command("purge_expired_rooms")
    assert "deleted 1 expired room(s): old-room" in capsys.readouterr().out
    assert list(Room.objects.values_list("name", flat=True)) == ["live-room"]
    assert not Message.objects.exists()
    assert not Participant.objects.filter(room__name="old-room").exists()
    assert not Event.objects.filter(room__name="old-room").exists()


def test_two_servers_starting_at_once_both_migrate_cleanly(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "settings.test",
           "TM_DB_PATH": str(tmp_path / "fresh.sqlite3")}
    command = [sys.executable, "manage.py", "migrate_on_start"]
    starts = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in starts]
    assert [p.returncode for p in starts] == [0, 0], outputs
    # One applied the migrations; the other waited on the lock and found nothing to do.
    assert sum("Applying tm.0001_initial... OK" in out for out in outputs) == 1
    assert sum("No migrations to apply" in out for out in outputs) == 1


def test_the_flag_turns_migrations_off(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "settings.test",
           "TM_DB_PATH": str(tmp_path / "fresh.sqlite3"), "TM_MIGRATE_ON_START": "0"}
    result = subprocess.run([sys.executable, "manage.py", "migrate_on_start"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "not migrating" in result.stdout
    database = tmp_path / "fresh.sqlite3"
    assert not database.exists() or database.stat().st_size == 0


def test_rotate_backups_deletes_only_old_dumps(tmp_path, settings):
    import time

    settings.TM_BACKUP_KEEP_DAYS = 14
    now = time.time()
    ages = {"tm-old.dump": 15, "tm-edge.dump": 13.9, "tm-new.dump": 0, "notes.txt": 30}
    for name, days in ages.items():
        path = tmp_path / name
        path.write_text("x")
        os.utime(path, (now - days * 86400, now - days * 86400))
    out = io.StringIO()
    call_command("rotate_backups", "--dir", str(tmp_path), "--dry-run", stdout=out)
    assert "would delete 1 backup(s) older than 14 days: tm-old.dump" in out.getvalue()
    assert (tmp_path / "tm-old.dump").exists()
    call_command("rotate_backups", "--dir", str(tmp_path), stdout=io.StringIO())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "tm-edge.dump",
                                                          "tm-new.dump"]
    call_command("rotate_backups", "--dir", str(tmp_path), "--keep-days", "1",
                 stdout=io.StringIO())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "tm-new.dump"]
    with pytest.raises(CommandError):
        call_command("rotate_backups", "--dir", str(tmp_path / "missing"))
    with pytest.raises(CommandError):
        call_command("rotate_backups", "--dir", str(tmp_path), "--keep-days", "0")
