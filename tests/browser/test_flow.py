"""The product's "done when" flow in a real browser: a teacher signs up and makes rooms,
a student (a second browser) joins and posts, the teacher deletes, approves and pauses,
and each side sees the other's change by the page's own polling."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import DESKTOP, PHONE, POLL_WAIT_MS, TmServer, flush_memcached

pytestmark = pytest.mark.browser


def sign_up(page: Page, username: str) -> None:
    page.goto("/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_email", f"{username}@example.org")
    page.fill("#id_password1", "a long enough passphrase 42")
    page.fill("#id_password2", "a long enough passphrase 42")
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", name="My rooms")).to_be_visible()


def create_room_from_home(page: Page, name: str, topic: str, moderated: bool) -> None:
    page.goto("/")
    page.fill("#create-name", name)
    page.fill("#create-topic", topic)
    if moderated:
        page.locator(".more-options summary").click()
        page.get_by_label("Hold every post for my approval").check()
    page.get_by_role("button", name="Create room").click()
    expect(page).to_have_url(re.compile(rf"/{name}\?created=1$"))
    expect(page.locator("h1.room-name")).to_have_text(name)


def join_room(page: Page, room: str, nickname: str) -> None:
    page.goto(f"/{room}")
    page.fill("#join-nickname", nickname)
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#compose-text")).to_be_visible()
    expect(page.locator("#compose-text")).to_be_focused()  # straight to the message box
    expect(page.locator(".compose-label")).to_contain_text(nickname)


def send(page: Page, text: str) -> None:
    page.fill("#compose-text", text)
    page.locator("#compose-text").press("Enter")
    expect(page.locator("#compose-text")).to_have_value("")


def stream_message(page: Page, text: str):
    """The delivered (not placeholder) message with this text in the page's stream."""
    return page.locator("#stream li.msg:not(.pending)", has_text=text)


def test_teacher_and_student_flow(new_context, shot):
    teacher = new_context().new_page()
    teacher.goto("/")
    expect(teacher.get_by_role("heading", name="Create a room")).to_be_visible()
    shot(teacher, "flow-01-home")
    teacher.set_viewport_size(PHONE)
    shot(teacher, "flow-01b-home-phone")
    teacher.set_viewport_size(DESKTOP)

    sign_up(teacher, "ms-rivera")
    create_room_from_home(teacher, "bio-mod", "Cells, held for approval", moderated=True)
    create_room_from_home(teacher, "bio-101", "Cell membranes", moderated=False)
    shot(teacher, "flow-02-room-teacher")
    # The teacher is offered a name to post under, not the students' join card.
    expect(teacher.get_by_role("heading", name="Post in bio-101")).to_be_visible()
    expect(teacher.get_by_label("Nickname")).to_have_value("Teacher")

    # A student in a second browser joins the open room and posts.
    student = new_context().new_page()
    join_room(student, "bio-101", "Ann")
    send(student, "Why is the membrane called fluid?")
    expect(stream_message(student, "Why is the membrane called fluid?")).to_be_visible()
    send(student, "Is cholesterol part of it?")
    expect(stream_message(student, "Is cholesterol part of it?")).to_be_visible()
    send(student, "A long link: https://en.wikipedia.org/wiki/Fluid_mosaic_model#"
                  "Lipid_bilayer_and_membrane_proteins_in_one_very_long_fragment")
    expect(stream_message(student, "A long link")).to_be_visible()
    shot(student, "flow-03-room-student-desktop")
    student.set_viewport_size(PHONE)
    shot(student, "flow-04-room-student-phone")
    shot(student, "flow-04b-room-student-phone-viewport", full_page=False)
    student.set_viewport_size(DESKTOP)

    # The teacher's open room page picks both up by polling, and deletes one.
    expect(stream_message(teacher, "Why is the membrane called fluid?")).to_be_visible(
        timeout=POLL_WAIT_MS)
    expect(stream_message(teacher, "Is cholesterol part of it?")).to_be_visible(
        timeout=POLL_WAIT_MS)
    unwanted = stream_message(teacher, "Is cholesterol part of it?")
    unwanted.get_by_role("button", name="Delete message from Ann").click()
    expect(unwanted).to_have_count(0)
    expect(stream_message(student, "Is cholesterol part of it?")).to_have_count(
        0, timeout=POLL_WAIT_MS)
    expect(stream_message(student, "Why is the membrane called fluid?")).to_be_visible()

    # After a reload the messages come from the server, with a plain form to delete.
    teacher.reload()
    expect(teacher.locator(".notices")).to_have_count(0)  # messages are not flash notices
    link_message = stream_message(teacher, "A long link")
    expect(link_message.get_by_role("link")).to_have_attribute("rel", re.compile("noopener"))
    link_message.get_by_role("button", name="Delete message from Ann").click()
    expect(teacher.locator(".notice")).to_have_text("Message deleted.")
    expect(stream_message(teacher, "A long link")).to_have_count(0)
    expect(stream_message(student, "A long link")).to_have_count(0, timeout=POLL_WAIT_MS)

    # The teacher posts too, under the name the card offered.
    teacher.get_by_role("button", name="Start posting").click()
    send(teacher, "Quiz on Friday: chapters 3 and 4.")
    expect(stream_message(student, "Quiz on Friday")).to_be_visible(timeout=POLL_WAIT_MS)
    shot(teacher, "flow-04c-teacher-posts")

    # The same delete from the moderation page (a plain form, no JavaScript needed).
    teacher.goto("/bio-101/moderate")
    expect(teacher.get_by_role("heading", name="Moderate bio-101")).to_be_visible()
    shot(teacher, "flow-05-moderate-open-room")
    recent = teacher.locator(".stream-compact li.msg", has_text="Why is the membrane")
    recent.get_by_role("button", name="Delete message from Ann").click()
    expect(teacher.locator(".notice")).to_have_text("Message deleted.")
    expect(stream_message(student, "Why is the membrane called fluid?")).to_have_count(
        0, timeout=POLL_WAIT_MS)
    announcement = teacher.locator(".stream-compact li.msg", has_text="Quiz on Friday")
    announcement.get_by_role("button", name="Delete message from Teacher").click()
    expect(stream_message(student, "Quiz on Friday")).to_have_count(0, timeout=POLL_WAIT_MS)
    expect(student.locator("#empty-state")).to_be_visible()

    # Moderated room: the post waits for the teacher, then reaches the class.
    join_room(student, "bio-mod", "Ann")
    send(student, "Do plant cells have cholesterol?")
    expect(student.locator("#compose-error")).to_contain_text("once the teacher approves it")
    expect(stream_message(student, "Do plant cells have cholesterol?")).to_have_count(0)
    teacher.goto("/bio-mod/moderate")
    queue = teacher.locator(".queue-item", has_text="Do plant cells have cholesterol?")
    expect(queue).to_be_visible()
    expect(teacher.locator("#queue-title")).to_contain_text("1")
    shot(teacher, "flow-06-moderate-waiting")
    teacher.set_viewport_size(PHONE)
    shot(teacher, "flow-06b-moderate-phone")
    teacher.set_viewport_size(DESKTOP)
    queue.get_by_role("button", name="Approve Ann").click()
    expect(teacher.locator(".notice")).to_have_text("Message approved.")
    expect(teacher.locator(".queue-item")).to_have_count(0)
    expect(stream_message(student, "Do plant cells have cholesterol?")).to_be_visible(
        timeout=POLL_WAIT_MS)
    shot(student, "flow-06c-room-student-approved")

    # Pause: the student's open page shows the banner and locks the post box.
    teacher.select_option("#pause-minutes", "0")
    teacher.get_by_role("button", name="Pause", exact=True).click()
    expect(teacher.locator(".notice")).to_contain_text("Room paused")
    expect(teacher.locator("#state-badge")).to_have_text("paused")
    banner = student.locator("#state-banner")
    expect(banner).to_be_visible(timeout=POLL_WAIT_MS)
    expect(banner).to_contain_text("paused")
    expect(student.locator("#compose-text")).to_be_disabled()
    expect(student.locator("#compose-send")).to_be_disabled()
    shot(student, "flow-07-room-paused-student")
    student.reload()  # the server-rendered page agrees
    expect(banner).to_contain_text("paused")
    expect(student.locator("#compose-text")).to_be_disabled()

    # The activity log says who did what, in the teacher's own time (not UTC).
    log = teacher.locator("#audit li")
    expect(log.first).to_contain_text("paused the room")
    expect(teacher.locator("#audit")).to_contain_text("approved a post by Ann")
    expect(teacher.locator("#audit")).to_contain_text("tm held a post by Ann")
    expect(log.first.locator("time")).not_to_contain_text("UTC")
    teacher.locator("#audit-title").scroll_into_view_if_needed()
    shot(teacher, "flow-06d-moderate-activity", full_page=False)

    # The other views of the room, as the class and the wall see them.
    wall = new_context(viewport={"width": 1366, "height": 768}).new_page()
    wall.goto("/bio-mod/projector")
    expect(wall.locator("#stream")).to_contain_text("Do plant cells have cholesterol?")
    expect(wall.locator(".projector-qr")).to_be_visible()
    expect(wall.locator(".notices")).to_have_count(0)
    shot(wall, "flow-08-projector")
    wall.goto("/bio-mod/transcript")
    expect(wall.locator("table.transcript")).to_contain_text("Do plant cells have cholesterol?")
    shot(wall, "flow-09-transcript")
    wall.goto("/bio-mod/read")
    expect(wall.locator("#stream")).to_contain_text("Do plant cells have cholesterol?")
    shot(wall, "flow-10-read-only")

    embedded = new_context(viewport={"width": 400, "height": 600}).new_page()
    embedded.goto("/bio-101/embed")
    expect(embedded.locator("#empty-state")).to_be_visible()
    embedded.goto("/bio-mod/embed")
    expect(embedded.locator("#stream")).to_contain_text("Do plant cells have cholesterol?")
    shot(embedded, "flow-11-embed")

    teacher.goto("/dashboard/")
    expect(teacher.locator(".rooms-table")).to_contain_text("bio-mod")
    shot(teacher, "flow-12-dashboard")

    # Her data, from the dashboard: the file downloads; deleting the account asks for
    # her password and says what goes with it (she keeps it here).
    with teacher.expect_download() as download:
        teacher.get_by_role("link", name="Download my data").click()
    assert download.value.suggested_filename == "tm-ms-rivera-export.json"
    teacher.get_by_role("link", name="Delete my account").click()
    expect(teacher.get_by_role("heading", name="Delete my account")).to_be_visible()
    expect(teacher.locator("main")).to_contain_text("2 rooms")
    teacher.fill("#delete-password", "not her password")
    teacher.get_by_role("button", name="Delete my account and my rooms").click()
    expect(teacher.locator("#delete-error")).to_have_text("That is not your password.")
    shot(teacher, "flow-12b-delete-account")
    teacher.goto("/dashboard/")
    expect(teacher.locator(".rooms-table")).to_contain_text("bio-mod")


def test_embed_joins_and_posts_with_a_token(tm_server: TmServer, new_context, shot):
    tm_server.create_room("embed-room", topic="Questions from the course page")
    page = new_context(viewport={"width": 400, "height": 600}).new_page()
    page.goto("/embed-room/embed")
    page.fill("#embed-nickname", "Bo")
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#compose")).to_be_visible()
    expect(page.locator("#embed-join")).to_be_hidden()
    expect(page.locator("#compose-text")).to_be_focused()
    page.keyboard.type("Posted from inside the LMS")
    page.keyboard.press("Enter")
    expect(stream_message(page, "Posted from inside the LMS")).to_be_visible()
    shot(page, "flow-13-embed-joined")
    page.reload()  # the token lives in sessionStorage: still joined
    expect(page.locator("#compose")).to_be_visible()
    expect(page.locator("#embed-join")).to_be_hidden()
    expect(page.locator("#compose-nick")).to_have_text("Bo")


def test_keyboard_reaches_the_post_box_and_enter_sends(tm_server: TmServer, new_context):
    tm_server.create_room("keys")
    # Far from UTC, so a time the server wrote in UTC would differ from the browser's.
    page = new_context(timezone_id="Asia/Kolkata").new_page()
    join_room(page, "keys", "Kim")
    page.locator("body").focus()
    reached = []
    for _ in range(15):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement && document.activeElement.id")
        reached.append(focused)
        if focused == "compose-text":
            break
    assert reached[-1] == "compose-text", f"Tab went through {reached}"
    page.keyboard.type("typed with the keyboard only")
    page.keyboard.press("Tab")
    expect(page.locator("#compose-send")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#compose-text")).to_be_focused()
    page.keyboard.press("Enter")
    expect(stream_message(page, "typed with the keyboard only")).to_be_visible()
    expect(page.locator("#compose-text")).to_be_focused()
    # Shift+Enter is a new line, not a send; Send by keyboard (Space on the button) posts.
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(page.locator("#compose-text")).to_have_value("first line\nsecond line")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(stream_message(page, "first line second line")).to_be_visible()

    # Times read the same whether room.js added the message or the server rendered it.
    added_by_script = stream_message(page, "typed with the keyboard only").locator("time")
    shown_live = added_by_script.text_content()
    page.reload()
    expect(added_by_script).to_have_text(shown_live)


def test_error_pages(tm_server: TmServer, new_context, shot):
    page = new_context().new_page()
    response = page.goto("/no-such-room")
    assert response.status == 404
    expect(page.get_by_role("heading", name="No such room")).to_be_visible()
    expect(page.get_by_role("link", name="create a room called “no-such-room”")).to_be_visible()
    shot(page, "flow-14-error-missing-room")

    response = page.goto("/Not_A_Valid/Name")
    assert response.status == 404
    expect(page.locator(".error-card")).to_be_visible()

    tm_server.create_room("old-room")
    assert page.goto("/old-room").status == 200
    tm_server.sql("UPDATE tm_room SET expires_at = '2000-01-01 00:00:00' WHERE name = ?",
                  "old-room")
    flush_memcached()  # the server cached the live room
    response = page.goto("/old-room")
    assert response.status == 410
    expect(page.get_by_role("heading", name="This room has expired")).to_be_visible()
    shot(page, "flow-15-error-expired-room")
    response = page.goto("/old-room/embed")
    assert response.status == 410
    expect(page.get_by_role("heading", name="This room has expired")).to_be_visible()
    shot(page, "flow-16-error-expired-embed")
