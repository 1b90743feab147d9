"""The room's audit log (tm/audit.py): every moderation action, through the API and the
moderation page's forms alike, is an entry naming who took it, when and on what; only
the room's teachers read it; it keeps no post's words; an action that fails or rolls
back leaves no entry; it goes with the room, and entries past their retention sooner."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from tests.conftest import ApiClient
from tm import audit
from tm.models import AuditEntry, Room

from .apicheck import assert_error, unchanged, use_csrf

ROOM = "/api/v1/rooms/bio-101"
MESSAGES = f"{ROOM}/messages"
AUDIT = f"{ROOM}/audit"


def log(client: ApiClient, **params) -> list[dict]:
    response = client.get(AUDIT, data=params)
    assert response.status_code == 200, response.content
    return response.json()["entries"]


def actions_of(entries: list[dict]) -> list[str]:
    return [entry["action"] for entry in reversed(entries)]  # oldest first


def test_every_moderation_action_is_logged_with_who_and_what(room, moderator, join):
    ann = join("bio-101", "Ann")
    message_id = ann.post(MESSAGES, {"text": "a rude remark"}).json()["id"]
    ann_id = moderator.get(f"{ROOM}/participants").json()["participants"][0]["id"]
    assert moderator.delete(f"{MESSAGES}/{message_id}").status_code == 204
    mute = f"{ROOM}/participants/{ann_id}/mute"
    assert moderator.post(mute, {"muted": True}).status_code == 200
    assert moderator.post(mute, {"muted": True}).status_code == 200  # no change: no entry
    assert moderator.post(mute, {"muted": False}).status_code == 200
    assert moderator.patch(ROOM, {"pause_minutes": 10}).status_code == 200
    assert moderator.patch(ROOM, {"state": "open"}).status_code == 200
    assert moderator.patch(ROOM, {"topic": "cells", "password": "hunter22"}).status_code == 200
    assert moderator.patch(ROOM, {"topic": "cells"}).status_code == 200  # nothing changed
    assert moderator.patch(ROOM, {"state": "closed"}).status_code == 200

    entries = log(moderator)
    assert actions_of(entries) == [
        "room.created", "message.deleted", "participant.muted", "participant.unmuted",
        "room.paused", "room.opened", "room.settings", "room.closed"]
    assert {entry["actor"] for entry in entries} == {"the room's creator"}
    by_action = {entry["action"]: entry for entry in entries}
    assert by_action["message.deleted"]["detail"] == {"message": message_id, "nickname": "Ann"}
    assert by_action["participant.muted"]["detail"] == {"participant": ann_id,
                                                        "nickname": "Ann"}
    assert by_action["room.paused"]["detail"]["until"].endswith("Z")
    # The password is "set", never its value or its hash.
    assert by_action["room.settings"]["detail"] == {
        "changed": {"topic": "cells", "password": "set", "share_link": "changed"}}
    assert by_action["room.created"]["detail"]["settings"]["password"] == "none"
    # No post's words anywhere in the log.
    assert "rude" not in str(list(AuditEntry.objects.values_list("detail", flat=True)))


def test_held_approved_and_rejected_posts(make_room, join):
    _, owner_key = make_room("bio-101", moderated=True)
    teacher = ApiClient()
    teacher.token = owner_key
    ann = join("bio-101", "Ann")
    first, second = (ann.post(MESSAGES, {"text": t}).json()["id"] for t in ("one", "two"))
    assert teacher.post(f"{MESSAGES}/{first}/approve").status_code == 200
    assert teacher.post(f"{MESSAGES}/{second}/reject").status_code == 204
    entries = log(teacher)
    assert actions_of(entries) == ["room.created", "message.held", "message.held",
                                   "message.approved", "message.rejected"]
    held = [e for e in entries if e["action"] == "message.held"]
    assert {e["actor"] for e in held} == {"tm"}  # tm held them, by the room's settings
    assert held[0]["detail"]["reason"] == "the room holds every post"
    # A failed action (approving what is no longer pending) leaves no entry.
    with unchanged():
        assert_error(teacher.post(f"{MESSAGES}/{first}/approve"), 409, "not_pending")
    assert AuditEntry.objects.count() == 5


def test_signed_in_teachers_and_operators_are_named(db):
    users = get_user_model().objects
    teacher = ApiClient()
    teacher.client.force_login(users.create_user("ms.lee", password="pw-teach-1"))
    csrf = use_csrf(teacher)
    assert teacher.post("/api/v1/rooms", {"name": "bio-101"}, headers=csrf).status_code == 201
    assert teacher.patch(ROOM, {"topic": "x"}, headers=csrf).status_code == 200
    staff = ApiClient()
    staff.client.force_login(users.create_user("admin", password="pw-staff-1", is_staff=True))
    assert staff.patch(ROOM, {"topic": "y"}, headers=use_csrf(staff)).status_code == 200
    assert [e["actor"] for e in reversed(log(teacher))] == ["ms.lee", "ms.lee",
                                                            "admin (operator)"]


def test_only_the_rooms_teachers_read_the_log(room, moderator, join, api):
    student = join("bio-101", "Ann")
    assert_error(api.get(AUDIT), 401, "sign_in")
    assert_error(student.get(AUDIT), 403, "not_moderator")
    make_other = ApiClient().post("/api/v1/rooms", {"name": "chem-1"}).json()
    other = ApiClient()
    other.token = make_other["owner_key"]
    assert_error(other.get(AUDIT), 403, "not_moderator")
    assert_error(moderator.get("/api/v1/rooms/nope-1/audit"), 404, "room_not_found")


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "501"}, {"limit": "x"},
                                    {"before": "-1"}, {"before": "1e3"}, {"limit": "٣"},
                                    {"limit": " 5"}, {"limit": "1_0"}, {"before": "+1"}])
def test_bad_paging_is_a_400(room, moderator, params):
    assert_error(moderator.get(AUDIT, data=params), 400, "invalid")


def test_the_log_pages_newest_first(room, moderator):
    for n in range(5):
        assert moderator.patch(ROOM, {"topic": f"t{n}"}).status_code == 200
    first = moderator.get(AUDIT, data={"limit": 2}).json()
    assert first["has_more"] is True
    assert [e["detail"]["changed"]["topic"] for e in first["entries"]] == ["t4", "t3"]
    rest = log(moderator, before=first["entries"][-1]["id"], limit=500)
    assert actions_of(rest) == ["room.created", "room.settings", "room.settings",
                                "room.settings"]


def test_the_moderation_page_shows_the_log_and_its_forms_write_it(room, moderator, join):
    ann = join("bio-101", "Ann")
    message_id = ann.post(MESSAGES, {"text": "<b>hi</b>"}).json()["id"]
    page = ApiClient()
    page.client.cookies["tm_o_bio-101"] = room["owner_key"]
    csrf = use_csrf(page)
    response = page.client.post("/bio-101/moderate/action",
                                {"action": "delete", "message": message_id}, **csrf)
    assert response.status_code == 302
    html = page.client.get("/bio-101/moderate").content.decode()
    assert "Activity" in html
    assert f"deleted a post by Ann (#{message_id})" in html
    assert "the room&#x27;s creator" in html
    assert AuditEntry.objects.filter(action="message.deleted").count() == 1


def test_the_log_goes_with_the_room_and_old_entries_sooner(room, moderator, settings):
    assert moderator.patch(ROOM, {"topic": "a"}).status_code == 200
    settings.TM_AUDIT_RETENTION_DAYS = 30
    AuditEntry.objects.filter(action="room.created").update(
        at=timezone.now() - timedelta(days=31))
    call_command("purge_expired_rooms")
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["room.settings"]
    assert audit.prune() == 0
    assert moderator.delete(ROOM).status_code == 204
    assert not AuditEntry.objects.exists() and not Room.objects.exists()


def test_describe_reads_as_a_sentence(room, moderator):
    assert moderator.patch(ROOM, {"moderated": True, "max_length": 200,
                                  "allowed_origins": ["https://lms.example"]}).status_code == 200
    entry = AuditEntry.objects.get(action="room.settings")
    assert audit.describe(entry) == ("changed the settings: allowed origins changed, "
                                     "max length 200, moderated on")
