"""A teacher's rights without the operator: download everything tm holds about them
and their rooms (one JSON file), and delete their account with every room it owns."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.conftest import ApiClient
from tm.models import AuditEntry, Message, Participant, Room, RoomDeletion

from .apicheck import use_csrf


@pytest.fixture
def teacher(db):
    user = get_user_model().objects.create_user("ms.lee", email="lee@school.example",
                                                password="a long enough password")
    client = ApiClient()
    client.client.force_login(user)
    csrf = use_csrf(client)
    for name, password in (("bio-101", ""), ("chem-1", "join-secret-1")):
        assert client.post("/api/v1/rooms", {"name": name, "accountable": True,
                                             "password": password},
                           headers=csrf).status_code == 201
    return client, csrf


def test_the_export_holds_the_account_and_every_room(teacher, join, make_room):
    client, csrf = teacher
    ann = join("bio-101", "Ann", real_name="Ann Lee")
    ann.post("/api/v1/rooms/bio-101/messages", {"text": "hello"})
    make_room("not-mine")  # another creator's room: not in this teacher's file
    response = client.client.get("/accounts/export.json")
    assert response.status_code == 200
    assert 'attachment; filename="tm-ms.lee-export.json"' == response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["format"] == "tm-teacher-export/1"
    assert data["account"]["username"] == "ms.lee"
    assert data["account"]["email"] == "lee@school.example"
    assert [room["name"] for room in data["rooms"]] == ["bio-101", "chem-1"]
    bio = data["rooms"][0]
    assert bio["participants"][0]["real_name"] == "Ann Lee"
    assert [m["text"] for m in bio["messages"]] == ["hello"]
    assert [e["action"] for e in bio["audit_log"]] == ["room.created"]
    # No secret of anyone's: no password or token hash, no owner key.
    dumped = json.dumps(data)
    for secret_word in ("join-secret-1", "pbkdf2", "argon2", "token", "owner_key"):
        assert secret_word not in dumped, secret_word


def test_the_export_needs_the_teacher_signed_in(db):
    response = Client().get("/accounts/export.json")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_deleting_the_account_takes_every_room_it_owns(teacher, join, make_room):
    client, csrf = teacher
    join("bio-101", "Ann", real_name="Ann Lee").post("/api/v1/rooms/bio-101/messages",
                                                     {"text": "hello"})
    make_room("not-mine")
    wrong = client.client.post("/accounts/delete/", {"password": "nope"}, **csrf)
    assert wrong.status_code == 400 and b"not your password" in wrong.content
    assert Room.objects.count() == 3
    page = client.client.get("/accounts/delete/")
    assert b"2 rooms" in page.content
    done = client.client.post("/accounts/delete/", {"password": "a long enough password"},
                              **csrf)
    assert done.status_code == 302
    assert list(Room.objects.values_list("name", flat=True)) == ["not-mine"]
    assert not get_user_model().objects.filter(username="ms.lee").exists()
    assert not Participant.objects.filter(room__name="bio-101").exists()
    assert not Message.objects.filter(text="hello").exists()
    assert not AuditEntry.objects.filter(room__name__in=["bio-101", "chem-1"]).exists()
    # Announced like any deletion: the push nodes and the collector let the rooms go.
    assert set(RoomDeletion.objects.values_list("name", flat=True)) == {"bio-101", "chem-1"}
    # Signed out: the dashboard asks to sign in again.
    assert client.client.get("/dashboard/").status_code == 302


def test_deleting_needs_the_csrf_token(teacher):
    client, _ = teacher
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(get_user_model().objects.get(username="ms.lee"))
    refused = browser.post("/accounts/delete/", {"password": "a long enough password"})
    assert refused.status_code == 403
    assert get_user_model().objects.filter(username="ms.lee").exists()
