"""Private words stay private: a password or accountable room counts in no shared
event unless its teacher says so, a room that counts says so from the start, and share
links end when the password changes or the teacher resets them."""

import pytest
from django.test import Client

from tests.conftest import ApiClient
from tm.auth import share_key
from tm.models import Room

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("fields", "scope"), [
    ({}, "sotu"),
    ({"password": "hush"}, ""),
    ({"accountable": True}, ""),
    ({"password": "hush", "event_scope": "sotu"}, "sotu"),  # the teacher says so
    ({"accountable": True, "event_scope": "debate"}, "debate"),
])
def test_a_private_room_counts_in_a_shared_event_only_when_its_teacher_says_so(
        make_room, fields, scope):
    body, _ = make_room("sotu-watch", **fields)
    assert body["event_scope"] == scope
    assert Room.objects.get(name="sotu-watch").event_scope == scope


def test_a_room_that_becomes_private_stops_counting(make_room):
    _, owner_key = make_room("sotu-class")
    owner = ApiClient()
    owner.token = owner_key
    answer = owner.patch("/api/v1/rooms/sotu-class", {"password": "hush"}).json()
    assert answer["event_scope"] == ""
    # Said again while the room is private: the teacher's choice, and it stays.
    assert owner.patch("/api/v1/rooms/sotu-class",
                       {"event_scope": "sotu"}).json()["event_scope"] == "sotu"
    assert owner.patch("/api/v1/rooms/sotu-class",
                       {"topic": "later"}).json()["event_scope"] == "sotu"
    # The settings form sends the event each time; turning real names on is a change
    # that makes the room more private again, but it was private already: it stays.
    teacher = Client()
    teacher.cookies["tm_o_sotu-class"] = owner_key
    teacher.post("/sotu-class/moderate/action", {
        "action": "settings", "topic": "t", "max_length": "140", "event_scope": "sotu",
        "profanity_mode": "off"})
    assert Room.objects.get(name="sotu-class").event_scope == "sotu"
    _, other_key = make_room("sotu-names")
    owner.token = other_key
    assert owner.patch("/api/v1/rooms/sotu-names",
                       {"accountable": True}).json()["event_scope"] == ""


def test_the_room_page_says_it_counts_before_the_first_post(make_room):
    make_room("sotu-2027")
    html = Client().get("/sotu-2027").content.decode()
    assert 'id="event-notice"' in html and 'href="/events/sotu"' in html
    make_room("bio-7")
    assert 'id="event-notice"' not in Client().get("/bio-7").content.decode()


def test_share_links_end_when_the_password_changes_or_the_link_is_reset(make_room):
    _, owner_key = make_room("locked", password="first")
    owner = ApiClient()
    owner.token = owner_key
    reader = Client()
    key = share_key(Room.objects.get(name="locked"))
    assert reader.get(f"/locked/read?key={key}").status_code == 200
    assert owner.patch("/api/v1/rooms/locked", {"password": "second"}).status_code == 200
    assert reader.get(f"/locked/read?key={key}").status_code == 403
    assert reader.post(f"/api/v1/rooms/locked/ticket?key={key}").status_code == 403
    key = share_key(Room.objects.get(name="locked"))
    assert reader.get(f"/locked/read?key={key}").status_code == 200
    # The teacher resets it (the API, then the moderation page's button).
    assert owner.patch("/api/v1/rooms/locked", {"reset_share_link": True}).status_code == 200
    assert reader.get(f"/locked/read?key={key}").status_code == 403
    key = share_key(Room.objects.get(name="locked"))
    teacher = Client()
    teacher.cookies["tm_o_locked"] = owner_key
    page = teacher.get("/locked/moderate").content.decode()
    assert key in page.replace("&amp;", "&")
    assert teacher.post("/locked/moderate/action", {"action": "reset_share"}).status_code == 302
    assert reader.get(f"/locked/read?key={key}").status_code == 403
    assert owner.patch("/api/v1/rooms/locked", {"reset_share_link": "yes"}).status_code == 400
