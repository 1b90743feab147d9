"""The projector from the back of the room (issue 12, part 2), in Chromium at
1920x1080: however many posts arrive, the join address and QR code stay on screen and
large, the newest posts that fit are shown without a scroll bar, and the teacher's
spotlight shows one post large until it is taken off."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import PHONE, POLL_WAIT_MS, TmServer
from .test_flow import stream_message

pytestmark = pytest.mark.browser

BIG_SCREEN = {"width": 1920, "height": 1080}


def fill(tm_server: TmServer, room: str, count: int) -> None:
    """`count` posts, from enough students to stay under the per-student rate limit."""
    students = [tm_server.join(room, f"student{n}") for n in range(count // 8 + 1)]
    for n in range(count):
        tm_server.post(students[n // 8], room, f"Post number {n}: what about the homework?")


def test_the_wall_keeps_how_to_join_on_screen_and_never_scrolls(tm_server: TmServer,
                                                                 new_context, shot):
    body, owner = tm_server.create_room("proj-101", topic="Photosynthesis")
    fill(tm_server, "proj-101", 60)
    wall = new_context(viewport=BIG_SCREEN).new_page()
    wall.goto("/proj-101/projector")
    join = wall.locator(".projector-join strong")
    qr = wall.locator(".projector-qr")
    expect(join).to_have_text(f"{tm_server.url}/proj-101")
    expect(join).to_be_in_viewport(ratio=1)
    expect(qr).to_be_in_viewport(ratio=1)
    expect(qr).to_have_js_property("complete", True)
    assert float(join.evaluate("node => getComputedStyle(node).fontSize")[:-2]) >= 40
    assert qr.bounding_box()["width"] >= 280
    expect(wall.locator("#stream li.msg").last).to_contain_text("Post number 59")
    expect(wall.locator("#stream li.msg").last).to_be_in_viewport(ratio=1)
    sizes = wall.evaluate("() => [document.scrollingElement.scrollHeight, innerHeight,"
                          " document.scrollingElement.scrollWidth, innerWidth]")
    assert sizes[0] <= sizes[1] and sizes[2] <= sizes[3], sizes  # no scroll bar
    shot(wall, "projector-01-1080p-60-posts", full_page=False)

    # The teacher spotlights a post from the room page; the wall shows it large.
    teacher = new_context().new_page()
    teacher.context.add_cookies([{"name": "tm_o_proj-101", "value": owner.token,
                                  "url": tm_server.url}])
    teacher.goto("/proj-101")
    post = stream_message(teacher, "Post number 42")
    post.get_by_role("button", name="Spotlight message from student5").click()
    expect(post.get_by_role("button", name="Spotlight message from student5")
           ).to_have_attribute("aria-pressed", "true")
    spotlight = wall.locator("#spotlight")
    expect(spotlight).to_be_visible(timeout=POLL_WAIT_MS)
    expect(spotlight).to_contain_text("Post number 42")
    expect(wall.locator("#spotlight-nick")).to_have_text("student5")
    assert float(wall.locator("#spotlight-text").evaluate(
        "node => getComputedStyle(node).fontSize")[:-2]) >= 60
    expect(join).to_be_in_viewport(ratio=1)  # how to join stays beside it
    shot(wall, "projector-02-spotlight", full_page=False)
    post.get_by_role("button", name="Spotlight message from student5").click()
    expect(spotlight).to_be_hidden(timeout=POLL_WAIT_MS)

    # On a phone-sized screen the wall still fits, the address under it.
    small = new_context(viewport=PHONE).new_page()
    small.goto("/proj-101/projector")
    expect(small.locator(".projector-join strong")).to_be_in_viewport()
    width = small.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], width
    shot(small, "projector-03-phone", full_page=False)
