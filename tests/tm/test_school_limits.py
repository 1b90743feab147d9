"""A whole school behind one address gets in; the limits that matter are per
participant and per room; wrong passwords are limited per room and address before any
hashing; behind trusted proxies each client is its own address, and nobody else's
X-Forwarded-For is believed.

Every request here comes from one address (the test client's 127.0.0.1), as every
student of a school does through its one public address. Counters are real memcached.
"""

import json

import pytest
from django.test import Client, RequestFactory

from tm.clientkey import client_address, client_key
from tm.models import Message, Participant, Room

from .apicheck import assert_error

pytestmark = pytest.mark.django_db


def _join(room: str, nickname: str, **fields) -> tuple[int, dict]:
    response = Client().post(f"/api/v1/rooms/{room}/join",
                             json.dumps({"nickname": nickname, **fields}),
                             content_type="application/json")
    return response.status_code, response.json()


def _post(token: str, room: str, text: str) -> int:
    return Client().post(f"/api/v1/rooms/{room}/messages", json.dumps({"text": text}),
                         content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def test_a_class_of_200_behind_one_address_joins_in_a_minute_and_every_post_lands(make_room):
    make_room("assembly", password="hall")
    tokens = []
    for i in range(200):
        status, body = _join("assembly", f"student {i}", password="hall")
        assert status == 201, (i, body)
        tokens.append(body["token"])
    # Class pace: each student posts a few times in the minute, under their own limit.
    statuses = [_post(token, "assembly", f"answer {round} from {i}")
                for round in range(3) for i, token in enumerate(tokens)]
    assert statuses == [201] * 600
    room = Room.objects.get(name="assembly")
    assert Participant.objects.filter(room=room).count() == 200
    assert Message.objects.filter(room=room).count() == 600


def test_each_participant_keeps_their_own_limit(make_room, settings):
    settings.TM_RATE_POST_PER_PARTICIPANT = "3/m"
    make_room("pace")
    ann, bob = (_join("pace", name)[1]["token"] for name in ("ann", "bob"))
    assert [_post(ann, "pace", f"a{i}") for i in range(4)] == [201, 201, 201, 429]
    assert [_post(bob, "pace", f"b{i}") for i in range(3)] == [201, 201, 201]


def test_joins_per_room_per_minute_and_capacity_are_the_room_limits(make_room, settings):
    settings.TM_RATE_JOIN_PER_ROOM = "3/m"
    make_room("small")
    make_room("other")
    assert [_join("small", f"s{i}")[0] for i in range(4)] == [201, 201, 201, 429]
    assert _join("other", "o")[0] == 201  # another room has its own count
    settings.TM_RATE_JOIN_PER_ROOM = "600/m"
    settings.TM_ROOM_CAPACITY = 4
    assert _join("small", "s4")[0] == 201
    status, body = _join("small", "s5")
    assert (status, body["error"]["code"]) == (403, "room_full")
    assert Participant.objects.filter(room__name="small").count() == 4


def test_wrong_passwords_are_limited_per_room_and_address_before_any_hashing(
        make_room, settings):
    settings.TM_RATE_WRONG_PASSWORD_PER_ROOM_CLIENT = "3/m"
    make_room("locked", password="right")
    make_room("locked-too", password="right")
    for i in range(3):
        status, body = _join("locked", f"guess {i}", password=f"wrong {i}")
        assert (status, body["error"]["code"]) == (403, "wrong_password")
    # Past the limit even the right password is refused: it is never hashed.
    status, body = _join("locked", "late", password="right")
    assert (status, body["error"]["code"]) == (429, "too_many_wrong_passwords")
    # Another room, and right passwords, have their own counts.
    assert _join("locked-too", "elsewhere", password="right")[0] == 201
    assert not Participant.objects.filter(room__name="locked").exists()


def test_the_join_page_shows_the_wrong_password_limit(make_room, settings):
    settings.TM_RATE_WRONG_PASSWORD_PER_ROOM_CLIENT = "1/m"
    make_room("page-locked", password="right")
    browser = Client()
    assert browser.post("/page-locked", {"nickname": "x", "password": "no"}).status_code == 400
    again = browser.post("/page-locked", {"nickname": "x", "password": "right"})
    assert again.status_code == 400
    assert "too many wrong passwords" in again.content.decode()


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_sign_in_is_limited_per_address_and_per_account(path, settings, django_user_model):
    django_user_model.objects.create_user("teacher", password="long enough password")
    settings.TM_RATE_AUTH_PER_USERNAME = "3/m"
    browser = Client()
    codes = [browser.post(path, {"username": "teacher", "password": f"guess {i}"}).status_code
             for i in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    # Another account from the same address (a school) is not held up by that one.
    other = browser.post(path, {"username": "someone-else", "password": "x"})
    assert other.status_code == 200
    settings.TM_RATE_AUTH_PER_CLIENT = "2/m"
    settings.TM_RATE_AUTH_PER_USERNAME = "100/m"
    codes = [Client().post(path, {"username": f"u{i}", "password": "x"}).status_code
             for i in range(3)]
    assert codes[-1] == 429


# -- the client's address behind proxies ----------------------------------------------
def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(("remote", "forwarded", "client"), [
    # No proxy configured: the peer, whatever the header says.
    ("203.0.113.7", "198.51.100.1", "203.0.113.7"),
])
def test_without_trusted_proxies_forwarded_for_is_ignored(remote, forwarded, client):
    assert client_address(_request(remote, forwarded)) == client


@pytest.mark.parametrize(("remote", "forwarded", "client"), [
    ("10.0.0.2", "198.51.100.1", "198.51.100.1"),  # one proxy
    ("10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client wrote 6.6.6.6
    ("10.0.0.2", "198.51.100.1, 10.0.0.3", "198.51.100.1"),  # two proxies of ours
    ("10.0.0.2", "10.0.0.4, 10.0.0.3", "10.0.0.4"),  # all ours: the leftmost
    ("10.0.0.2", "junk, 198.51.100.1", "198.51.100.1"),
    ("10.0.0.2", "198.51.100.1, junk", "10.0.0.2"),  # a broken chain: stop at the proxy
    ("10.0.0.2", "", "10.0.0.2"),
    ("10.0.0.2", None, "10.0.0.2"),
    ("10.0.0.2", "2001:db8::1", "2001:db8::1"),
    ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # not a proxy of ours: not believed
])
def test_behind_trusted_proxies_forwarded_for_is_read_right_to_left(
        settings, remote, forwarded, client):
    settings.TM_TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert client_address(_request(remote, forwarded)) == client


def test_behind_a_proxy_each_client_has_its_own_key(settings):
    settings.TM_TRUSTED_PROXIES = ["127.0.0.1"]
    keys = {client_key(_request("127.0.0.1", f"198.51.100.{i}")) for i in range(5)}
    assert len(keys) == 5
    spoofed = client_key(_request("127.0.0.1", "1.1.1.1, 198.51.100.1"))
    assert spoofed == client_key(_request("127.0.0.1", "198.51.100.1"))


def test_an_ipv6_client_is_counted_by_its_network_not_each_address():
    """A host picks any of its /64's 2^64 addresses: a new one per guess would escape
    every per-address limit."""
    same = {client_key(_request(f"2001:db8:1:2::{i:x}")) for i in range(1, 6)}
    assert len(same) == 1
    assert client_key(_request("2001:db8:1:3::1")) not in same
    assert client_key(_request("::ffff:198.51.100.1")) == client_key(_request("198.51.100.1"))
    assert client_key(_request("198.51.100.1")) != client_key(_request("198.51.100.2"))


def test_a_bad_trusted_proxy_setting_stops_tm_at_start_up(settings):
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    settings.TM_TRUSTED_PROXIES = ["10.0.0.0/33"]
    with pytest.raises(ImproperlyConfigured):
        apps.get_app_config("tm").ready()


def test_a_student_who_is_refused_gets_a_json_answer(make_room, settings):
    settings.TM_RATE_JOIN_PER_CLIENT = "1/m"
    make_room("tiny")
    _join("tiny", "one")
    response = Client().post("/api/v1/rooms/tiny/join", json.dumps({"nickname": "two"}),
                             content_type="application/json")
    assert_error(response, 429, "rate_limited")
