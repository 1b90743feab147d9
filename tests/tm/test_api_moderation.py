"""What only a room's moderators may do: delete, approve and reject messages, read the
pending list and the participants (with real names), mute, and change the room. Every
change is an event with the room's next seq; everyone else gets a JSON 401 or 403 and
changes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from contract import events
from tests.conftest import ApiClient
from tm.models import AuditEntry, Event, Message, Participant, Room

from .apicheck import (
    NASTY_BODIES,
    NOT_BOOLEANS,
    assert_error,
    cookie_only,
    expire,
    send,
    unchanged,
    use_csrf,
)

ROOM = "/api/v1/rooms/bio-101"
MESSAGES = f"{ROOM}/messages"


@pytest.fixture
def ann(room, join) -> ApiClient:
    return join("bio-101", "Ann")


@pytest.fixture
def held(make_room, join):
    """A moderated room with one pending post; returns (moderator, participant, id)."""
    _, owner_key = make_room("bio-101", moderated=True, accountable=True)
    teacher = ApiClient()
    teacher.token = owner_key
    ann = join("bio-101", "Ann", real_name="Ann Lee")
    message_id = ann.post(MESSAGES, {"text": "may I?"}).json()["id"]
    return teacher, ann, message_id


def public_ids(client: ApiClient) -> list[int]:
    return [m["id"] for m in client.get(MESSAGES).json()["messages"]]


def assert_consecutive_events(types: list[str]) -> None:
    """The room's event log is its first event (room.updated: its settings at creation)
    then exactly `types`, numbered 1, 2, 3... and well formed."""
    types = ["room.updated", *types]
    log = list(Event.objects.order_by("seq"))
    assert [e.type for e in log] == types
    assert [e.seq for e in log] == list(range(1, len(types) + 1))
    for event in log:
        events.check(event.envelope)
        assert event.envelope["seq"] == event.seq and event.envelope["room"] == "bio-101"
    assert Room.objects.get(name="bio-101").seq == len(types)


# -- delete ---------------------------------------------------------------------------------
def test_delete_wipes_the_message_and_publishes_message_deleted(ann, moderator, api):
    message_id = ann.post(MESSAGES, {"text": "oops"}).json()["id"]
    assert moderator.delete(f"{MESSAGES}/{message_id}").status_code == 204
    assert public_ids(api) == []
    assert api.get(MESSAGES).json()["deleted"] == [message_id]
    message = Message.objects.get()
    assert message.status == "deleted" and message.text == "" and message.html == ""
    assert_consecutive_events(["message.created", "message.deleted"])
    assert Event.objects.get(seq=3).envelope["data"] == {"id": message_id}
    with unchanged():
        assert_error(moderator.delete(f"{MESSAGES}/{message_id}"), 404, "not_found")


@pytest.mark.parametrize("path", [
    f"{MESSAGES}/0", f"{MESSAGES}/424242", f"{MESSAGES}/999999999999999999",
    f"{MESSAGES}/99999999999999999999999", f"{MESSAGES}/-1", f"{MESSAGES}/1.0",
    f"{MESSAGES}/abc", f"{MESSAGES}/%00", f"{MESSAGES}/1%20", f"{MESSAGES}/",
    f"{MESSAGES}/{'9' * 5000}",
], ids=["zero", "unknown", "18-digits", "23-digits", "negative", "float", "letters", "nul",
        "space", "empty", "5000-digits"])
def test_unknown_message_ids_are_404(ann, moderator, path):
    ann.post(MESSAGES, {"text": "keep me"})
    with unchanged():
        assert_error(moderator.delete(path), 404)
        assert_error(moderator.post(path + "/approve"), 404)
        assert_error(moderator.post(path + "/reject"), 404)


def test_a_message_of_another_room_is_404(ann, moderator, make_room, join):
    _, chem_key = make_room("chem-1")
    other = join("chem-1", "bob").post("/api/v1/rooms/chem-1/messages", {"text": "x"})
    other_id = other.json()["id"]
    mine = ann.post(MESSAGES, {"text": "mine"}).json()["id"]
    with unchanged():
        assert_error(moderator.delete(f"{MESSAGES}/{other_id}"), 404, "not_found")
    # ...and chem-1's key does not reach into bio-101.
    chem = ApiClient()
    chem.token = chem_key
    with unchanged():
        assert_error(chem.delete(f"{MESSAGES}/{mine}"), 403, "not_moderator")


def test_messages_can_still_be_deleted_in_an_expired_room(ann, moderator):
    message_id = ann.post(MESSAGES, {"text": "x"}).json()["id"]
    expire("bio-101")
    assert moderator.delete(f"{MESSAGES}/{message_id}").status_code == 204


# -- approve and reject -----------------------------------------------------------------------
def test_approve_shows_the_post_with_a_new_seq(held, api):
    teacher, _, message_id = held
    assert public_ids(api) == []
    response = teacher.post(f"{MESSAGES}/{message_id}/approve")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "visible" and body["seq"] == 3 and "held_for" not in body
    assert public_ids(api) == [message_id]
    assert_consecutive_events(["message.pending", "message.created"])
    with unchanged():
        assert_error(teacher.post(f"{MESSAGES}/{message_id}/approve"), 409, "not_pending")
        assert_error(teacher.post(f"{MESSAGES}/{message_id}/reject"), 409, "not_pending")


def test_reject_drops_the_post(held, api):
    teacher, _, message_id = held
    assert teacher.post(f"{MESSAGES}/{message_id}/reject").status_code == 204
    assert public_ids(api) == []
    message = Message.objects.get()
    assert message.status == "rejected" and message.text == ""
    assert_consecutive_events(["message.pending", "message.deleted"])
    with unchanged():
        assert_error(teacher.post(f"{MESSAGES}/{message_id}/approve"), 404, "not_found")
        assert_error(teacher.post(f"{MESSAGES}/{message_id}/reject"), 404, "not_found")
        assert_error(teacher.delete(f"{MESSAGES}/{message_id}"), 404, "not_found")


def test_a_pending_post_can_be_deleted(held, api):
    teacher, _, message_id = held
    assert teacher.delete(f"{MESSAGES}/{message_id}").status_code == 204
    assert teacher.get(f"{ROOM}/pending").json()["messages"] == []
    with unchanged():
        assert_error(teacher.post(f"{MESSAGES}/{message_id}/approve"), 404, "not_found")


def test_approve_and_reject_take_no_body_and_ignore_one(held):
    teacher, _, message_id = held
    response = send(teacher, "POST", f"{MESSAGES}/{message_id}/approve", b"\xff\x00 junk",
                    "text/plain")
    assert response.status_code == 200, response.content


def test_the_pending_list_is_for_moderators(held, api):
    teacher, ann, message_id = held
    held_posts = teacher.get(f"{ROOM}/pending").json()["messages"]
    assert [(m["id"], m["held_for"], m["text"]) for m in held_posts] == [
        (message_id, "moderated", "may I?")]
    assert_error(api.get(f"{ROOM}/pending"), 401, "sign_in")
    assert_error(ann.get(f"{ROOM}/pending"), 403, "not_moderator")


# -- participants and real names ---------------------------------------------------------------
def test_participants_show_real_names_to_moderators_only(held, api):
    teacher, ann, message_id = held
    people = teacher.get(f"{ROOM}/participants").json()["participants"]
    assert people == [{"id": people[0]["id"], "nickname": "Ann", "muted": False,
                       "real_name": "Ann Lee"}]
    assert_error(api.get(f"{ROOM}/participants"), 401, "sign_in")
    assert_error(ann.get(f"{ROOM}/participants"), 403, "not_moderator")
    # The real name never leaves through anything a classmate can read.
    teacher.post(f"{MESSAGES}/{message_id}/approve")
    for body in (api.get(ROOM).content, api.get(MESSAGES).content, ann.get(MESSAGES).content):
        assert b"Ann Lee" not in body
    assert not any("Ann Lee" in str(e.envelope) for e in Event.objects.all())


# -- mute -------------------------------------------------------------------------------------
def mute_path(participant_id) -> str:
    return f"{ROOM}/participants/{participant_id}/mute"


def test_mute_and_unmute(ann, moderator):
    ann_id = Participant.objects.get().pk
    response = moderator.post(mute_path(ann_id), {})
    assert response.status_code == 200, response.content
    assert response.json()["muted"] is True
    with unchanged():
        assert_error(ann.post(MESSAGES, {"text": "hello?"}), 403, "muted")
    assert moderator.post(mute_path(ann_id), {"muted": False}).json()["muted"] is False
    assert ann.post(MESSAGES, {"text": "thanks"}).status_code == 201
    assert moderator.post(mute_path(ann_id), {"muted": True}).json()["muted"] is True


@pytest.mark.parametrize("value", NOT_BOOLEANS, ids=repr)
def test_mute_takes_a_boolean(ann, moderator, value):
    ann_id = Participant.objects.get().pk
    with unchanged():
        assert_error(moderator.post(mute_path(ann_id), {"muted": value}), 400, "invalid",
                     "muted")


def test_mute_refuses_unknown_fields(ann, moderator):
    ann_id = Participant.objects.get().pk
    with unchanged():
        assert_error(moderator.post(mute_path(ann_id), {"muted": True, "until": 5}), 400,
                     "invalid", "until")


@pytest.mark.parametrize("raw, content_type, status, code", NASTY_BODIES)
def test_mute_refuses_nasty_bodies(ann, moderator, raw, content_type, status, code):
    ann_id = Participant.objects.get().pk
    with unchanged():
        response = send(moderator, "POST", mute_path(ann_id), raw, content_type)
    assert_error(response, status, code)


def test_mute_needs_a_participant_of_this_room(ann, moderator, make_room, join):
    make_room("chem-1")
    join("chem-1", "bob")
    bob_id = Participant.objects.get(nickname="bob").pk
    with unchanged():
        assert_error(moderator.post(mute_path(bob_id), {}), 404, "not_found")
        assert_error(moderator.post(mute_path(999999), {}), 404, "not_found")
        assert_error(moderator.post(mute_path("9" * 23), {}), 404)
        assert_error(moderator.post(mute_path("x"), {}), 404)


# -- changing the room -------------------------------------------------------------------------
def test_state_changes_gate_posting(ann, moderator):
    for state, status in [("paused", 403), ("closed", 403), ("open", 201)]:
        response = moderator.patch(ROOM, {"state": state})
        assert response.status_code == 200, response.content
        assert response.json()["state"] == state
        assert ann.post(MESSAGES, {"text": state}).status_code == status
    assert_consecutive_events(["room.updated"] * 3 + ["message.created"])
    assert [e.envelope["data"]["state"] for e in Event.objects.order_by("seq")[1:4]] == [
        "paused", "closed", "open"]


def test_pause_minutes_pauses_for_a_while(ann, moderator):
    body = moderator.patch(ROOM, {"pause_minutes": 5}).json()
    assert body["state"] == "paused" and body["paused_until"]
    until = Room.objects.get().paused_until
    assert timedelta(minutes=4) < until - timezone.now() <= timedelta(minutes=5)
    assert_error(ann.post(MESSAGES, {"text": "hi"}), 403, "room_paused")
    body = moderator.patch(ROOM, {"pause_minutes": None}).json()
    assert body["state"] == "paused" and body["paused_until"] is None
    assert moderator.patch(ROOM, {"state": "open"}).json()["paused_until"] is None
    assert ann.post(MESSAGES, {"text": "hi"}).status_code == 201


def test_topic_and_lifetime(room, moderator, api):
    response = moderator.patch(ROOM, {"topic": " Mitosis  and meiosis ", "lifetime": 7200})
    assert response.status_code == 200, response.content
    assert api.get(ROOM).json()["topic"] == "Mitosis and meiosis"
    expires = Room.objects.get().expires_at
    assert timedelta(minutes=119) < expires - timezone.now() <= timedelta(hours=2)
    assert moderator.patch(ROOM, {"topic": None}).json()["topic"] == ""
    assert_consecutive_events(["room.updated", "room.updated"])


def test_a_closed_room_can_be_reopened_and_settings_changed(ann, moderator):
    moderator.patch(ROOM, {"state": "closed"})
    response = moderator.patch(ROOM, {"moderated": True, "state": "open"})
    assert response.status_code == 200, response.content
    assert ann.post(MESSAGES, {"text": "held"}).json()["status"] == "pending"


def test_a_whole_lesson_numbers_every_event_in_order(make_room, join, api):
    _, owner_key = make_room("bio-101")
    teacher = ApiClient()
    teacher.token = owner_key
    ann, bob = join("bio-101", "ann"), join("bio-101", "bob")
    first = ann.post(MESSAGES, {"text": "one"}).json()["id"]
    bob.post(MESSAGES, {"text": "two"})
    teacher.patch(ROOM, {"moderated": True, "topic": "Q&A"})
    held_id = ann.post(MESSAGES, {"text": "three"}).json()["id"]
    dropped = bob.post(MESSAGES, {"text": "four"}).json()["id"]
    teacher.post(f"{MESSAGES}/{held_id}/approve")
    teacher.post(f"{MESSAGES}/{dropped}/reject")
    teacher.delete(f"{MESSAGES}/{first}")
    teacher.patch(ROOM, {"pause_minutes": 10})
    # Refused calls in between spend no seq.
    ann.post(MESSAGES, {"text": "paused now"})
    api.patch(ROOM, {"topic": "nope"})
    teacher.post(f"{MESSAGES}/{first}/approve")
    assert_consecutive_events([
        "message.created", "message.created", "room.updated", "message.pending",
        "message.pending", "message.created", "message.deleted", "message.deleted",
        "room.updated",
    ])
    page = api.get(MESSAGES).json()
    assert [m["text"] for m in page["messages"]] == ["two", "three"]
    assert page["seq"] == 10 and sorted(page["deleted"]) == sorted([first, dropped])


# -- who is a moderator ----------------------------------------------------------------------------
MODERATOR_CALLS = [
    ("PATCH", ROOM, {"topic": "hacked"}),
    ("DELETE", ROOM, None),
    ("DELETE", f"{MESSAGES}/{{message}}", None),
    ("POST", f"{MESSAGES}/{{message}}/approve", None),
    ("POST", f"{MESSAGES}/{{message}}/reject", None),
    ("POST", f"{ROOM}/participants/{{participant}}/mute", {"muted": True}),
    ("GET", f"{ROOM}/participants", None),
    ("GET", f"{ROOM}/pending", None),
    ("POST", f"{MESSAGES}/{{message}}/keep", None),
    ("POST", f"{ROOM}/participants/{{participant}}/erase", None),
    ("GET", f"{ROOM}/reports", None),
    ("GET", f"{ROOM}/audit", None),
]
OUTSIDERS = ["nobody", "participant", "participant-cookie", "forged", "huge", "empty-bearer",
             "other-rooms-key", "other-rooms-participant", "owner-key-cookie-without-csrf",
             "owner-key-in-wrong-cookie"]


@pytest.fixture
def lesson(held, make_room, join):
    """bio-101 with a pending post, and chem-1 beside it."""
    teacher, ann, message_id = held
    _, chem_key = make_room("chem-1")
    return {"teacher": teacher, "ann": ann, "message": message_id, "chem_key": chem_key,
            "chem_participant": join("chem-1", "bob"),
            "participant": Participant.objects.get(nickname="Ann").pk}


def outsider(kind: str, lesson) -> tuple[ApiClient, int, str]:
    """A client of this kind, and the status and code it must get."""
    client = ApiClient()
    owner_key = lesson["teacher"].token
    if kind == "nobody":
        return client, 401, "sign_in"
    if kind == "participant":
        return lesson["ann"], 403, "not_moderator"
    if kind == "participant-cookie":
        return cookie_only(lesson["ann"]), 401, "sign_in"
    if kind == "other-rooms-participant":
        return lesson["chem_participant"], 403, "not_moderator"
    if kind == "owner-key-cookie-without-csrf":
        client.client.cookies["tm_o_bio-101"] = owner_key
        return client, 403, "csrf_failed"
    if kind == "owner-key-in-wrong-cookie":
        client.client.cookies["tm_o_chem-1"] = owner_key
        client.client.cookies["tm_p_bio-101"] = owner_key
        return client, 401, "sign_in"
    client.token = {"forged": "forged-owner-key-0123456789", "huge": "k" * 5000,
                    "empty-bearer": " ", "other-rooms-key": lesson["chem_key"]}[kind]
    if kind == "empty-bearer":
        return client, 401, "sign_in"
    return client, 403, "not_moderator"


@pytest.mark.parametrize("kind", OUTSIDERS)
@pytest.mark.parametrize("method, path, body", MODERATOR_CALLS,
                         ids=[f"{m} {p.removeprefix(ROOM) or '/'}" for m, p, _ in MODERATOR_CALLS])
def test_only_moderators_may_moderate(lesson, method, path, body, kind):
    client, status, code = outsider(kind, lesson)
    if (method, path) == ("DELETE", f"{MESSAGES}/{{message}}") and kind.startswith(
            "participant"):
        return  # Ann's own post: its author may delete it (tests/tm/test_erasure.py)
    path = path.format(message=lesson["message"], participant=lesson["participant"])
    if method == "GET" and code == "csrf_failed":
        # Reads carry no CSRF risk (another site cannot read the answer): the cookie
        # is the owner's key, so this one is a moderator after all.
        assert client.get(path).status_code == 200
        return
    with unchanged():
        response = client.call(method, path, body)
    assert_error(response, status, code)


@pytest.mark.parametrize("method, path, body", MODERATOR_CALLS,
                         ids=[f"{m} {p.removeprefix(ROOM) or '/'}" for m, p, _ in MODERATOR_CALLS])
def test_an_owner_key_cookie_with_csrf_may_moderate(lesson, method, path, body):
    client = ApiClient()
    client.client.cookies["tm_o_bio-101"] = lesson["teacher"].token
    path = path.format(message=lesson["message"], participant=lesson["participant"])
    response = client.call(method, path, body, headers=use_csrf(client))
    if path.endswith("/keep"):  # let in; but the held post was never reported
        assert_error(response, 409, "not_reported")
        return
    assert response.status_code in (200, 204), response.content


@pytest.mark.parametrize("method, path, body", MODERATOR_CALLS,
                         ids=[f"{m} {p.removeprefix(ROOM) or '/'}" for m, p, _ in MODERATOR_CALLS])
def test_moderating_a_missing_room_is_404(lesson, method, path, body):
    path = path.replace("bio-101", "gone-1").format(message=lesson["message"],
                                                    participant=lesson["participant"])
    with unchanged():
        assert_error(lesson["teacher"].call(method, path, body), 404, "room_not_found")


LIVE_ONLY = {"mute", "participants", "pending", "reports"}


@pytest.mark.parametrize("method, path, body", [
    c for c in MODERATOR_CALLS if c[1].rsplit("/", 1)[-1] in LIVE_ONLY
], ids=sorted(LIVE_ONLY, key=["mute", "participants", "pending", "reports"].index))
def test_moderating_an_expired_room_is_410(lesson, method, path, body):
    expire("bio-101")
    path = path.format(message=lesson["message"], participant=lesson["participant"])
    with unchanged():
        assert_error(lesson["teacher"].call(method, path, body), 410, "room_expired")


def test_an_expired_room_can_still_be_erased_from_and_its_log_read(lesson):
    """Until the purge deletes it, an expired room's data can still be erased (a
    student's posts, by the teacher) and its audit log read: rights do not expire."""
    expire("bio-101")
    teacher = lesson["teacher"]
    assert teacher.get(f"{ROOM}/audit").status_code == 200
    answer = teacher.post(f"{ROOM}/participants/{lesson['participant']}/erase")
    assert answer.status_code == 200 and answer.json() == {"posts_deleted": 1}


@pytest.mark.parametrize("method, path, allow", [
    ("PUT", f"{MESSAGES}/1", "GET, DELETE"), ("PATCH", f"{MESSAGES}/1", "GET, DELETE"),
    ("GET", f"{MESSAGES}/1/approve", "POST"), ("DELETE", f"{MESSAGES}/1/reject", "POST"),
    ("GET", f"{ROOM}/participants/1/mute", "POST"), ("POST", f"{ROOM}/participants", "GET"),
    ("DELETE", f"{ROOM}/pending", "GET"),
])
def test_wrong_methods_are_405(room, moderator, method, path, allow):
    with unchanged():
        response = moderator.call(method, path, {})
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == allow


# -- a teacher holds a visible post ----------------------------------------------------
def test_a_teacher_holds_a_visible_post_back_for_a_decision(room, moderator, ann, api):
    first = ann.post(MESSAGES, {"text": "is this on the test?"}).json()["id"]
    post = ann.post(MESSAGES, {"text": "something to think over"}).json()["id"]
    answer = moderator.post(f"{MESSAGES}/{post}/hold")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["status"] == "pending" and body["held_for"] == "teacher"
    assert [m["id"] for m in api.get(MESSAGES).json()["messages"]] == [first]
    assert post in api.get(MESSAGES).json()["deleted"]
    kinds = list(Event.objects.filter(seq__gt=3).order_by("seq").values_list("type", flat=True))
    assert kinds == [events.MESSAGE_DELETED, events.MESSAGE_PENDING]
    pending = Event.objects.get(type=events.MESSAGE_PENDING).envelope["data"]
    assert pending["text"] == "something to think over"  # the teachers decide on it
    queue = moderator.get(f"{ROOM}/pending").json()["messages"]
    assert [(m["id"], m["held_for"]) for m in queue] == [(post, "teacher")]
    entry = AuditEntry.objects.get(action="message.held")
    assert entry.actor == "the room's creator"
    assert entry.detail["reason"] == "a teacher took it back to look at"
    with unchanged():
        assert_error(moderator.post(f"{MESSAGES}/{post}/hold"), 409, "not_visible")
    assert moderator.post(f"{MESSAGES}/{post}/approve").status_code == 200
    assert [m["text"] for m in api.get(MESSAGES).json()["messages"]] == [
        "is this on the test?", "something to think over"]


def test_only_teachers_hold_and_only_posts_that_exist(room, moderator, ann, api):
    post = ann.post(MESSAGES, {"text": "mine"}).json()["id"]
    with unchanged():
        assert_error(ann.post(f"{MESSAGES}/{post}/hold"), 403)
        assert_error(api.post(f"{MESSAGES}/{post}/hold"), 401)
        assert_error(moderator.post(f"{MESSAGES}/987654/hold"), 404, "not_found")
        assert_error(moderator.get(f"{MESSAGES}/{post}/hold"), 405, "method_not_allowed")
    assert moderator.delete(f"{MESSAGES}/{post}").status_code == 204
    with unchanged():
        assert_error(moderator.post(f"{MESSAGES}/{post}/hold"), 404, "not_found")


def test_the_moderation_page_holds_a_post(room, ann):
    post = ann.post(MESSAGES, {"text": "hold me"}).json()["id"]
    page = ApiClient()
    page.client.cookies["tm_o_bio-101"] = room["owner_key"]
    csrf = use_csrf(page)
    html = page.client.get("/bio-101/moderate").content.decode()
    assert 'aria-label="Hold message from Ann">Hold</button>' in html
    response = page.client.post("/bio-101/moderate/action",
                                {"action": "hold", "message": post}, **csrf)
    assert response.status_code == 302
    assert Message.objects.get(pk=post).held_for == "teacher"
    html = page.client.get("/bio-101/moderate").content.decode()
    assert "held by a teacher" in html and "Post held: students no longer see it" in html
