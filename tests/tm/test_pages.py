"""Pages answer with the right status, headers and escaping (the browser tests look
at them for real; these pin what the server sends)."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from waffle.models import Flag

from tm.models import Room

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser():
    return Client()


def _csp(response):
    return response["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/", "/bio-101", "/bio-101/projector", "/bio-101/read",
                                  "/bio-101/transcript", "/accounts/login/"])
def test_pages_send_a_strict_content_security_policy(room, browser, path):
    response = browser.get(path)
    assert response.status_code == 200
    policy = _csp(response)
    assert "script-src 'self'" in policy
    assert "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"


def test_the_embed_may_be_framed_by_the_rooms_allowed_origins_only(make_room, browser):
    make_room("lms-room", allowed_origins=["https://canvas.example.edu"])
    response = browser.get("/lms-room/embed")
    assert response.status_code == 200
    assert "frame-ancestors 'self' https://canvas.example.edu" in _csp(response)
    assert "X-Frame-Options" not in response


def test_the_embed_can_be_switched_off_with_its_flag(room, browser):
    Flag.objects.filter(name="embed_view").update(everyone=False)
    assert browser.get("/bio-101/embed").status_code == 404


def test_room_names_in_urls_are_case_insensitive(room, browser):
    response = browser.get("/BIO-101/projector?x=1")
    assert response.status_code == 302
    assert response["Location"] == "/bio-101/projector?x=1"


def test_missing_and_expired_rooms_get_friendly_pages(room, browser):
    missing = browser.get("/no-such-room")
    assert missing.status_code == 404
    assert b"create a room called" in missing.content
    Room.objects.filter(name="bio-101").update(expires_at=timezone.now() - timedelta(seconds=1))
    Room.objects.get(name="bio-101").flush_cache()
    expired = browser.get("/bio-101")
    assert expired.status_code == 410
    assert b"This room has expired" in expired.content


def test_user_text_is_escaped_in_pages(make_room, join, browser):
    make_room("xss", topic="<script>alert(1)</script>")
    mallory = join("xss", "<b>mal</b>")
    assert mallory.post("/api/v1/rooms/xss/messages",
                        {"text": "<img src=x onerror=alert(1)>"}).status_code == 201
    for path in ("/xss", "/xss/projector", "/xss/read", "/xss/transcript", "/xss/embed"):
        html = browser.get(path).content.decode()
        assert "<script>alert(1)" not in html, path
        assert "<img src=x" not in html, path
        assert "<b>mal</b>" not in html, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, path


def test_transcripts_download_as_text_and_formula_safe_csv(room, join, browser):
    ann = join("bio-101", "=HYPERLINK()")
    for text in ("first", "=cmd|' /C calc'!A0", "héllo, \"world\""):
        assert ann.post("/api/v1/rooms/bio-101/messages", {"text": text}).status_code == 201
    text = browser.get("/bio-101/transcript.txt")
    assert text["Content-Type"] == "text/plain; charset=utf-8"
    assert "attachment" in text["Content-Disposition"]
    assert "=HYPERLINK(): first" in text.content.decode()
    response = browser.get("/bio-101/transcript.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["seq", "time_utc", "nickname", "text", "by_teacher"]
    assert [r[3] for r in rows[1:]] == ["first", "'=cmd|' /C calc'!A0", 'héllo, "world"']
    assert {r[2] for r in rows[1:]} == {"'=HYPERLINK()"}


def test_real_names_show_only_in_the_teachers_transcript(make_room, join, browser):
    body, owner_key = make_room("acct", accountable=True)
    ann = join("acct", "ann", real_name="Ann Smith")
    ann.post("/api/v1/rooms/acct/messages", {"text": "hi"})
    assert b"Ann Smith" not in browser.get("/acct/transcript").content
    assert b"Ann Smith" not in browser.get("/acct/transcript.csv").content
    teacher = Client()
    teacher.cookies["tm_o_acct"] = owner_key
    assert b"Ann Smith" in teacher.get("/acct/transcript").content
    assert b"Ann Smith" in teacher.get("/acct/transcript.csv").content


def test_password_rooms_are_private_except_through_the_share_link(make_room, browser):
    from tm.auth import share_key

    make_room("secret", password="hunter2")
    assert browser.get("/secret/read").status_code == 403
    assert browser.get("/secret/transcript").status_code == 403
    key = share_key(Room.objects.get(name="secret"))
    assert browser.get(f"/secret/read?key={key}").status_code == 200
    assert browser.get(f"/secret/read?key={key}x").status_code == 403


def test_the_qr_code_is_an_svg_of_the_room_link(room, browser):
    response = browser.get("/bio-101/qr.svg")
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")


def test_forms_need_csrf():
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/", {"name": "no-csrf", "lifetime": "3600"})
    assert response.status_code == 403
    assert not Room.objects.filter(name="no-csrf").exists()


def test_create_room_form_reports_errors_and_keeps_input(browser):
    response = browser.post("/", {"name": "bad name!", "topic": "keep me", "lifetime": "3600"})
    assert response.status_code == 400
    assert b"keep me" in response.content
    assert not Room.objects.exists()
    response = browser.post("/", {"name": "good-name", "lifetime": "3600", "moderated": "on"})
    assert response.status_code == 302
    assert Room.objects.get(name="good-name").moderated


def test_the_teacher_gets_a_post_here_card_and_needs_no_room_password(make_room, browser):
    _, owner_key = make_room("quiz", password="hunter2", accountable=True)
    student_page = browser.get("/quiz").content.decode()
    assert "Join quiz" in student_page and 'name="password"' in student_page
    teacher = Client()
    teacher.cookies["tm_o_quiz"] = owner_key
    page = teacher.get("/quiz").content.decode()
    assert "Post in quiz" in page and "You moderate this room" in page
    assert 'name="password"' not in page
    assert 'value="Teacher"' in page
    joined = teacher.post("/quiz", {"nickname": "Teacher", "real_name": "Ms Rivera"})
    assert joined.status_code == 302, joined.content
    after = teacher.get("/quiz").content.decode()
    assert 'id="compose"' in after and "Post in quiz" not in after
    # A student without the password still cannot join.
    refused = browser.post("/quiz", {"nickname": "ann", "real_name": "Ann"})
    assert refused.status_code == 400
    assert "ask your teacher for the room&#x27;s password" in refused.content.decode()
