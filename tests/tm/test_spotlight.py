"""The teacher's spotlight (issue 12, part 2): one visible post shown large on the
projector until cleared; it leaves the projector when the post leaves the room."""

import pytest

from contract import events
from tests.conftest import ApiClient
from tm.models import Event, Room

from .apicheck import assert_error, unchanged, use_csrf

ROOM = "/api/v1/rooms/bio-101"
MESSAGES = f"{ROOM}/messages"


def last_room_update() -> dict:
    return Event.objects.filter(type=events.ROOM_UPDATED).latest("seq").envelope["data"]


def test_a_teacher_spotlights_a_post_and_clears_it(room, moderator, join, api):
    ann = join("bio-101", "Ann")
    post = ann.post(MESSAGES, {"text": "Why is the sky blue?"}).json()["id"]
    answer = moderator.patch(ROOM, {"spotlight": post})
    assert answer.status_code == 200 and answer.json()["spotlight"] == post
    assert last_room_update()["spotlight"] == post
    assert api.get(ROOM).json()["spotlight"] == post  # every reader sees which post
    assert api.get(f"{MESSAGES}/{post}").json()["text"] == "Why is the sky blue?"
    html = api.client.get("/bio-101/projector").content.decode()
    assert 'id="spotlight-text" dir="auto">Why is the sky blue?</p>' in html
    assert moderator.patch(ROOM, {"spotlight": None}).json()["spotlight"] is None
    assert last_room_update()["spotlight"] is None
    html = api.client.get("/bio-101/projector").content.decode()
    assert 'class="spotlight" id="spotlight"' in html and "Why is the sky" not in html.split(
        'id="spotlight"')[1].split("</div>")[0]


@pytest.mark.parametrize("remove", ["delete", "hold", "erase"])
def test_the_spotlight_goes_with_its_post(room, moderator, join, remove):
    ann = join("bio-101", "Ann")
    post = ann.post(MESSAGES, {"text": "look at this"}).json()["id"]
    assert moderator.patch(ROOM, {"spotlight": post}).status_code == 200
    if remove == "delete":
        assert moderator.delete(f"{MESSAGES}/{post}").status_code == 204
    elif remove == "hold":
        assert moderator.post(f"{MESSAGES}/{post}/hold").status_code == 200
    else:
        participant = moderator.get(f"{ROOM}/participants").json()["participants"][0]["id"]
        assert moderator.post(f"{ROOM}/participants/{participant}/erase").status_code == 200
    assert Room.objects.get().spotlight_id is None
    assert last_room_update()["spotlight"] is None
    assert moderator.get(ROOM).json()["spotlight"] is None


def test_only_a_visible_post_of_the_room_and_only_by_a_teacher(make_room, join):
    _, key = make_room("bio-101", moderated=True)
    _, other_key = make_room("bio-102")
    teacher, other = ApiClient(), ApiClient()
    teacher.token, other.token = key, other_key
    ann = join("bio-101", "Ann")
    held = ann.post(MESSAGES, {"text": "waiting"}).json()["id"]
    bo = join("bio-102", "Bo")
    elsewhere = bo.post("/api/v1/rooms/bio-102/messages", {"text": "other room"}).json()["id"]
    with unchanged():
        for value in (held, elsewhere, 987654):
            assert_error(teacher.patch(ROOM, {"spotlight": value}), 400, "bad_spotlight",
                         "spotlight")
        for value in ("1", True, 1.5, [1], {}, 0, -1, 2**63):
            assert_error(teacher.patch(ROOM, {"spotlight": value}), 400, "invalid",
                         "spotlight")
        assert_error(ann.patch(ROOM, {"spotlight": None}), 403)
    assert_error(ApiClient().get(f"{MESSAGES}/{held}"), 404, "not_found")


def test_the_room_page_button_toggles_the_spotlight(room, join):
    ann = join("bio-101", "Ann")
    post = ann.post(MESSAGES, {"text": "toggle me"}).json()["id"]
    page = ApiClient()
    page.client.cookies["tm_o_bio-101"] = room["owner_key"]
    csrf = use_csrf(page)
    html = page.client.get("/bio-101").content.decode()
    assert 'aria-label="Spotlight message from Ann" aria-pressed="false">Spotlight' in html
    form = {"action": "spotlight", "message": post, "next": "/bio-101"}
    assert page.client.post("/bio-101/moderate/action", form, **csrf).status_code == 302
    assert Room.objects.get().spotlight_id == post
    html = page.client.get("/bio-101").content.decode()
    assert 'aria-pressed="true">Spotlight' in html and "On the projector now." in html
    page.client.post("/bio-101/moderate/action", form, **csrf)
    assert Room.objects.get().spotlight_id is None
