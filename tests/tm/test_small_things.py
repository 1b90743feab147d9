"""Small things that add up (issue 12, part 5): a room name typed like a title is
offered as a valid one; the message box takes a paste over the limit and says so."""

from tests.conftest import ApiClient
from tm import validation
from tm.models import Room

from .apicheck import use_csrf


def test_a_title_is_offered_as_a_room_name(db):
    page = ApiClient()
    csrf = use_csrf(page)
    response = page.client.post("/", {"name": "Bio 101 Period 3", "lifetime": "3600"}, **csrf)
    assert response.status_code == 400 and not Room.objects.exists()
    html = response.content.decode()
    assert 'value="bio-101-period-3"' in html
    assert "so we made it “bio-101-period-3”. Create the room to use it." in html
    again = page.client.post("/", {"name": "bio-101-period-3", "lifetime": "3600"}, **csrf)
    assert again.status_code == 302


def test_suggestions_are_valid_or_none():
    assert validation.room_name_suggestion("Bio 101 Period 3") == "bio-101-period-3"
    assert validation.room_name_suggestion("  Ünïcode Class! ") == "unicode-class"
    assert validation.room_name_suggestion("x" * 60 + " y") == "x" * 40
    for hopeless in ("", "   ", "!!!", "日本語", "api"):
        assert validation.room_name_suggestion(hopeless) is None


def test_the_message_box_has_no_maxlength(room, join):
    ann = join("bio-101", "Ann")
    page = ApiClient()
    page.client.cookies["tm_p_bio-101"] = ann.token
    html = page.client.get("/bio-101").content.decode()
    textarea = html.split('id="compose-text"')[1].split(">")[0]
    assert "maxlength" not in textarea and 'id="compose-unit">characters left' in html
