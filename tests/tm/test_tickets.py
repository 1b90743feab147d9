"""Follow tickets: tm hands one to whoever may read a room, and to nobody else.

A push node lets a browser follow a room only with a ticket tm signed (tm/tickets.py,
contract/signing.py); these tests check who gets which ticket, where, and that a password
room's pages carry none before the password is given.
"""

import json
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from contract import signing
from contract.events import iso_utc
from tm.auth import share_key
from tm.models import Room

pytestmark = pytest.mark.django_db


def _check(follow: dict, room: str, role: str) -> signing.Ticket:
    assert follow["role"] == role
    assert follow["expires_in"] == signing.TICKET_SECONDS
    ticket, why = signing.check_follow_ticket(settings.TM_INTERNAL_SECRET, follow["ticket"],
                                              room)
    assert ticket is not None, why
    assert ticket.role == role
    assert ticket.incarnation == iso_utc(Room.objects.get(name=room).created_at)
    return ticket


def _page_data(html: str) -> dict:
    match = re.search(r'<script id="tm-page" type="application/json">(.*?)</script>', html)
    assert match, "no page data"
    return json.loads(match.group(1))


def test_the_create_and_join_answers_carry_a_moderator_and_a_student_ticket(room, join):
    _check(room["follow"], "bio-101", "moderator")
    response = join("bio-101").post("/api/v1/rooms/bio-101/ticket")
    assert response.status_code == 200
    _check(response.json(), "bio-101", "student")
    answer = Client().post("/api/v1/rooms/bio-101/join", json.dumps({"nickname": "bo"}),
                           content_type="application/json")
    _check(answer.json()["follow"], "bio-101", "student")


def test_the_ticket_endpoint_gives_each_reader_their_role(room, moderator, join, api):
    assert moderator.post("/api/v1/rooms/bio-101/ticket").json()["role"] == "moderator"
    assert join("bio-101", "cy").post("/api/v1/rooms/bio-101/ticket").json()["role"] == (
        "student")
    # A room without a password can be read by anyone: a viewer's ticket.
    _check(api.post("/api/v1/rooms/bio-101/ticket").json(), "bio-101", "viewer")
    # The browser that made the room moderates with its owner cookie.
    teacher = Client()
    teacher.cookies["tm_o_bio-101"] = room["owner_key"]
    assert teacher.post("/api/v1/rooms/bio-101/ticket").json()["role"] == "moderator"


def test_a_password_rooms_ticket_needs_what_reading_its_history_needs(make_room, join, api):
    body, owner_key = make_room("secret", password="hunter2")
    response = api.post("/api/v1/rooms/secret/ticket")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "password_required"
    assert "ticket" not in response.json()
    key = share_key(Room.objects.get(name="secret"))
    _check(api.post(f"/api/v1/rooms/secret/ticket?key={key}").json(), "secret", "viewer")
    assert api.post(f"/api/v1/rooms/secret/ticket?key={key}x").status_code == 403
    student = join("secret", password="hunter2")
    _check(student.post("/api/v1/rooms/secret/ticket").json(), "secret", "student")
    impostor = Client()
    impostor.cookies["tm_o_secret"] = owner_key + "x"
    assert impostor.post("/api/v1/rooms/secret/ticket").status_code == 403
    forged = api.post("/api/v1/rooms/secret/ticket", headers={
        "HTTP_AUTHORIZATION": "Bearer " + "x" * 5000})
    assert forged.status_code == 403


def test_no_ticket_for_a_missing_or_expired_room(room, api):
    assert api.post("/api/v1/rooms/no-such-room/ticket").status_code == 404
    assert api.post("/api/v1/rooms/NOT%20A%20NAME/ticket").status_code == 404
    Room.objects.filter(name="bio-101").update(expires_at=timezone.now() - timedelta(1))
    response = api.post("/api/v1/rooms/bio-101/ticket")
    assert response.status_code == 410
    assert response.json()["error"]["code"]
    assert api.get("/api/v1/rooms/bio-101/ticket").status_code == 405


def test_a_room_made_again_under_its_name_has_another_incarnation(make_room, api):
    make_room("reused", lifetime=3600)
    first = _check(api.post("/api/v1/rooms/reused/ticket").json(), "reused", "viewer")
    Room.objects.filter(name="reused").update(expires_at=timezone.now() - timedelta(1))
    make_room("reused", lifetime=3600)
    second = _check(api.post("/api/v1/rooms/reused/ticket").json(), "reused", "viewer")
    assert second.incarnation > first.incarnation


def test_pages_carry_the_ticket_of_their_role(room, join):
    reader = _page_data(Client().get("/bio-101").content.decode())
    _check(reader["follow"], "bio-101", "viewer")
    for path in ("/bio-101/projector", "/bio-101/read", "/bio-101/embed"):
        _check(_page_data(Client().get(path).content.decode())["follow"], "bio-101", "viewer")
    teacher = Client()
    teacher.cookies["tm_o_bio-101"] = room["owner_key"]
    _check(_page_data(teacher.get("/bio-101/moderate").content.decode())["follow"],
           "bio-101", "moderator")
    _check(_page_data(teacher.get("/bio-101").content.decode())["follow"],
           "bio-101", "moderator")
    # The projector shows no held posts, even when the teacher opens it.
    _check(_page_data(teacher.get("/bio-101/projector").content.decode())["follow"],
           "bio-101", "viewer")
    student = Client()
    student.post("/bio-101", {"nickname": "dee"})
    _check(_page_data(student.get("/bio-101").content.decode())["follow"], "bio-101", "student")


def test_a_password_rooms_pages_carry_no_ticket_before_the_password(make_room):
    make_room("secret", password="hunter2")
    for path in ("/secret", "/secret/embed"):
        html = Client().get(path).content.decode()
        data = _page_data(html)
        assert data["follow"] is None, path
        assert "ft1." not in html
    key = share_key(Room.objects.get(name="secret"))
    shared = _page_data(Client().get(f"/secret/read?key={key}").content.decode())
    _check(shared["follow"], "secret", "viewer")
    student = Client()
    assert student.post("/secret", {"nickname": "eve", "password": "wrong"}).status_code == 400
    assert _page_data(student.get("/secret").content.decode())["follow"] is None
    student.post("/secret", {"nickname": "eve", "password": "hunter2"})
    _check(_page_data(student.get("/secret").content.decode())["follow"], "secret", "student")


def test_a_student_of_a_password_room_renews_with_the_cookie_alone(make_room):
    """The page asks for a new ticket with its cookie and no CSRF token: reading needs
    none, and another site's page cannot read the answer."""
    make_room("cookie-room", password="pw")
    joined = Client()
    joined.post("/cookie-room", {"nickname": "ann", "password": "pw"})
    student = Client(enforce_csrf_checks=True)
    student.cookies["tm_p_cookie-room"] = joined.cookies["tm_p_cookie-room"].value
    response = student.post("/api/v1/rooms/cookie-room/ticket")
    assert response.status_code == 200, response.content
    _check(response.json(), "cookie-room", "student")


def test_a_page_renews_as_no_more_than_the_role_it_started_with(room):
    """The teacher's projector starts as a viewer and renews as one: held posts never
    reach the wall's browser. Asking for more than one may have gives what one may."""
    teacher = Client()
    teacher.cookies["tm_o_bio-101"] = room["owner_key"]
    ask = "/api/v1/rooms/bio-101/ticket?role="
    assert teacher.post(ask + "viewer").json()["role"] == "viewer"
    assert teacher.post(ask + "student").json()["role"] == "student"
    assert teacher.post(ask + "moderator").json()["role"] == "moderator"
    assert teacher.post(ask + "junk").json()["role"] == "moderator"
    assert Client().post(ask + "moderator").json()["role"] == "viewer"
