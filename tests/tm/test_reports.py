"""Students report posts (tm/actions.py report_message): once each, never their own,
nobody learns who; the room's teachers hear of each report at once and list what is
reported with its context; at the room's threshold the post is hidden from students
(deleted for everyone, held in the teachers' queue) until a teacher keeps it (it shows
again) or removes it. Every decision is in the audit log."""

import pytest

from contract import events
from tests.conftest import ApiClient
from tm.models import AuditEntry, Event, Message, Report

from .apicheck import assert_error, unchanged

ROOM = "/api/v1/rooms/bio-101"
MESSAGES = f"{ROOM}/messages"


@pytest.fixture
def classroom(room, moderator, join):
    """The room with four students; Ann has posted between two other posts."""
    students = [join("bio-101", name) for name in ("Ann", "Bo", "Cy", "Di")]
    ids = [students[i].post(MESSAGES, {"text": text}).json()["id"]
           for i, text in [(1, "before"), (0, "nobody likes your project"), (2, "after")]]
    return students, ids[1], moderator


def report(client: ApiClient, message_id: int):
    return client.post(f"{MESSAGES}/{message_id}/report")


def shown(client: ApiClient) -> list[str]:
    return [m["text"] for m in client.get(MESSAGES).json()["messages"]]


def test_reports_count_once_and_teachers_hear_of_each(classroom, api):
    (ann, bo, cy, di), post, teacher = classroom
    assert report(di, post).json() == {"reported": True}
    assert report(di, post).status_code == 200  # again: nothing changes
    assert Report.objects.count() == 1
    listed = teacher.get(f"{ROOM}/reports").json()["reports"]
    assert len(listed) == 1
    assert listed[0]["reports"] == 1 and listed[0]["hidden"] is False
    assert listed[0]["message"]["text"] == "nobody likes your project"
    assert [m["text"] for m in listed[0]["before"]] == ["before"]
    assert [m["text"] for m in listed[0]["after"]] == ["after"]
    assert "Di" not in str(listed)  # who reported is nobody's business
    reported = Event.objects.filter(type=events.MESSAGE_REPORTED).get()
    assert reported.envelope["data"] == {"id": post, "reports": 1}
    assert shown(api) == ["before", "nobody likes your project", "after"]


def test_the_threshold_hides_the_post_until_a_teacher_keeps_it(classroom, api):
    (ann, bo, cy, di), post, teacher = classroom
    for student in (bo, cy, di):  # the default threshold: 3
        assert report(student, post).status_code == 200
    assert shown(api) == ["before", "after"]
    history = api.get(MESSAGES).json()
    assert post in history["deleted"]
    queue = teacher.get(f"{ROOM}/pending").json()["messages"]
    assert [(m["id"], m["held_for"]) for m in queue] == [(post, "reports")]
    types = list(Event.objects.order_by("seq").values_list("type", flat=True))[-5:]
    assert types == ["message.reported", "message.reported", "message.reported",
                     "message.deleted", "message.pending"]
    hidden = AuditEntry.objects.get(action="message.hidden")
    assert hidden.actor == "tm" and hidden.detail == {"message": post, "nickname": "Ann",
                                                      "reports": 3}
    # The teacher keeps it: shown again, reports dismissed, logged.
    kept = teacher.post(f"{MESSAGES}/{post}/keep")
    assert kept.status_code == 200 and kept.json()["status"] == "visible"
    assert shown(api) == ["before", "after", "nobody likes your project"]  # shown again: newest
    assert teacher.get(f"{ROOM}/reports").json()["reports"] == []
    assert AuditEntry.objects.get(action="message.kept").detail["reports"] == 3
    # Those who reported it cannot report it again; it stays.
    assert report(bo, post).status_code == 200
    assert teacher.get(f"{ROOM}/reports").json()["reports"] == []


def test_rejecting_a_hidden_post_removes_it_and_its_words(classroom, api):
    (ann, bo, cy, di), post, teacher = classroom
    for student in (bo, cy, di):
        report(student, post)
    assert teacher.post(f"{MESSAGES}/{post}/reject").status_code == 204
    message = Message.objects.get(pk=post)
    assert message.status == "rejected" and message.text == ""
    assert teacher.get(f"{ROOM}/reports").json()["reports"] == []
    assert_error(report(bo, post), 404, "not_found")


def test_a_teacher_can_turn_hiding_off_and_keep_a_visible_post(classroom, api):
    (ann, bo, cy, di), post, teacher = classroom
    assert teacher.patch(ROOM, {"report_threshold": 0}).json()["report_threshold"] == 0
    for student in (bo, cy, di):
        report(student, post)
    assert "nobody likes your project" in shown(api)
    assert teacher.get(f"{ROOM}/reports").json()["reports"][0]["reports"] == 3
    assert teacher.post(f"{MESSAGES}/{post}/keep").status_code == 200
    with unchanged():
        assert_error(teacher.post(f"{MESSAGES}/{post}/keep"), 409, "not_reported")


def test_what_cannot_be_reported(classroom, join, api):
    (ann, bo, cy, di), post, teacher = classroom
    with unchanged():
        assert_error(report(ann, post), 400, "own_message")
        assert_error(report(api, post), 401, "not_joined")
        assert_error(report(bo, 987654), 404, "not_found")
        assert_error(report(teacher, post), 403, "bad_token")  # an owner key: no student
    own = teacher.post(f"{ROOM}/join", {"nickname": "Ms Lee"})
    teacher_token = own.json()["token"]
    as_teacher = ApiClient()
    as_teacher.token = teacher_token
    teacher_post = as_teacher.post(MESSAGES, {"text": "quiz on friday"}).json()["id"]
    with unchanged():
        assert_error(report(bo, teacher_post), 400, "not_reportable")
        assert_error(report(as_teacher, post), 400, "not_reportable")
    held = ApiClient()
    held_room = held.post("/api/v1/rooms", {"name": "held-1", "moderated": True}).json()
    student = join("held-1", "Ed")
    other = join("held-1", "Flo")
    waiting = student.post("/api/v1/rooms/held-1/messages", {"text": "hi"}).json()["id"]
    assert held_room["moderated"]
    assert_error(other.post(f"/api/v1/rooms/held-1/messages/{waiting}/report"), 404,
                 "not_found")  # a post held for approval is not there to report


@pytest.mark.parametrize("value", [-1, 51, "3", 2.5, True, None])
def test_bad_thresholds_are_400(room, moderator, value):
    with unchanged():
        assert_error(moderator.patch(ROOM, {"report_threshold": value}), 400, "invalid",
                     "report_threshold")


def test_only_teachers_list_reports_and_keep(classroom, api):
    (ann, bo, cy, di), post, teacher = classroom
    assert_error(api.get(f"{ROOM}/reports"), 401, "sign_in")
    assert_error(bo.get(f"{ROOM}/reports"), 403, "not_moderator")
    assert_error(bo.post(f"{MESSAGES}/{post}/keep"), 403, "not_moderator")
