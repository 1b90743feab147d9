"""A teacher keeps control from any device, in Chromium (issue 12, part 1): the room
page right after creation shows how to share it and, without an account, a private
moderator link with its QR code; the link opened on a phone moderates there; a
co-teacher's link works until the owner removes it; signing up claims the rooms."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import PHONE
from .test_flow import create_room_from_home, join_room, send, sign_up, stream_message

pytestmark = pytest.mark.browser


def test_the_creator_moderates_from_a_phone_and_invites_a_co_teacher(new_context, shot):
    laptop = new_context().new_page()
    create_room_from_home(laptop, "any-101", "Cells", moderated=False)
    ready = laptop.locator(".ready-card")
    expect(ready.get_by_role("heading", name="Your room is ready")).to_be_visible()
    expect(ready.get_by_label("Students join at")).to_have_value(
        laptop.url.split("?")[0])
    expect(ready.get_by_role("img", name="QR code of the moderator link for My other "
                             "devices")).to_be_visible()
    join_qr = ready.get_by_role("img", name="QR code for")
    expect(join_qr).to_have_js_property("complete", True)
    assert join_qr.evaluate("image => image.naturalWidth") > 0
    link = ready.get_by_label("Moderator link").input_value()
    assert "/any-101/m/m." in link
    shot(laptop, "any-device-01-room-ready")
    laptop.reload()
    expect(laptop.locator("#new-link-url")).to_have_count(0)  # shown once

    phone = new_context(viewport=PHONE).new_page()
    phone.goto(link)
    expect(phone.get_by_role("heading", name="Moderate any-101")).to_be_visible()
    assert "/m/" not in phone.url  # the key left the address bar
    student = new_context().new_page()
    join_room(student, "any-101", "Ann")
    send(student, "Is mitosis on the test?")
    phone.goto("/any-101")
    post = stream_message(phone, "Is mitosis on the test?")
    post.get_by_role("button", name="Delete message from Ann").click()
    expect(stream_message(student, "Is mitosis on the test?")).to_have_count(0)

    # The owner (the phone holds their own link) invites a teaching assistant.
    phone.goto("/any-101/moderate")
    phone.get_by_label("Invite a co-teacher or teaching assistant").fill("Mr Lee (TA)")
    phone.get_by_role("button", name="Make their link").click()
    expect(phone.locator(".new-link")).to_contain_text("Moderator link for Mr Lee (TA)")
    phone.locator("#moderators-title").scroll_into_view_if_needed()
    shot(phone, "any-device-02-phone-invites", full_page=False)
    ta_link = phone.locator("#new-link-url").input_value()
    ta = new_context().new_page()
    ta.goto(ta_link)
    expect(ta.get_by_role("heading", name="Moderate any-101")).to_be_visible()
    expect(ta.get_by_role("button", name="Make their link")).to_have_count(0)
    expect(ta.get_by_role("heading", name="Delete the room")).to_have_count(0)
    moderators = phone.locator("#moderators")
    expect(moderators).to_contain_text("My other devices")
    expect(moderators).to_contain_text("Mr Lee (TA)")
    # With the keyboard: the remove button names whose link it ends.
    remove = phone.get_by_role("button", name="Remove the moderator link of Mr Lee (TA)")
    remove.focus()
    phone.keyboard.press("Enter")
    expect(phone.locator(".notice")).to_contain_text("no longer opens the room")
    ta.reload()
    expect(ta).to_have_url(re.compile(r"/accounts/login/"))


def test_signing_up_keeps_the_rooms_this_browser_made(new_context, shot):
    page = new_context().new_page()
    create_room_from_home(page, "any-102", "Made before signing up", moderated=False)
    sign_up(page, "any-device-teacher")
    expect(page.get_by_role("link", name="any-102")).to_be_visible()
    shot(page, "any-device-03-dashboard-claimed")
