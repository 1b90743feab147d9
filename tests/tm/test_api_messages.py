"""GET and POST /api/v1/rooms/<room>/messages: history paging, message rules, held
posts, who may post where, tokens and CSRF, rate limits. A refused post is a JSON 4xx
and leaves no message, no event and no bumped seq behind."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import ApiClient
from tm.models import Event, Message, Participant, Room

from .apicheck import (
    BROKEN_TEXT,
    NASTY_BODIES,
    NOT_STRINGS,
    assert_error,
    assert_inert_html,
    cookie_only,
    expire,
    send,
    set_room,
    unchanged,
    use_csrf,
)

MESSAGES = "/api/v1/rooms/bio-101/messages"
MESSAGE_KEYS = {"id", "seq", "nickname", "text", "html", "created", "by_teacher"}


@pytest.fixture
def ann(room, join) -> ApiClient:
    return join("bio-101", "Ann")


def post(client: ApiClient, text, path: str = MESSAGES):
    return client.post(path, {"text": text})


def history(client: ApiClient, query: str = "") -> dict:
    response = client.get(MESSAGES + query)
    assert response.status_code == 200, response.content
    return response.json()


# -- posting ------------------------------------------------------------------------------
def test_a_post_is_201_with_the_message(ann):
    response = post(ann, "Hello class")
    assert response.status_code == 201, response.content
    body = response.json()
    assert MESSAGE_KEYS <= set(body)
    assert body["nickname"] == "Ann" and body["text"] == "Hello class"
    # seq 1 is the room's own first event: its settings (room.updated).
    assert body["status"] == "visible" and body["seq"] == 2
    event = Event.objects.get(seq=2)
    assert event.type == "message.created" and event.envelope["data"]["id"] == body["id"]


@pytest.mark.parametrize("raw, text", [
    ("a\nb", "a b"), ("a\n\n\n b", "a b"), ("a\r\n\tb", "a b"), ("  a  ", "a"),
    ("a\u00a0\u2003\u3000b", "a b"), ("line one\u2028line two", "line one line two"),
])
def test_newlines_and_runs_of_space_collapse(ann, raw, text):
    response = post(ann, raw)
    assert response.status_code == 201, response.content
    assert response.json()["text"] == text


def test_the_default_limit_is_140_characters(ann):
    assert post(ann, "x" * 140).status_code == 201
    assert post(ann, "é" * 140).status_code == 201
    assert post(ann, "e\u0301" * 140).status_code == 201  # NFC: 140 letters, not 280
    assert post(ann, " " * 50 + "x" * 140 + "\n" * 50).status_code == 201
    with unchanged():
        assert_error(post(ann, "x" * 141), 400, "invalid", "text")
        assert_error(post(ann, "x" * 70 + "\n" + "x" * 70), 400, "invalid", "text")


def test_a_room_may_allow_up_to_280(make_room, join):
    make_room("bio-101", max_length=280)
    ann = join("bio-101", "ann")
    assert post(ann, "x" * 280).status_code == 201
    with unchanged():
        assert_error(post(ann, "x" * 281), 400, "invalid", "text")


def test_a_huge_text_is_a_field_error_that_says_the_limit(ann):
    # 5,000 characters fit in a request body (16 KiB): the text field is what is wrong.
    with unchanged():
        response = post(ann, "x" * 5000)
        assert_error(response, 400, "invalid", "text")
        assert "at most 140 characters (5000 sent)" in response.json()["error"]["fields"]["text"]


BAD_TEXTS = [*NOT_STRINGS, *BROKEN_TEXT, "", "   ", "\n\n", "\r\n\t", "\u200b",
             "\u200b\u200d\ufeff\u2060", "\x1b[31mred", "\x7f", "a\x0bb", "\x00"]


@pytest.mark.parametrize("text", BAD_TEXTS, ids=[repr(t)[:40] for t in BAD_TEXTS])
def test_bad_texts_are_400(ann, text):
    with unchanged():
        response = post(ann, text)
    assert_error(response, 400, "invalid", "text")


@pytest.mark.parametrize("body, field", [
    ({}, "text"), ({"message": "hi"}, "message"), ({"text": "hi", "nickname": "teacher"},
                                                     "nickname"),
    ({"text": "hi", "html": "<b>hi</b>"}, "html"), ({"text": "hi", "seq": 1}, "seq"),
    ({"text": "hi", "status": "visible"}, "status"),
], ids=["no-text", "message", "nickname", "html", "seq", "status"])
def test_missing_and_unknown_fields_are_400(ann, body, field):
    with unchanged():
        assert_error(ann.post(MESSAGES, body), 400, "invalid", field)


@pytest.mark.parametrize("raw, content_type, status, code", NASTY_BODIES)
def test_nasty_bodies_are_refused(ann, raw, content_type, status, code):
    with unchanged():
        response = send(ann, "POST", MESSAGES, raw, content_type)
    assert_error(response, status, code)


MARKUP = [
    "<script>alert(1)</script>",
    "javascript:alert(1)",
    '<a href="javascript:alert(1)">click</a>',
    "<a href=javascript:alert(1)>click</a>",
    "JaVaScRiPt:alert(1)",
    "javascript:alert(1)//https://example.org",
    '<img src=x onerror="alert(1)">',
    '"><svg onload=alert(1)>',
    "<iframe src=//evil.example></iframe>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "https://example.org/<script>alert(1)</script>",
    'http://x.example/"onmouseover=alert(1)',
    "www.example.org/?q=<b>x</b>",
    "[click](javascript:alert(1))",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<!-- comment --><style>body{display:none}</style>",
]


@pytest.mark.parametrize("text", MARKUP)
def test_markup_is_accepted_as_text_and_its_html_is_inert(ann, api, text):
    response = post(ann, text)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["text"] == text
    assert_inert_html(body["html"])
    stored = Message.objects.get()
    assert_inert_html(stored.html)
    assert_inert_html(Event.objects.get(type="message.created").envelope["data"]["html"])
    assert history(api)["messages"][0]["html"] == body["html"]


def test_links_become_safe_anchors(ann):
    html = post(ann, "see https://example.org/a?b=1&c=2").json()["html"]
    assert 'href="https://example.org/a?b=1&amp;c=2"' in html
    assert 'rel="nofollow noopener noreferrer"' in html


@pytest.mark.parametrize("text", [
    "مرحبا بالجميع", "שלום לכולם", "a\u200bb", "emoji 👍🏽 and ZWJ 👩‍🔬", "\u200fمرحبا",
    "סוף\u202e", "math: 2 < 3 && 5 > 4",
])
def test_right_to_left_and_zero_width_text_is_kept(ann, text):
    response = post(ann, text)
    assert response.status_code == 201, response.content
    assert response.json()["text"] == text


# -- held posts (the abuse check has its own tests: test_screening.py) --------------------
def test_moderated_rooms_hold_every_post(make_room, join, api):
    make_room("bio-101", moderated=True)
    ann = join("bio-101", "ann")
    body = post(ann, "may I?").json()
    assert body["status"] == "pending" and body["held_for"] == "moderated"
    page = history(api)
    assert page["messages"] == [] and page["deleted"] == []
    assert not Message.objects.filter(status="visible").exists()


# -- who may post where ------------------------------------------------------------------
def test_a_muted_participant_is_403(ann):
    Participant.objects.update(muted=True)
    with unchanged():
        assert_error(post(ann, "hello"), 403, "muted")


@pytest.mark.parametrize("state, code", [("paused", "room_paused"), ("closed", "room_closed")])
def test_paused_and_closed_rooms_refuse_posts(ann, state, code):
    set_room("bio-101", state=state)
    with unchanged():
        assert_error(post(ann, "hello"), 403, code)


def test_a_timed_pause_ends_by_itself(ann):
    set_room("bio-101", state="paused", paused_until=timezone.now() + timedelta(minutes=5))
    with unchanged():
        assert_error(post(ann, "too early"), 403, "room_paused")
    set_room("bio-101", paused_until=timezone.now() - timedelta(seconds=1))
    assert post(ann, "now").status_code == 201


def test_an_expired_room_is_410(ann, api):
    expire("bio-101")
    with unchanged():
        assert_error(post(ann, "hello"), 410, "room_expired")
        assert_error(api.get(MESSAGES), 410, "room_expired")


@pytest.mark.parametrize("path", [
    "/api/v1/rooms/chem-1/messages", "/api/v1/rooms/%FF/messages",
    "/api/v1/rooms/<script>/messages", "/api/v1/rooms/" + "b" * 300 + "/messages",
])
def test_a_missing_room_is_404(ann, path):
    with unchanged():
        assert_error(post(ann, "hello", path), 404, "room_not_found")
        assert_error(ann.get(path), 404, "room_not_found")


def test_a_deleted_room_has_ended_410_and_a_room_that_never_was_is_404(ann, moderator, api):
    assert moderator.delete("/api/v1/rooms/bio-101").status_code == 204
    with unchanged():
        assert_error(post(ann, "hello"), 410, "room_ended")
    assert_error(api.get("/api/v1/rooms/bio-101/messages"), 410, "room_ended")
    assert_error(api.get("/api/v1/rooms/never-was/messages"), 404, "room_not_found")
    assert api.get("/bio-101").status_code == 410
    assert api.get("/never-was").status_code == 404


# -- tokens -------------------------------------------------------------------------------
@pytest.fixture
def other_room_token(make_room, join) -> str:
    make_room("chem-1")
    return join("chem-1", "Ann").token


@pytest.mark.parametrize("token, status, code", [
    (None, 401, "not_joined"),
    ("", 401, "not_joined"),
    ("forged-token-forged-token-forged-token", 403, "bad_token"),
    ("x" * 5000, 403, "bad_token"),
    ("'; DROP TABLE tm_message; --", 403, "bad_token"),
    ("other-room", 403, "bad_token"),
    ("owner-key", 403, "bad_token"),
    ("truncated", 403, "bad_token"),
], ids=["none", "empty", "forged", "huge", "sql", "another-rooms-token", "owner-key",
        "truncated"])
def test_posts_need_this_rooms_participant_token(ann, room, other_room_token, token, status,
                                                  code):
    token = {"other-room": other_room_token, "owner-key": room["owner_key"],
             "truncated": (ann.token or "")[:-1]}.get(token, token)
    client = ApiClient()
    client.token = token
    with unchanged():
        assert_error(post(client, "hello"), status, code)


@pytest.mark.parametrize("header", ["Basic YW5uOnB3", "Token abc", "Bearer", "Bearer    ",
                                    "bearer-ish xyz"])
def test_other_authorization_schemes_count_as_no_token(ann, header):
    with unchanged():
        response = ApiClient().post(MESSAGES, {"text": "hi"},
                                    headers={"HTTP_AUTHORIZATION": header})
    assert_error(response, 401, "not_joined")


def test_the_scheme_name_is_case_insensitive(ann):
    response = ApiClient().post(MESSAGES, {"text": "hi"},
                                headers={"HTTP_AUTHORIZATION": f"bearer {ann.token}"})
    assert response.status_code == 201, response.content


def test_a_cookie_token_needs_csrf_but_a_bearer_token_does_not(ann):
    assert post(ann, "bearer needs no csrf").status_code == 201
    browser = cookie_only(ann)  # the join answer set tm_p_bio-101 on this client
    with unchanged():
        assert_error(post(browser, "no csrf"), 403, "csrf_failed")
        wrong = {"HTTP_X_CSRFTOKEN": "wrong" * 7}
        use_csrf(browser)
        assert_error(browser.post(MESSAGES, {"text": "bad csrf"}, headers=wrong), 403,
                     "csrf_failed")
    response = browser.post(MESSAGES, {"text": "with csrf"}, headers=use_csrf(browser))
    assert response.status_code == 201, response.content


def test_a_cookie_for_another_room_does_not_count(ann, make_room):
    make_room("chem-1")
    browser = cookie_only(ann)
    with unchanged():
        assert_error(post(browser, "hi", "/api/v1/rooms/chem-1/messages"), 401, "not_joined")


FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=x"


@pytest.mark.parametrize("raw, content_type, status, code", [
    (b"text=hi", FORM, 415, "unsupported_media_type"),
    (b"&".join([b"a=1"] * 1500), FORM, 415, "unsupported_media_type"),
    (b"text=" + b"a" * (3 * 1024 * 1024), FORM, 413, "too_large"),
    (b"\xff garbage", MULTIPART, 415, "unsupported_media_type"),
    (b"x", "multipart/form-data", 415, "unsupported_media_type"),
    (b"--x\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nhi\r\n--x--", MULTIPART,
     415, "unsupported_media_type"),
], ids=["form", "form-1500-fields", "form-3-MiB", "broken-multipart", "no-boundary",
        "multipart"])
def test_a_cookie_with_a_form_body_gets_a_json_error(ann, raw, content_type, status, code):
    # A cookie means a CSRF check, and Django's looks inside form bodies first.
    browser = cookie_only(ann)
    csrf = use_csrf(browser)
    with unchanged():
        response = browser.call("POST", MESSAGES, raw=raw, content_type=content_type,
                                headers={"CONTENT_TYPE": content_type, **csrf})
    assert_error(response, status, code)


# -- history -------------------------------------------------------------------------------
def test_history_is_in_seq_order_and_pages_with_after_and_limit(ann, api):
    ids = [post(ann, f"m{n}").json()["id"] for n in range(5)]
    page = history(api)
    assert [m["id"] for m in page["messages"]] == ids and page["seq"] == 6
    assert not page["has_more"]
    page = history(api, "?after=2&limit=2")  # m0 is seq 2, after the room's settings
    assert [m["text"] for m in page["messages"]] == ["m1", "m2"]
    assert page["has_more"] and page["seq"] == 4
    page = history(api, "?after=4&limit=2")
    assert [m["text"] for m in page["messages"]] == ["m3", "m4"] and not page["has_more"]
    assert history(api, "?after=6")["messages"] == []
    assert history(api, "?after=999999")["messages"] == []
    assert history(api, "?after=&limit=")["messages"][0]["text"] == "m0"


@pytest.mark.parametrize("query, field", [
    ("?after=-1", "after"), ("?after=abc", "after"), ("?after=1.5", "after"),
    ("?after=1e3", "after"), ("?after=0x10", "after"), ("?after=%00", "after"),
    ("?after=99999999999999999999999", "after"), ("?after=" + "9" * 5000, "after"),
    ("?after=%FF", "after"), ("?after=<script>", "after"),
    ("?after=%D9%A3", "after"), ("?after=1_0", "after"), ("?after=+1", "after"),
    ("?after=%201", "after"),
    ("?limit=0", "limit"), ("?limit=501", "limit"), ("?limit=-5", "limit"),
    ("?limit=ten", "limit"), ("?limit=" + "9" * 30, "limit"), ("?limit=1.0", "limit"),
], ids=lambda value: value[:30] if isinstance(value, str) else None)
def test_bad_history_parameters_are_400(ann, api, query, field):
    assert_error(api.get(MESSAGES + query), 400, "invalid", field)


def test_password_rooms_show_history_only_to_members(make_room, join, api):
    _, owner_key = make_room("bio-101", password="pw")
    ann = join("bio-101", "ann", password="pw")
    post(ann, "secret plan")
    assert_error(api.get(MESSAGES), 403, "password_required")
    assert_error(api.get(MESSAGES + "?key=forged"), 403, "password_required")
    assert len(history(ann)["messages"]) == 1
    teacher = ApiClient()
    teacher.token = owner_key
    assert len(history(teacher)["messages"]) == 1
    outsider = ApiClient()
    outsider.token = "forged"
    assert_error(outsider.get(MESSAGES), 403, "password_required")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_messages_is_get_and_post_only(ann, method):
    with unchanged():
        response = ann.call(method, MESSAGES, {"text": "hi"})
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, POST"


# -- rate limits ----------------------------------------------------------------------------
def test_too_many_posts_from_one_participant_is_429(ann, join, settings):
    settings.TM_RATE_POST_PER_PARTICIPANT = "3/h"
    for n in range(3):
        assert post(ann, f"m{n}").status_code == 201
    with unchanged():
        response = post(ann, "one too many")
    error = assert_error(response, 429, "rate_limited")
    assert response["Retry-After"] in error["message"]
    # The limit is per participant: a classmate on the same network still gets through.
    assert post(join("bio-101", "bob"), "my turn").status_code == 201


def test_too_many_posts_from_one_client_is_429(room, join, settings):
    settings.TM_RATE_POST_PER_CLIENT = "2/h"
    ann, bob = join("bio-101", "ann"), join("bio-101", "bob")
    assert post(ann, "a").status_code == 201
    assert post(bob, "b").status_code == 201
    with unchanged():
        assert_error(post(bob, "c"), 429, "rate_limited")


def test_the_room_seq_is_not_spent_by_refused_posts(ann):
    post(ann, "first")
    post(ann, "")
    post(ann, "x" * 141)
    set_room("bio-101", state="paused")
    post(ann, "paused")
    set_room("bio-101", state="open")
    assert post(ann, "second").json()["seq"] == 3  # after the room's settings and "first"
    assert Room.objects.get().seq == 3
