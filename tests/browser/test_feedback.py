"""Moderation that tells people what happened (issue 12, part 4), in Chromium: a
student whose held post is rejected is told so; a room the teacher closes takes the
message box away; with analytics on, the approval queue comes before the charts."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import PHONE, POLL_WAIT_MS, TmServer
from .test_flow import join_room, send

pytestmark = pytest.mark.browser


def test_a_rejected_post_tells_its_author_and_a_closed_room_takes_no_posts(
        tm_server: TmServer, new_context, shot):
    _, owner = tm_server.create_room("fb-101", moderated=True)
    api = f"{tm_server.url}/api/v1/rooms/fb-101"
    student = new_context().new_page()
    join_room(student, "fb-101", "Ann")
    send(student, "Can I go early?")
    note = student.locator("#compose-error")
    expect(note).to_contain_text("once the teacher approves it")
    [held] = owner.get(f"{api}/pending").json()["messages"]
    assert owner.post(f"{api}/messages/{held['id']}/reject").status_code == 204
    expect(note).to_contain_text("The teacher did not approve your post",
                                 timeout=POLL_WAIT_MS)
    shot(student, "feedback-01-rejected", full_page=False)
    send(student, "Then what is the homework?")
    expect(note).to_contain_text("once the teacher approves it")
    [held] = owner.get(f"{api}/pending").json()["messages"]
    assert owner.post(f"{api}/messages/{held['id']}/approve").status_code == 200
    expect(student.locator("#stream")).to_contain_text("Then what is the homework?",
                                                       timeout=POLL_WAIT_MS)
    expect(note).not_to_contain_text("did not approve")

    assert owner.patch(api, json={"state": "closed"}).status_code == 200
    expect(student.locator("#compose")).to_be_hidden(timeout=POLL_WAIT_MS)
    expect(student.locator("#state-banner")).to_contain_text("This room is closed")
    student.reload()
    expect(student.locator("#compose")).to_be_hidden()  # as the server renders it
    shot(student, "feedback-05-closed-no-box", full_page=False)
    assert owner.patch(api, json={"state": "open"}).status_code == 200
    expect(student.locator("#compose")).to_be_visible(timeout=POLL_WAIT_MS)


def test_the_approval_queue_comes_before_the_charts(tm_server: TmServer, new_context, shot):
    body, owner = tm_server.create_room("fb-102", analytics=True)
    teacher = new_context().new_page()
    teacher.context.add_cookies([{"name": "tm_o_fb-102", "value": owner.token,
                                  "url": tm_server.url}])
    teacher.goto("/fb-102/moderate")
    queue = teacher.locator("#queue-title").bounding_box()
    charts = teacher.locator(".charts").first.bounding_box()
    assert queue["y"] < charts["y"], (queue, charts)
    shot(teacher, "feedback-03-queue-before-charts")


def test_a_title_is_offered_as_a_room_name_on_a_phone(new_context, shot):
    page = new_context(viewport=PHONE).new_page()
    page.goto("/")
    page.locator("#create-name").focus()
    page.keyboard.type("Bio 101 Period 3")
    page.keyboard.press("Enter")
    expect(page.locator("#create-name")).to_have_value("bio-101-period-3")
    expect(page.get_by_text("so we made it “bio-101-period-3”")).to_be_visible()
    shot(page, "feedback-04-room-name-offered", full_page=False)


def test_a_paste_over_the_limit_is_kept_and_measured(tm_server: TmServer, new_context, shot):
    tm_server.create_room("fb-103")
    student = new_context().new_page()
    join_room(student, "fb-103", "Ann")  # and the focus is in the message box
    long_text = "Photosynthesis " * 10  # 150 characters; the room takes 140
    student.keyboard.insert_text(long_text)
    box = student.locator("#compose-text")
    expect(box).to_have_value(long_text)  # nothing cut
    expect(student.locator("#compose-counter")).to_have_text(
        "9 characters over the limit")  # trimmed: 149 characters
    expect(student.locator("#compose-send")).to_be_disabled()
    box.press("Enter")
    expect(student.locator("#compose-error")).to_contain_text(
        "9 characters over this room's limit of 140")
    expect(box).to_have_value(long_text)
    shot(student, "feedback-02-over-the-limit", full_page=False)
    box.fill("Photosynthesis needs light")
    expect(student.locator("#compose-counter")).to_have_text("114 characters left")
    expect(student.locator("#compose-send")).to_be_enabled()
