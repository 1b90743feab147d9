"""The operator's retention limits (docs/retention.md): the longest a room lives
(TM_MAX_ROOM_DAYS) bounds what a teacher may choose, at creation and later, and the
purge holds rooms made under a longer limit to it."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from contract import events
from tests.conftest import ApiClient
from tm.models import AuditEntry, Event, Room

from .apicheck import assert_error, unchanged, use_csrf

ROOMS = "/api/v1/rooms"
DAY = 24 * 3600


def test_a_room_lives_a_year_at_most_by_default(db, api):
    assert api.post(ROOMS, {"name": "bio-101", "lifetime": 365 * DAY}).status_code == 201
    with unchanged():
        answer = api.post(ROOMS, {"name": "bio-102", "lifetime": 365 * DAY + 1})
    body = assert_error(answer, 400, "invalid", "lifetime")
    assert "365 days (31536000), the longest this service keeps a room" in str(body)


def test_the_operator_sets_the_longest_life(db, api, settings):
    settings.TM_MAX_ROOM_DAYS = 10
    with unchanged():
        assert_error(api.post(ROOMS, {"name": "bio-101", "lifetime": 11 * DAY}), 400,
                     "invalid", "lifetime")
    assert api.post(ROOMS, {"name": "bio-101", "lifetime": 10 * DAY}).status_code == 201
    html = ApiClient().client.get("/").content.decode()
    assert '<option value="864000">10 days (the longest here)</option>' in html
    assert "30 days" not in html and "1 year" not in html
    assert '<option value="604800">1 week</option>' in html


def test_a_lifetime_change_never_passes_the_longest_life(make_room, settings):
    settings.TM_MAX_ROOM_DAYS = 30
    body, owner_key = make_room("bio-101", lifetime=DAY)
    teacher = ApiClient()
    teacher.token = owner_key
    created = timezone.now() - timedelta(days=20)
    Room.objects.filter(name="bio-101").update(created_at=created)
    Room.objects.get(name="bio-101").flush_cache()
    answer = teacher.patch(f"{ROOMS}/bio-101", {"lifetime": 30 * DAY})
    assert answer.status_code == 200, answer.content
    room = Room.objects.get(name="bio-101")
    assert room.expires_at == created + timedelta(days=30)
    assert answer.json()["expires_at"] == events.iso_utc(room.expires_at)
    # The moderation page says when the room now ends.
    page = ApiClient()
    page.client.cookies["tm_o_bio-101"] = owner_key
    csrf = use_csrf(page)
    page.client.post("/bio-101/moderate/action", {"action": "lifetime",
                                                  "lifetime": str(30 * DAY)}, **csrf)
    html = page.client.get("/bio-101/moderate").content.decode()
    ends = (created + timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
    assert f"Lifetime changed: the room now ends {ends} UTC." in html


def test_the_purge_holds_older_rooms_to_a_lowered_limit(make_room, settings):
    make_room("old-1", lifetime=365 * DAY)
    make_room("mid-1", lifetime=365 * DAY)
    make_room("new-1", lifetime=7 * DAY)
    now = timezone.now()
    Room.objects.filter(name="old-1").update(created_at=now - timedelta(days=40))
    Room.objects.filter(name="mid-1").update(created_at=now - timedelta(days=20))
    settings.TM_MAX_ROOM_DAYS = 30
    call_command("purge_expired_rooms", "--dry-run")
    assert Room.objects.count() == 3  # a dry run changes nothing
    call_command("purge_expired_rooms")
    assert set(Room.objects.values_list("name", flat=True)) == {"mid-1", "new-1"}
    mid = Room.objects.get(name="mid-1")
    assert mid.expires_at == mid.created_at + timedelta(days=30)
    # Its pages hear of it, and its log says tm did it.
    update = Event.objects.filter(room=mid, type=events.ROOM_UPDATED).latest("seq")
    assert update.envelope["data"]["expires_at"] == events.iso_utc(mid.expires_at)
    entry = AuditEntry.objects.get(room=mid, action="room.settings")
    assert entry.actor == "tm" and "expires_at" in entry.detail["changed"]
    assert Room.objects.get(name="new-1").expires_at < now + timedelta(days=8)


@pytest.mark.parametrize("days", ["0", "3651", "x"])
def test_a_bad_longest_life_stops_tm_at_start(days):
    import os
    import subprocess
    import sys

    env = {**os.environ, "TM_MAX_ROOM_DAYS": days, "DJANGO_SETTINGS_MODULE": "settings.dev"}
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "TM_MAX_ROOM_DAYS" in result.stderr
