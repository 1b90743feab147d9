"""The incident file (tm/incidents.py): a post, the posts around it, its author (the
real name in an accountable room), its reports and the audit trail of the post and its
author, for the room's teachers only; saving one is itself in the audit log."""

import json

from tests.conftest import ApiClient
from tm.models import AuditEntry

from .apicheck import assert_error

ROOM = "/api/v1/rooms/bio-101"
MESSAGES = f"{ROOM}/messages"


def test_an_incident_file_has_the_post_its_context_author_and_trail(make_room, join, api):
    _, owner_key = make_room("bio-101", accountable=True, report_threshold=0)
    teacher = ApiClient()
    teacher.token = owner_key
    ann = join("bio-101", "Ann", real_name="Ann Lee")
    bo = join("bio-101", "Bo", real_name="Bo Chen")
    cy = join("bio-101", "Cy", real_name="Cy Diaz")
    for n in range(12):  # two posters: one student may post ten a minute
        assert (bo, cy)[n % 2].post(MESSAGES, {"text": f"before {n}"}).status_code == 201
    post = ann.post(MESSAGES, {"text": "nobody likes your project"}).json()["id"]
    bo.post(MESSAGES, {"text": "after it"})
    bo.post(f"{MESSAGES}/{post}/report")
    ann_id = teacher.get(f"{ROOM}/participants").json()["participants"][0]["id"]
    teacher.post(f"{ROOM}/participants/{ann_id}/mute", {"muted": True})

    response = teacher.get(f"{MESSAGES}/{post}/incident")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="tm-bio-101-post-{post}-incident.json"')
    file = json.loads(response.content)
    assert file["post"]["text"] == "nobody likes your project"
    assert file["author"]["nickname"] == "Ann" and file["author"]["real_name"] == "Ann Lee"
    assert file["reports"] == 1
    assert [m["text"] for m in file["before"]] == [f"before {n}" for n in range(2, 12)]
    assert [m["text"] for m in file["after"]] == ["after it"]
    assert [e["action"] for e in file["audit_trail"]] == ["participant.muted"]
    assert file["saved_by"] == "the room's creator"
    assert AuditEntry.objects.filter(action="message.exported").count() == 1

    text = teacher.get(f"{MESSAGES}/{post}/incident?format=txt")
    assert text["Content-Type"].startswith("text/plain")
    body = text.content.decode()
    assert f"Post #{post} by Ann [real name: Ann Lee]" in body
    assert "reported by 1 student(s)" in body and "nobody likes your project" in body

    # Deleted: the file still tells what happened, without the words.
    teacher.delete(f"{MESSAGES}/{post}")
    after = json.loads(teacher.get(f"{MESSAGES}/{post}/incident").content)
    assert after["post"]["text"] == "" and after["post"]["status"] == "deleted"
    assert [e["action"] for e in after["audit_trail"]] == [
        "participant.muted", "message.exported", "message.exported", "message.deleted"]


def test_only_teachers_save_incident_files(room, moderator, join, api):
    ann = join("bio-101", "Ann")
    post = ann.post(MESSAGES, {"text": "x"}).json()["id"]
    assert_error(api.get(f"{MESSAGES}/{post}/incident"), 401, "sign_in")
    assert_error(ann.get(f"{MESSAGES}/{post}/incident"), 403, "not_moderator")
    assert_error(moderator.get(f"{MESSAGES}/987654/incident"), 404, "not_found")
    assert_error(moderator.get(f"{MESSAGES}/{post}/incident?format=pdf"), 400, "invalid",
                 "format")
    assert not AuditEntry.objects.filter(action="message.exported").exists()


def test_a_non_accountable_room_has_no_real_name(room, moderator, join):
    post = join("bio-101", "Ann").post(MESSAGES, {"text": "x"}).json()["id"]
    file = json.loads(moderator.get(f"{MESSAGES}/{post}/incident").content)
    assert file["author"]["real_name"] is None
