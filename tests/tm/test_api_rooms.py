"""POST /api/v1/rooms and GET/PATCH/DELETE /api/v1/rooms/<room>, with the nasty cases:
each refused request gets its documented 4xx in the JSON error shape and changes
nothing in the database."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.conftest import ApiClient
from tm.models import Event, Message, Participant, Room

from .apicheck import (
    BROKEN_TEXT,
    NASTY_BODIES,
    NOT_BOOLEANS,
    NOT_INTEGERS,
    NOT_STRINGS,
    assert_error,
    expire,
    send,
    unchanged,
    use_csrf,
)

ROOMS = "/api/v1/rooms"
ROOM = "/api/v1/rooms/bio-101"
ROOM_KEYS = {"name", "topic", "state", "moderated", "expires_at", "seq"}


# -- create ------------------------------------------------------------------------
def test_create_answers_201_with_the_room_an_owner_key_and_its_cookie(db, api):
    response = api.post(ROOMS, {"name": "Bio-101", "topic": "Cells", "moderated": True})
    assert response.status_code == 201, response.content
    body = response.json()
    assert ROOM_KEYS <= set(body)
    assert body["name"] == "bio-101" and body["topic"] == "Cells" and body["moderated"]
    assert body["state"] == "open" and body["seq"] == 1
    assert body["owner_key"]
    cookie = response.cookies["tm_o_bio-101"]
    assert cookie.value == body["owner_key"] and cookie["httponly"]
    room = Room.objects.get()
    assert room.owner_key_hash and body["owner_key"] not in room.owner_key_hash
    # The default lifetime is a day.
    assert abs(room.expires_at - timezone.now() - timedelta(days=1)) < timedelta(minutes=1)


def test_create_takes_every_documented_setting(db, api):
    response = api.post(ROOMS, {
        "name": "  CHEM-2 ", "topic": "  Acids   and\u00a0 bases ", "lifetime": 3600,
        "moderated": False, "accountable": True, "password": "s3cret",
        "screening": "strict", "language": "de", "max_length": 280,
        "allowed_origins": ["https://LMS.example.edu/"],
    })
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "chem-2"
    assert body["topic"] == "Acids and bases"
    assert body["accountable"] and body["password_required"] and body["max_length"] == 280
    assert body["screening"] == "strict" and body["language"] == "de"
    assert body["allowed_origins"] == ["https://lms.example.edu"]
    room = Room.objects.get()
    assert room.join_password != "s3cret" and room.check_join_password("s3cret")


@pytest.mark.parametrize("raw, content_type, status, code", NASTY_BODIES)
def test_create_refuses_nasty_bodies(db, api, raw, content_type, status, code):
    with unchanged():
        response = send(api, "POST", ROOMS, raw, content_type)
    assert_error(response, status, code)


BAD_CREATE_FIELDS = [
    *[("name", value) for value in NOT_STRINGS],
    *[("name", value) for value in [
        "", "   ", "a" * 41, "<script>alert(1)</script>", "javascript:alert(1)",
        "bio 101", "-bio", "bio-", "bio_101", "bío", "bio\u200b101", "\u202ebio", "bio/101",
        "api", "admin", "static", "rooms", *BROKEN_TEXT,
    ]],
    *[("topic", value) for value in [0, True, [], {}, "t" * 201, *BROKEN_TEXT]],
    *[("lifetime", value) for value in [*NOT_INTEGERS, 0, -1, 3599, 31536001, 2**64, 1e308]],
    *[("moderated", value) for value in NOT_BOOLEANS],
    *[("accountable", value) for value in NOT_BOOLEANS],
    *[("password", value) for value in [0, True, [], {}, "p" * 129, *BROKEN_TEXT[:2]]],
    *[("screening", value) for value in [None, 0, True, "STRICT", "none", "", [], {},
                                          ["strict"], "hold", "block"]],
    *[("language", value) for value in [None, 0, True, "EN", "eng", "english", "", "xx",
                                         "en-US", ["en"], {}, "\u0435n"]],
    *[("max_length", value) for value in [*NOT_INTEGERS, 0, 139, 281, 1000, -140]],
    *[("allowed_origins", value) for value in [
        None, 0, True, {}, [1], [None], "javascript:alert(1)", ["javascript:alert(1)"],
        ["http://lms.example.edu"], ["data:text/html,<script>alert(1)</script>"],
        ["https://lms.example.edu/path"], ["https://*.example.edu"],
        [f"https://h{n}.example.edu" for n in range(21)],
    ]],
]


@pytest.mark.parametrize("field, value", BAD_CREATE_FIELDS,
                         ids=[f"{f}={v!r}"[:60] for f, v in BAD_CREATE_FIELDS])
def test_create_refuses_bad_fields(db, api, field, value):
    body = {"name": "chem-1", field: value}
    with unchanged():
        response = api.post(ROOMS, body)
    assert_error(response, 400, "invalid", field)


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"topic": "no name"}, "name"),
    ({"name": "chem-1", "owner": 1}, "owner"),
    ({"name": "chem-1", "seq": 99}, "seq"),
    ({"name": "chem-1", "state": "closed"}, "state"),
    ({"name": "chem-1", "<script>": 1}, "<script>"),
    ({"name": "chem-1", "": 1}, ""),
], ids=["empty-object", "no-name", "owner", "seq", "state", "script-key", "empty-key"])
def test_create_refuses_missing_and_unknown_fields(db, api, body, field):
    with unchanged():
        response = api.post(ROOMS, body)
    assert_error(response, 400, "invalid", field)


@pytest.mark.parametrize("name", ["bio-101", "BIO-101", " bio-101 "])
def test_a_taken_name_is_409(room, api, name):
    with unchanged():
        response = api.post(ROOMS, {"name": name, "topic": "mine now"})
    assert_error(response, 409, "name_taken", "name")


def test_an_expired_room_gives_its_name_up(room, join, api):
    join("bio-101", "ann").post(f"{ROOM}/messages", {"text": "old"})
    expire("bio-101")
    response = api.post(ROOMS, {"name": "bio-101"})
    assert response.status_code == 201, response.content
    assert Room.objects.count() == 1 and Room.objects.get().seq == 1
    assert not Message.objects.exists() and not Participant.objects.exists()
    # The new room's only event is its first: its settings.
    assert list(Event.objects.values_list("type", "seq")) == [("room.updated", 1)]


def test_topics_with_markup_are_kept_as_text(db, api):
    topic = '<script>alert(1)</script> <a href="javascript:alert(1)">x</a> שלום سلام'
    response = api.post(ROOMS, {"name": "chem-1", "topic": topic})
    assert response.status_code == 201, response.content
    # JSON carries text, not HTML: pages and room.js escape it where they show it.
    assert response.json()["topic"] == topic
    assert api.get("/api/v1/rooms/chem-1").json()["topic"] == topic


def test_create_room_rate_limit_is_429_with_retry_after(db, api, settings):
    settings.TM_RATE_CREATE_ROOM_PER_CLIENT = "2/h"
    for name in ("chem-1", "chem-2"):
        assert api.post(ROOMS, {"name": name}).status_code == 201
    with unchanged():
        response = api.post(ROOMS, {"name": "chem-3"})
    assert_error(response, 429, "rate_limited")


# -- read -----------------------------------------------------------------------------
def test_get_room_shows_the_public_fields(room, api, moderator):
    body = api.get(ROOM).json()
    assert ROOM_KEYS <= set(body)
    assert "owner_key" not in body and "screening" not in body
    assert "allowed_origins" not in body and body["language"] == "en"
    assert moderator.get(ROOM).json()["screening"] == "standard"


@pytest.mark.parametrize("path", [
    "/api/v1/rooms/chem-1", "/api/v1/rooms/%FF", "/api/v1/rooms/%00", "/api/v1/rooms/..",
    "/api/v1/rooms/bio%20101", "/api/v1/rooms/%3Cscript%3E", "/api/v1/rooms/" + "a" * 5000,
    "/api/v1/rooms/api", "/api/v1/rooms/bio-101%E2%80%8B", "/api/v1/rooms/bio-101/",
    "/api/v1/rooms/", "/api/v1/nothing", "/api/v2/rooms/bio-101",
], ids=["missing", "ff", "nul", "dotdot", "space", "script", "long", "reserved",
        "zero-width", "trailing-slash", "no-name", "no-route", "v2"])
def test_unknown_rooms_and_paths_are_json_404(room, api, path):
    assert_error(api.get(path), 404)


def test_an_expired_room_is_410(room, api):
    expire("bio-101")
    assert_error(api.get(ROOM), 410, "room_expired")


def test_names_in_urls_are_case_insensitive(room, api):
    assert api.get("/api/v1/rooms/BIO-101").json()["name"] == "bio-101"


@pytest.mark.parametrize("method, path, allow", [
    ("GET", ROOMS, "POST"), ("PUT", ROOMS, "POST"), ("DELETE", ROOMS, "POST"),
    ("PATCH", ROOMS, "POST"), ("POST", ROOM, "GET, PATCH, DELETE"),
    ("PUT", ROOM, "GET, PATCH, DELETE"), ("PUT", "/api/v1/rooms/chem-1", "GET, PATCH, DELETE"),
])
def test_other_methods_are_405_with_allow(room, api, method, path, allow):
    with unchanged():
        response = api.call(method, path, {"name": "x"})
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == allow


# -- update -----------------------------------------------------------------------------
def test_patch_changes_settings_and_publishes_room_updated(room, moderator):
    response = moderator.patch(ROOM, {"topic": "Mitosis", "max_length": 200,
                                      "screening": "off", "language": "fr"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["topic"] == "Mitosis" and body["max_length"] == 200 and body["seq"] == 2
    event = Event.objects.get(seq=2)
    assert event.type == "room.updated" and event.envelope["data"]["topic"] == "Mitosis"


def test_patch_with_nothing_user_visible_records_no_event(room, moderator):
    assert moderator.patch(ROOM, {}).status_code == 200
    assert moderator.patch(ROOM, {"max_length": 200}).status_code == 200
    assert Event.objects.count() == 1  # the room's first, nothing since


@pytest.mark.parametrize("raw, content_type, status, code", NASTY_BODIES)
def test_patch_refuses_nasty_bodies(room, moderator, raw, content_type, status, code):
    with unchanged():
        response = send(moderator, "PATCH", ROOM, raw, content_type)
    assert_error(response, status, code)


BAD_PATCH_FIELDS = [
    *[("state", value) for value in [None, 0, True, "OPEN", "expired", "deleted", "", [],
                                      ["open"], {"state": "open"}]],
    *[("pause_minutes", value) for value in [0, -1, 1441, 2**63, True, "5", 5.0, 1.5, [],
                                              [5], {}]],
    *[("topic", value) for value in [0, True, [], {}, "t" * 201, *BROKEN_TEXT]],
    *[("lifetime", value) for value in [*NOT_INTEGERS, 0, 3599, 31536001, 2**64]],
    *[("moderated", value) for value in NOT_BOOLEANS],
    *[("max_length", value) for value in [True, "200", 200.0, 139, 281]],
    *[("password", value) for value in [0, True, [], "p" * 129, "\ud800"]],
    *[("screening", value) for value in [None, "OFF", 1, "block"]],
    *[("language", value) for value in [None, "FR", 1, "klingon"]],
    *[("allowed_origins", value) for value in ["javascript:alert(1)", [1], {}]],
    *[(name, 1) for name in ("name", "seq", "owner", "owner_key", "expires_at", "id")],
]


@pytest.mark.parametrize("field, value", BAD_PATCH_FIELDS,
                         ids=[f"{f}={v!r}"[:60] for f, v in BAD_PATCH_FIELDS])
def test_patch_refuses_bad_fields(room, moderator, field, value):
    with unchanged():
        response = moderator.patch(ROOM, {field: value})
    assert_error(response, 400, "invalid", field)


def test_patch_on_an_expired_room_is_410_unless_it_renews_the_lifetime(room, moderator):
    expire("bio-101")
    with unchanged():
        assert_error(moderator.patch(ROOM, {"topic": "late"}), 410, "room_expired")
    response = moderator.patch(ROOM, {"lifetime": 7200, "topic": "again"})
    assert response.status_code == 200, response.content
    assert moderator.get(ROOM).json()["topic"] == "again"


def test_patch_and_delete_on_a_missing_room_are_404(db, api):
    api.token = "anything"
    with unchanged():
        assert_error(api.patch("/api/v1/rooms/chem-1", {"topic": "x"}), 404)
        assert_error(api.delete("/api/v1/rooms/chem-1"), 404)


# -- who may change a room ----------------------------------------------------------------
def _outsiders(make_room, join):
    """(client, status) for everyone who is not bio-101's moderator."""
    _, other_key = make_room("chem-1")
    participant = join("bio-101", "ann")
    other_participant = join("chem-1", "bob")
    cases = [(ApiClient(), 401), (participant, 403), (other_participant, 403)]
    for token in (other_key, "forged-" + "x" * 30, "x" * 5000, "", "Bearer"):
        client = ApiClient()
        client.token = token
        cases.append((client, 403 if token.strip() else 401))
    return cases


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_only_moderators_may_change_or_delete_a_room(room, make_room, join, method):
    for client, status in _outsiders(make_room, join):
        with unchanged():
            response = client.call(method, ROOM, {"topic": "hacked"})
        assert_error(response, status)


def test_an_owner_key_cookie_needs_csrf_but_a_bearer_key_does_not(db):
    browser = ApiClient()
    assert browser.post(ROOMS, {"name": "bio-101"}).status_code == 201  # sets tm_o_bio-101
    with unchanged():
        assert_error(browser.patch(ROOM, {"topic": "x"}), 403, "csrf_failed")
    csrf = use_csrf(browser)
    response = browser.patch(ROOM, {"topic": "x"}, headers=csrf)
    assert response.status_code == 200, response.content


def test_signed_in_teachers_own_their_rooms_and_need_csrf(db):
    users = get_user_model().objects
    teacher = ApiClient()
    teacher.client.force_login(users.create_user("teach", password="pw-teach-1"))
    with unchanged():
        assert_error(teacher.post(ROOMS, {"name": "bio-101"}), 403, "csrf_failed")
    csrf = use_csrf(teacher)
    response = teacher.post(ROOMS, {"name": "bio-101"}, headers=csrf)
    assert response.status_code == 201, response.content
    assert "owner_key" not in response.json()
    assert Room.objects.get().owner.username == "teach"
    with unchanged():
        assert_error(teacher.patch(ROOM, {"topic": "x"}), 403, "csrf_failed")
    assert teacher.patch(ROOM, {"topic": "x"}, headers=csrf).status_code == 200

    other = ApiClient()
    other.client.force_login(users.create_user("other", password="pw-other-1"))
    with unchanged():
        assert_error(other.patch(ROOM, {"topic": "y"}, headers=use_csrf(other)), 403,
                     "not_moderator")
    staff = ApiClient()
    staff.client.force_login(users.create_user("staff", password="pw-staff-1", is_staff=True))
    assert staff.patch(ROOM, {"topic": "z"}, headers=use_csrf(staff)).status_code == 200


# -- delete -----------------------------------------------------------------------------
def test_delete_removes_the_room_and_everything_in_it(room, join, moderator, api):
    join("bio-101", "ann").post(f"{ROOM}/messages", {"text": "hi"})
    assert moderator.delete(ROOM).status_code == 204
    for model in (Room, Participant, Message, Event):
        assert not model.objects.exists()
    assert_error(api.get(ROOM), 410, "room_ended")
    assert_error(moderator.delete(ROOM), 410, "room_ended")


# -- analytics settings (read by the sotu collector) ---------------------------------
@pytest.mark.parametrize("name, scope", [("sotu-2027", "sotu"), ("stateoftheunion", "sotu"),
                                         ("my-sotu-watch", "sotu"), ("bio-101", "")])
def test_rooms_named_for_the_state_of_the_union_count_in_it_by_default(make_room, name, scope):
    body, _ = make_room(name)
    assert body["event_scope"] == scope
    assert body["analytics"] is False


def test_a_room_can_opt_out_of_its_event_and_turn_on_its_own_charts(make_room, api):
    body, key = make_room("sotu-watch", event_scope="")
    assert body["event_scope"] == ""
    api.token = key
    response = api.patch("/api/v1/rooms/sotu-watch", {"analytics": True, "event_scope": "Debate-1"})
    assert response.status_code == 200, response.content
    assert response.json()["analytics"] is True
    assert response.json()["event_scope"] == "debate-1"
    event = Event.objects.filter(type="room.updated").latest("seq").envelope
    assert event["data"]["analytics"] is True and event["data"]["event_scope"] == "debate-1"


@pytest.mark.parametrize("value", ["no spaces", 5, True, "x" * 41, ["sotu"]])
def test_bad_event_scopes(make_room, api, value):
    response = api.post("/api/v1/rooms", {"name": "ev-room", "event_scope": value})
    assert response.status_code == 400
    assert "event_scope" in response.json()["error"]["fields"]


def test_a_new_rooms_first_event_is_its_settings(db, api):
    # What the push nodes and the collector learn a room's settings from (docs/contracts.md).
    response = api.post(ROOMS, {"name": "sotu-watch", "password": "pw", "analytics": True})
    assert response.status_code == 201, response.content
    event = Event.objects.get()
    assert (event.seq, event.type) == (1, "room.updated")
    assert event.envelope["data"]["analytics"] is True
    assert event.envelope["data"]["event_scope"] == ""  # private: no shared event
    api.post(ROOMS, {"name": "sotu-open"})
    assert Event.objects.get(room__name="sotu-open").envelope["data"]["event_scope"] == "sotu"
