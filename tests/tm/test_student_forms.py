"""The students' forms without JavaScript (tm/pages.py): report a post, delete one's
own, leave the room. Each needs the room's participant cookie and the CSRF token;
bad input is a friendly error page, never a 500."""

import pytest
from django.test import Client

from tm.models import Message, Participant, Report

from .apicheck import CSRF_SECRET

MESSAGES = "/api/v1/rooms/bio-101/messages"


@pytest.fixture
def pupils(room, join):
    ann, bo = join("bio-101", "Ann"), join("bio-101", "Bo")
    ids = {name: client.post(MESSAGES, {"text": f"from {name}"}).json()["id"]
           for name, client in (("ann", ann), ("bo", bo))}
    return ann, bo, ids


def browser_of(student, csrf: bool = True) -> Client:
    """A browser holding the student's cookie (and the CSRF cookie its forms carry)."""
    client = Client(enforce_csrf_checks=True)
    client.cookies["tm_p_bio-101"] = student.token
    if csrf:
        client.cookies["csrftoken"] = CSRF_SECRET
    return client


def form(client: Client, path: str, data: dict):
    return client.post(path, {**data, "csrfmiddlewaretoken": CSRF_SECRET})


def test_report_and_delete_own_by_form(pupils):
    ann, bo, ids = pupils
    browser = browser_of(bo)
    reported = form(browser, "/bio-101/report", {"message": ids["ann"]})
    assert reported.status_code == 302 and reported["Location"] == "/bio-101"
    assert Report.objects.filter(message_id=ids["ann"]).count() == 1
    deleted = form(browser, "/bio-101/delete", {"message": ids["bo"]})
    assert deleted.status_code == 302
    assert Message.objects.get(pk=ids["bo"]).status == "deleted"
    page = browser.get("/bio-101").content.decode()
    assert "Your post is deleted, for everyone." in page


@pytest.mark.parametrize("path, data, status", [
    ("/bio-101/delete", {"message": "ann"}, 403),  # someone else's post
    ("/bio-101/report", {"message": "bo"}, 400),  # one's own
    ("/bio-101/report", {"message": "abc"}, 400),
    ("/bio-101/delete", {"message": ""}, 400),
    ("/bio-101/report", {"message": "99999999"}, 404),
])
def test_bad_forms_are_friendly_error_pages(pupils, path, data, status):
    _, bo, ids = pupils
    message = ids.get(data["message"], data["message"])
    response = form(browser_of(bo), path, {"message": message})
    assert response.status_code == status
    assert b"<html" in response.content


def test_the_forms_need_the_cookie_and_the_csrf_token(pupils):
    ann, bo, ids = pupils
    stranger = Client(enforce_csrf_checks=True)
    assert form(stranger, "/bio-101/report", {"message": ids["ann"]}).status_code == 403
    stranger.cookies["csrftoken"] = CSRF_SECRET  # not joined: back to the join form
    back = form(stranger, "/bio-101/report", {"message": ids["ann"]})
    assert back.status_code == 302 and back["Location"] == "/bio-101"
    forged = browser_of(bo, csrf=False).post("/bio-101/leave")
    assert forged.status_code == 403
    assert Participant.objects.filter(nickname="Bo").exists()
    assert not Report.objects.exists()
