"""A teacher keeps control from any device (issue 12, part 1; tm/moderators.py):
moderator links for the creator's other devices and for co-teachers, shown once,
revocable; rooms made in a browser become the account's when it signs in or up."""

import re

import pytest
from django.contrib.auth.models import User

from tests.conftest import ApiClient
from tm.models import AuditEntry, Room, RoomModerator

from .apicheck import assert_error, unchanged, use_csrf

ROOM = "/api/v1/rooms/bio-101"
LINK = re.compile(r'id="new-link-url" type="text" readonly value="(http://[^"]+/m/(m\.[^"]+))"')


def create_in_browser(name: str = "bio-101") -> ApiClient:
    """A browser that creates a room with the home page's form, without an account."""
    page = ApiClient()
    csrf = use_csrf(page)
    response = page.client.post("/", {"name": name, "lifetime": "3600"}, **csrf)
    assert response.status_code == 302
    assert response["Location"] == f"/{name}?created=1"
    return page


def link_on(html: str) -> tuple[str, str]:
    match = LINK.search(html)
    assert match, "no moderator link on the page"
    return match.group(1), match.group(2)


def browser_with_link(key: str, room: str = "bio-101") -> ApiClient:
    other = ApiClient()
    response = other.client.get(f"/{room}/m/{key}")
    assert response.status_code == 302 and response["Location"] == f"/{room}/moderate"
    return other


def test_the_creator_gets_a_private_moderator_link_once(db):
    page = create_in_browser()
    html = page.client.get("/bio-101?created=1").content.decode()
    assert "Your room is ready" in html and "Students join at" in html
    url, key = link_on(html)
    assert url.endswith(f"/bio-101/m/{key}") and "<svg" in html  # and its QR code
    again = page.client.get("/bio-101?created=1").content.decode()
    assert "Your room is ready" in again and 'id="new-link-url"' not in again  # once
    grant = RoomModerator.objects.get()
    assert grant.owner_level and grant.name == "My other devices" and key not in grant.key_hash
    entry = AuditEntry.objects.get(action="moderator.added")
    assert entry.actor == "the room's creator" and entry.detail["name"] == "My other devices"


def test_the_link_moderates_from_another_browser_until_it_is_removed(db, join):
    page = create_in_browser()
    _, key = link_on(page.client.get("/bio-101?created=1").content.decode())
    phone = browser_with_link(key)
    assert "tm_m_bio-101" in phone.client.cookies
    html = phone.client.get("/bio-101/moderate").content.decode()
    assert "Moderate bio-101" in html and "Make their link" in html  # the owner's link
    ann = join("bio-101", "Ann")
    post = ann.post(f"{ROOM}/messages", {"text": "hello"}).json()["id"]
    csrf = use_csrf(phone)
    response = phone.client.post("/bio-101/moderate/action",
                                 {"action": "delete", "message": post}, **csrf)
    assert response.status_code == 302
    assert AuditEntry.objects.get(action="message.deleted").actor == "the room's creator"
    api_client = ApiClient()
    api_client.token = key  # the key works as a bearer token too
    assert api_client.get(f"{ROOM}/pending").status_code == 200

    grant = RoomModerator.objects.get()
    response = page.client.post("/bio-101/moderate/action",
                                {"action": "remove_moderator", "moderator": grant.pk},
                                **use_csrf(page))
    assert response.status_code == 302
    assert not RoomModerator.objects.exists()
    assert phone.client.get("/bio-101/moderate")["Location"].startswith("/accounts/login/")
    assert_error(api_client.get(f"{ROOM}/pending"), 403, "not_moderator")
    gone = ApiClient().client.get(f"/bio-101/m/{key}")
    assert gone.status_code == 404 and "does not work" in gone.content.decode()


@pytest.mark.parametrize("key", ["m.nope", "nope", "m." + "x" * 200, "%00", "m.<script>"])
def test_a_bad_key_opens_nothing(room, key):
    response = ApiClient().client.get(f"/bio-101/m/{key}")
    assert response.status_code == 404
    assert "tm_m_bio-101" not in response.cookies


def test_a_co_teacher_moderates_but_cannot_manage_links(room, join):
    owner = ApiClient()
    owner.token = room["owner_key"]
    answer = owner.post(f"{ROOM}/moderators", {"name": "  Ms  Ortiz (TA) "})
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["name"] == "Ms Ortiz (TA)" and body["owner_level"] is False
    key = body["url"].rsplit("/", 1)[1]
    assert owner.get(f"{ROOM}/moderators").json()["moderators"] == [
        {k: v for k, v in body.items() if k != "url"}]
    ta = browser_with_link(key)
    html = ta.client.get("/bio-101/moderate").content.decode()
    assert "Ms Ortiz (TA)" in html and "Make their link" not in html
    csrf = use_csrf(ta)
    with unchanged():
        response = ta.client.post("/bio-101/moderate/action",
                                  {"action": "invite", "name": "Friend"}, **csrf)
        assert response.status_code == 403
    ta_api = ApiClient()
    ta_api.token = key
    assert_error(ta_api.post(f"{ROOM}/moderators", {"name": "x"}), 403, "not_owner")
    assert_error(ta_api.delete(f"{ROOM}/moderators/{body['id']}"), 403, "not_owner")
    assert ta_api.patch(ROOM, {"topic": "Cells"}).status_code == 200
    entry = AuditEntry.objects.filter(action="room.settings").latest("id")
    assert entry.actor == "Ms Ortiz (TA) (co-teacher)"
    assert owner.delete(f"{ROOM}/moderators/{body['id']}").status_code == 204
    assert_error(ta_api.get(f"{ROOM}/pending"), 403, "not_moderator")


@pytest.mark.parametrize("name, field_error", [("", "name"), ("   ", "name"), (None, "name"),
                                                (5, "name"), ("x" * 61, "name")])
def test_a_link_needs_a_name(room, name, field_error):
    owner = ApiClient()
    owner.token = room["owner_key"]
    with unchanged():
        assert_error(owner.post(f"{ROOM}/moderators", {"name": name}), 400, "invalid",
                     field_error)
    assert_error(owner.post(f"{ROOM}/moderators", {"name": "a", "extra": 1}), 400)
    assert_error(owner.post(f"{ROOM}/moderators", {"name": "a", "owner_level": "yes"}), 400)


def test_names_are_shown_as_text_and_links_are_limited(room):
    owner = ApiClient()
    owner.token = room["owner_key"]
    assert owner.post(f"{ROOM}/moderators", {"name": "<b>TA</b>"}).status_code == 201
    for n in range(19):
        assert owner.post(f"{ROOM}/moderators", {"name": f"TA {n}"}).status_code == 201
    with unchanged():
        assert_error(owner.post(f"{ROOM}/moderators", {"name": "one more"}), 409, "too_many")
    page = ApiClient()
    page.client.cookies["tm_o_bio-101"] = room["owner_key"]
    html = page.client.get("/bio-101/moderate").content.decode()
    assert "&lt;b&gt;TA&lt;/b&gt;" in html and "<b>TA</b>" not in html


def test_a_signed_in_co_teacher_moderates_from_any_device(room, django_user_model):
    owner = ApiClient()
    owner.token = room["owner_key"]
    key = owner.post(f"{ROOM}/moderators", {"name": "Mr Lee"}).json()["url"].rsplit("/", 1)[1]
    django_user_model.objects.create_user("lee", password="a long pass phrase 42")
    laptop = ApiClient()
    laptop.client.login(username="lee", password="a long pass phrase 42")
    browser_with_link(key)  # someone else's browser: no account, not bound
    assert RoomModerator.objects.get().user is None
    laptop.client.get(f"/bio-101/m/{key}")
    assert RoomModerator.objects.get().user.username == "lee"
    phone = ApiClient()  # never saw the link: signing in is enough
    phone.client.login(username="lee", password="a long pass phrase 42")
    assert phone.client.get("/bio-101/moderate").status_code == 200
    dashboard = phone.client.get("/dashboard/").content.decode()
    assert "Rooms I co-teach" in dashboard and "bio-101" in dashboard
    assert AuditEntry.objects.filter(action="moderator.joined", actor="lee").exists()


def test_signing_up_in_the_browser_that_made_rooms_claims_them(db):
    page = create_in_browser("bio-101")
    csrf = use_csrf(page)
    assert page.client.post("/", {"name": "bio-102", "lifetime": "3600"},
                            **csrf).status_code == 302
    ApiClient().post("/api/v1/rooms", {"name": "not-mine"})
    response = page.client.post("/accounts/signup/", {
        "username": "ms-ortiz", "email": "ortiz@school.example",
        "password1": "a long pass phrase 42", "password2": "a long pass phrase 42"},
        **use_csrf(page))
    assert response.status_code == 302, response.content[:500]
    user = User.objects.get(username="ms-ortiz")
    assert set(Room.objects.filter(owner=user).values_list("name", flat=True)) == {
        "bio-101", "bio-102"}
    assert Room.objects.get(name="not-mine").owner is None
    dashboard = page.client.get("/dashboard/").content.decode()
    assert "bio-101" in dashboard and "bio-102" in dashboard and "not-mine" not in dashboard
    assert AuditEntry.objects.filter(action="room.claimed", actor="ms-ortiz").count() == 2


def test_signing_in_claims_too_and_never_takes_an_owned_room(db, django_user_model):
    django_user_model.objects.create_user("ortiz", password="a long pass phrase 42")
    django_user_model.objects.create_user("lee", password="a long pass phrase 42")
    page = create_in_browser("bio-101")
    for name in ("ortiz", "lee"):  # the sign-in form, as a browser sends it
        response = page.client.post("/accounts/login/", {
            "username": name, "password": "a long pass phrase 42"}, **use_csrf(page))
        assert response.status_code == 302
        assert Room.objects.get(name="bio-101").owner.username == "ortiz"
        page.client.post("/accounts/logout/", **use_csrf(page))


def test_only_the_owner_deletes_the_room(room):
    owner = ApiClient()
    owner.token = room["owner_key"]
    key = owner.post(f"{ROOM}/moderators", {"name": "TA"}).json()["url"].rsplit("/", 1)[1]
    ta = browser_with_link(key)
    html = ta.client.get("/bio-101/moderate").content.decode()
    assert "Delete the room" not in html
    with unchanged():
        response = ta.client.post("/bio-101/moderate/action",
                                   {"action": "delete_room", "confirm": "bio-101"},
                                   **use_csrf(ta))
        assert response.status_code == 403
        ta_api = ApiClient()
        ta_api.token = key
        assert_error(ta_api.delete(ROOM), 403, "not_owner")
    assert owner.delete(ROOM).status_code == 204
