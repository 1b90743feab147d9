"""POST /api/v1/rooms/<room>/join: nickname rules, accountable and password rooms, and
rooms that cannot be joined. Refused joins are a JSON 4xx and add no participant."""

import pytest

from tm.models import Participant, Room

from .apicheck import (
    BROKEN_TEXT,
    NASTY_BODIES,
    NOT_STRINGS,
    assert_error,
    expire,
    send,
    set_room,
    unchanged,
)

JOIN = "/api/v1/rooms/bio-101/join"


def test_join_answers_201_with_a_token_and_sets_the_cookie(room, api):
    response = api.post(JOIN, {"nickname": "Ann"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["nickname"] == "Ann" and body["token"] and isinstance(body["id"], int)
    cookie = response.cookies["tm_p_bio-101"]
    assert cookie.value == body["token"] and cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    participant = Participant.objects.get()
    assert participant.nickname_key == "ann" and body["token"] not in participant.token_hash


@pytest.mark.parametrize("raw, shown", [
    ("  Ann  ", "Ann"),
    ("Ann \n\t Lee", "Ann Lee"),
    ("\u00a0Ann\u3000Lee\u2003", "Ann Lee"),
    ("x" * 24, "x" * 24),
    ("  " + "x" * 24 + "  ", "x" * 24),
    ("Zoe\u0308", "Zo\u00eb"),  # NFC: the combining diaeresis counts as one letter
])
def test_nicknames_are_trimmed_and_collapsed(room, api, raw, shown):
    response = api.post(JOIN, {"nickname": raw})
    assert response.status_code == 201, response.content
    assert response.json()["nickname"] == shown


@pytest.mark.parametrize("nickname", [
    "سارة", "דנה", "مريم 2", "שלום עולם", "Ann سارة", "李雷", "Zoë", "ann 🙂",
    "<script>", "javascript:x", "<b>ann</b>",
])
def test_any_script_and_plain_markup_are_welcome_as_text(room, join, nickname):
    client = join("bio-101", nickname)
    posted = client.post("/api/v1/rooms/bio-101/messages", {"text": "hi"}).json()
    # Nicknames travel as text; pages and room.js escape them where they show them.
    assert posted["nickname"] == nickname


@pytest.mark.parametrize("second", [
    "Ann", "ann", "ANN", " ann ", "a\u200bnn", "\u200bann\u200b", "an\u200dn", "a\u00adnn",
    "ann\u2060", "\ufeffann", "ann\ufe0f", "ann\u034f", "a\u3164nn", "Ａｎｎ", "ᴬnn",
    "ANN\u200c",
], ids=["same", "lower", "upper", "spaces", "zwsp", "zwsp-around", "zwj", "soft-hyphen",
        "word-joiner", "bom", "variation-selector", "cgj", "hangul-filler", "full-width",
        "modifier-letter-a", "zwnj"])
def test_a_nickname_taken_in_any_disguise_is_409(room, join, api, second):
    join("bio-101", "Ann")
    with unchanged():
        response = api.post(JOIN, {"nickname": second})
    assert_error(response, 409, "nickname_taken", "nickname")


def test_the_same_nickname_is_fine_in_another_room(room, make_room, join):
    make_room("chem-1")
    join("bio-101", "Ann")
    join("chem-1", "Ann")
    assert Participant.objects.count() == 2


@pytest.mark.parametrize("nickname", [
    "\u202eann", "ann\u202c", "\u202aann", "\u202bann", "\u202dann", "\u2066ann\u2069",
    "\u2067ann", "\u2068ann", "\u200fann", "ann\u200e", "ann\u061c", "سارة\u202e",
], ids=["rlo", "pdf", "lre", "rle", "lro", "lri-pdi", "rli", "fsi", "rlm", "lrm", "alm",
        "rtl-name-rlo"])
def test_text_direction_controls_are_refused(room, api, nickname):
    with unchanged():
        response = api.post(JOIN, {"nickname": nickname})
    assert_error(response, 400, "invalid", "nickname")


BAD_NICKNAMES = [
    *NOT_STRINGS, *BROKEN_TEXT,
    "", "   ", "\n\t", "\u200b", "\u200b\u200c\u200d\ufeff", "\u3164", "\ufe0f", "\u00ad",
    "x" * 25, " " + "x" * 25, "\u3000" * 30, "ann\x1b[31m", "ann\nbob\x00",
    "\ufdfa" * 8,  # 8 characters, but 144 once NFKC has spelled each one out
]


@pytest.mark.parametrize("nickname", BAD_NICKNAMES, ids=[repr(n)[:40] for n in BAD_NICKNAMES])
def test_bad_nicknames_are_400(room, api, nickname):
    with unchanged():
        response = api.post(JOIN, {"nickname": nickname})
    assert_error(response, 400, "invalid", "nickname")


@pytest.mark.parametrize("body, field", [
    ({}, "nickname"),
    ({"name": "ann"}, "name"),
    ({"nickname": "ann", "token": "x"}, "token"),
    ({"nickname": "ann", "muted": False}, "muted"),
    ({"nickname": "ann", "room": "chem-1"}, "room"),
], ids=["no-nickname", "name", "token", "muted", "room"])
def test_missing_and_unknown_fields_are_400(room, api, body, field):
    with unchanged():
        response = api.post(JOIN, body)
    assert_error(response, 400, "invalid", field)


@pytest.mark.parametrize("raw, content_type, status, code", NASTY_BODIES)
def test_nasty_bodies_are_refused(room, api, raw, content_type, status, code):
    with unchanged():
        response = send(api, "POST", JOIN, raw, content_type)
    assert_error(response, status, code)


# -- accountable rooms ------------------------------------------------------------------
@pytest.fixture
def accountable(make_room):
    make_room("bio-101", accountable=True)


@pytest.mark.parametrize("body", [
    {"nickname": "ann"}, {"nickname": "ann", "real_name": ""},
    {"nickname": "ann", "real_name": "   "}, {"nickname": "ann", "real_name": None},
    {"nickname": "ann", "real_name": 7}, {"nickname": "ann", "real_name": ["Ann"]},
    {"nickname": "ann", "real_name": "A" * 101}, {"nickname": "ann", "real_name": "Ann\x00"},
    {"nickname": "ann", "real_name": "\ud800"},
], ids=["missing", "empty", "blank", "null", "number", "list", "too-long", "nul", "surrogate"])
def test_accountable_rooms_need_a_real_name(accountable, api, body):
    with unchanged():
        response = api.post(JOIN, body)
    assert_error(response, 400, "invalid", "real_name")


def test_accountable_rooms_keep_the_real_name_for_the_teacher(accountable, api):
    response = api.post(JOIN, {"nickname": "ann", "real_name": "  Ann   Lee "})
    assert response.status_code == 201, response.content
    assert "real_name" not in response.json()
    assert Participant.objects.get().real_name == "Ann Lee"


def test_other_rooms_ignore_a_real_name(room, api):
    assert api.post(JOIN, {"nickname": "ann", "real_name": "Ann Lee"}).status_code == 201
    assert Participant.objects.get().real_name == ""


# -- password rooms ----------------------------------------------------------------------
@pytest.fixture
def locked(make_room):
    make_room("bio-101", password="open sesame")


@pytest.mark.parametrize("body, status, code", [
    ({"nickname": "ann"}, 403, "wrong_password"),
    ({"nickname": "ann", "password": ""}, 403, "wrong_password"),
    ({"nickname": "ann", "password": "open sesame "}, 403, "wrong_password"),
    ({"nickname": "ann", "password": "OPEN SESAME"}, 403, "wrong_password"),
    ({"nickname": "ann", "password": None}, 400, "invalid"),
    ({"nickname": "ann", "password": 1234}, 400, "invalid"),
    ({"nickname": "ann", "password": ["open sesame"]}, 400, "invalid"),
    ({"nickname": "ann", "password": "p" * 129}, 400, "invalid"),
    ({"nickname": "ann", "password": "\ud800"}, 400, "invalid"),
], ids=["missing", "empty", "trailing-space", "wrong-case", "null", "number", "list",
        "too-long", "surrogate"])
def test_password_rooms_refuse_a_wrong_password(locked, api, body, status, code):
    with unchanged():
        response = api.post(JOIN, body)
    assert_error(response, status, code, "password")


def test_password_rooms_let_in_who_knows_it(locked, api):
    response = api.post(JOIN, {"nickname": "ann", "password": "open sesame"})
    assert response.status_code == 201, response.content


# -- rooms that cannot be joined ---------------------------------------------------------
def test_a_paused_room_can_still_be_joined(room, api):
    # Students arriving during a pause get in and read; posting waits for the teacher.
    set_room("bio-101", state="paused")
    assert api.post(JOIN, {"nickname": "ann"}).status_code == 201


@pytest.mark.parametrize("setup, path, status, code", [
    (lambda: set_room("bio-101", state="closed"), JOIN, 403, "room_closed"),
    (lambda: expire("bio-101"), JOIN, 410, "room_expired"),
    (lambda: None, "/api/v1/rooms/chem-1/join", 404, "room_not_found"),
    (lambda: None, "/api/v1/rooms/<script>/join", 404, "room_not_found"),
    (lambda: None, "/api/v1/rooms/%FF%FE/join", 404, "room_not_found"),
    (lambda: Room.objects.all().delete(), JOIN, 404, "room_not_found"),
], ids=["closed", "expired", "missing", "script-name", "binary-name", "deleted"])
def test_rooms_that_cannot_be_joined(room, api, setup, path, status, code):
    setup()
    with unchanged():
        response = api.post(path, {"nickname": "ann"})
    assert_error(response, status, code)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_join_is_post_only(room, api, method):
    with unchanged():
        response = api.call(method, JOIN, {"nickname": "ann"})
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"


def test_join_rate_limit_is_429_with_retry_after(room, api, settings):
    settings.TM_RATE_JOIN_PER_CLIENT = "2/h"
    for nickname in ("ann", "bob"):
        assert api.post(JOIN, {"nickname": nickname}).status_code == 201
    with unchanged():
        response = api.post(JOIN, {"nickname": "cat"})
    assert_error(response, 429, "rate_limited")
