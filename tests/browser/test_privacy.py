"""Every page a teacher and a student meet, in Chromium, with every request and cookie
recorded: no page asks another origin for anything (no fonts, scripts, images or
beacons elsewhere), and the only cookies are the functional ones docs/privacy.md lists:
the room's participant and owner tokens, the teacher's session, the CSRF token and the
one-time notices. Also: the join form's privacy notice and the /privacy page."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .conftest import TmServer
from .test_flow import create_room_from_home, join_room, send, sign_up, stream_message

pytestmark = pytest.mark.browser

FUNCTIONAL_COOKIES = re.compile(r"^(csrftoken|sessionid|messages|tm_p_[a-z0-9-]+|"
                                r"tm_o_[a-z0-9-]+|tm_m_[a-z0-9-]+|tm_ml_[a-z0-9-]+)$")
HTTP_ONLY = re.compile(r"^(sessionid|tm_p_.*|tm_o_.*|tm_m_.*|tm_ml_.*)$")


class Recorder:
    """Every request the context's pages make, by URL."""

    def __init__(self, context: BrowserContext):
        self.urls: list[str] = []
        context.on("request", lambda request: self.urls.append(request.url))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def assert_only_functional_cookies(context: BrowserContext, host: str) -> None:
    for cookie in context.cookies():
        assert FUNCTIONAL_COOKIES.match(cookie["name"]), cookie
        assert cookie["domain"] == host, cookie
        if HTTP_ONLY.match(cookie["name"]):
            assert cookie["httpOnly"], cookie


def test_no_page_asks_another_origin_and_cookies_are_functional(
        tm_server: TmServer, new_context, shot):
    teacher_context = new_context()
    student_context = new_context()
    # A teacher without an account, and their phone opening the moderator link.
    creator_context, phone_context = new_context(), new_context()
    contexts = [teacher_context, student_context, creator_context, phone_context]
    recorders = [Recorder(context) for context in contexts]
    teacher, student = teacher_context.new_page(), student_context.new_page()
    creator, phone = creator_context.new_page(), phone_context.new_page()
    create_room_from_home(creator, "priv-102", "No account", moderated=False)
    phone.goto(creator.locator("#new-link-url").input_value())
    expect(phone.locator("h1")).to_have_text("Moderate priv-102")

    sign_up(teacher, "privacy-teacher")
    create_room_from_home(teacher, "priv-101", "Privacy", moderated=False)
    join_room(student, "priv-101", "Ann")
    send(student, "Hello https://example.org/a-link")
    expect(stream_message(student, "Hello")).to_be_visible()
    pages: list[tuple[Page, str]] = [
        (teacher, "/"), (teacher, "/priv-101/moderate"), (teacher, "/priv-101/projector"),
        (teacher, "/priv-101/read"), (teacher, "/priv-101/transcript"),
        (teacher, "/dashboard/"), (teacher, "/privacy"), (teacher, "/accounts/delete/"),
        (student, "/priv-101"), (student, "/priv-101/embed"), (student, "/privacy"),
        (student, "/accounts/login/"), (student, "/accounts/signup/"), (student, "/nope-404"),
    ]
    for page, path in pages:
        page.goto(path)
        page.wait_for_load_state("networkidle")
    # The student leaves: the notice, the cookie's end.
    student.goto("/priv-101")
    student.get_by_text("Leave this room").click()
    student.get_by_role("button", name="Leave and delete my posts").click()
    expect(student.locator(".notice")).to_contain_text("You left priv-101")
    expect(student.locator("#join-privacy")).to_contain_text("until the room ends")
    shot(student, "privacy-01-join-notice", full_page=False)
    student.goto("/privacy")
    shot(student, "privacy-02-notice")

    ours = origin(tm_server.url)
    asked = [url for recorder in recorders for url in recorder.urls]
    assert len(asked) > 30
    elsewhere = [url for url in asked if origin(url) != ours]
    assert elsewhere == [], elsewhere
    host = urlsplit(tm_server.url).hostname
    for context in contexts:
        assert_only_functional_cookies(context, host)
    assert "tm_m_priv-102" in {c["name"] for c in phone_context.cookies()}
    assert "tm_ml_priv-102" not in {c["name"] for c in creator_context.cookies()}  # shown
    names = {c["name"] for c in student_context.cookies()}
    assert "tm_p_priv-101" not in names  # gone when she left
    assert {"sessionid", "csrftoken"} <= {c["name"] for c in teacher_context.cookies()}
