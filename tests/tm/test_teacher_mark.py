"""Nobody poses as the teacher: the teacher's posts carry a mark in every view, the
history API and the events; students cannot take names such as "Teacher"; nicknames
that look alike (UTS #39 confusables) count as one."""

import json

import pytest
from django.test import Client

from contract import events
from tm.models import Event, Message

from .apicheck import assert_error

pytestmark = pytest.mark.django_db


def _join(room: str, nickname: str, token: str | None = None, **fields):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post(f"/api/v1/rooms/{room}/join",
                         json.dumps({"nickname": nickname, **fields}),
                         content_type="application/json", **headers)


def _post(token: str, room: str, text: str):
    return Client().post(f"/api/v1/rooms/{room}/messages", json.dumps({"text": text}),
                         content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_the_teachers_posts_carry_the_mark_everywhere(make_room):
    _, owner_key = make_room("marked", password="pw", moderated=True)
    teacher = _join("marked", "Teacher", owner_key)  # no password: it is their room
    assert teacher.status_code == 201, teacher.content
    assert teacher.json()["follow"]["role"] == "moderator"  # sees what waits for approval
    student = _join("marked", "ann", password="pw").json()["token"]
    answer = _post(teacher.json()["token"], "marked", "Read page 12").json()
    assert answer["by_teacher"] is True and answer["status"] == "visible"  # never held
    assert _post(student, "marked", "ok").json()["by_teacher"] is False
    created = Event.objects.get(type=events.MESSAGE_CREATED).envelope
    assert created["data"]["by_teacher"] is True
    events.check(created)
    pending = Event.objects.get(type=events.MESSAGE_PENDING).envelope
    assert pending["data"]["by_teacher"] is False
    history = Client().get("/api/v1/rooms/marked/messages",
                           HTTP_AUTHORIZATION=f"Bearer {student}").json()["messages"]
    assert [(m["nickname"], m["by_teacher"]) for m in history] == [("Teacher", True)]
    page = Client()
    page.cookies["tm_p_marked"] = student
    html = page.get("/marked").content.decode()
    assert html.count('class="badge badge-teacher"') == 1
    owner = Client()
    owner.cookies["tm_o_marked"] = owner_key
    csv = owner.get("/marked/transcript.csv").content.decode()
    assert csv.splitlines()[0].endswith(",by_teacher") and "Read page 12,yes" in csv
    assert "[teacher]" in owner.get("/marked/transcript.txt").content.decode()


@pytest.mark.parametrize("nickname", ["Teacher", "teacher", "TEACHER", "teacher2",
                                      "Mr. Teacher", "Теacher", "Admin", "Moderator",
                                      "Lehrerin", "Professor X", "Tea\u200bcher",
                                      "Teach\u00ader", "T\u2060eacher"])
def test_students_cannot_take_the_teachers_names(make_room, nickname):
    make_room("names")
    assert_error(_join("names", nickname), 400, "reserved_nickname", "nickname")
    # The join page says so too.
    page = Client().post("/names", {"nickname": nickname})
    assert page.status_code == 400 and "kept for the room" in page.content.decode()


@pytest.mark.parametrize(("first", "second"), [
    ("Alice", "AIice"),  # capital I for l
    ("Alice", "\u0410lice"),  # Cyrillic А
    ("ann", "\u0430nn"),  # Cyrillic а
    ("Bob", "B\u043eb"),  # Cyrillic о
    ("lily", "1ily"),
    ("Alice", "AI\u200bice"),  # invisible characters hide nothing
    ("\ucb94" * 23, "\ucb94" * 23 + "\u200b"),  # a skeleton longer than the column
])
def test_nicknames_that_look_alike_count_as_one(make_room, first, second):
    make_room("alike")
    assert _join("alike", first).status_code == 201
    assert_error(_join("alike", second), 409, "nickname_taken", "nickname")


@pytest.mark.parametrize("nickname", ["Teachers' pet", "Mia", "李明", "محمد", "Ана"])
def test_ordinary_names_in_any_script_are_welcome(make_room, nickname):
    make_room("welcome")
    response = _join("welcome", nickname)
    if nickname == "Teachers' pet":  # a word of it is a kept name
        assert_error(response, 400, "reserved_nickname", "nickname")
    else:
        assert response.status_code == 201, response.content


def test_an_event_from_an_older_tm_without_the_mark_is_still_taken():
    data = {"id": 1, "nickname": "a", "text": "t", "html": "t",
            "created": "2026-11-23T10:00:00.000Z"}
    envelope = {"v": 1, "type": events.MESSAGE_CREATED, "room": "r", "seq": 1,
                "ts": "2026-11-23T10:00:00.000Z", "data": data}
    events.check(envelope)
    with pytest.raises(events.InvalidEvent):
        events.check({**envelope, "data": {**data, "by_teacher": "yes"}})
    with pytest.raises(events.InvalidEvent):
        events.check({**envelope, "data": {**data, "votes": 1}})


def test_a_message_keeps_its_mark_after_its_author_leaves(make_room):
    _, owner_key = make_room("kept")
    token = _join("kept", "Ms Rivera", owner_key).json()["token"]
    _post(token, "kept", "hello")
    assert Message.objects.get().by_teacher is True
