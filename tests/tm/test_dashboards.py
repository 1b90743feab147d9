"""The analytics pages: the event dashboard and a teacher's own room charts."""

import json
import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _charts_config(html: str) -> dict:
    match = re.search(r'<script id="tm-charts" type="application/json">(.*?)</script>', html)
    assert match, "no charts config on the page"
    return json.loads(match.group(1))


def test_the_event_dashboard_follows_the_event_scope_on_the_push_nodes(settings):
    settings.TM_PUSH_URLS = ["http://127.0.0.1:8200", "http://127.0.0.1:8201"]
    response = Client().get("/events/SOTU")
    assert response.status_code == 200
    html = response.content.decode()
    assert _charts_config(html) == {"push_urls": ["http://127.0.0.1:8200",
                                                  "http://127.0.0.1:8201"],
                                    "scope": "event:sotu", "follow": None,
                                    "ticket_api": None}
    assert 'action="/join"' in html
    assert "<iframe" not in html


def test_the_event_video_is_embedded_and_allowed_by_the_policy(settings):
    settings.TM_EVENT_VIDEOS = {"sotu": "https://www.youtube-nocookie.com/embed/abc"}
    response = Client().get("/events/sotu")
    assert 'src="https://www.youtube-nocookie.com/embed/abc"' in response.content.decode()
    policy = response["Content-Security-Policy"]
    assert "https://www.youtube-nocookie.com" in re.search(r"frame-src [^;]*", policy).group(0)
    other = Client().get("/events/debate")
    assert "frame-src 'none'" in other["Content-Security-Policy"]


@pytest.mark.parametrize("bad", ["bad name", "-x", "x" * 41])
def test_bad_event_names_are_404(bad):
    assert Client().get(f"/events/{bad}").status_code == 404


def test_a_teacher_sees_their_rooms_charts_only_when_analytics_is_on(make_room, settings):
    settings.TM_PUSH_URLS = ["http://127.0.0.1:8200"]
    body, key = make_room("chem-1")
    teacher = Client()
    teacher.cookies["tm_o_chem-1"] = key
    assert 'id="tm-charts"' not in teacher.get("/chem-1/moderate").content.decode()
    make_room("chem-2", analytics=True)
    body, key = make_room("chem-3", analytics=True)
    teacher.cookies["tm_o_chem-3"] = key
    config = _charts_config(teacher.get("/chem-3/moderate").content.decode())
    assert config["scope"] == "room:chem-3"
    from contract import signing
    ticket, why = signing.check_follow_ticket(settings.TM_INTERNAL_SECRET,
                                              config["follow"]["ticket"], "chem-3")
    assert ticket is not None and ticket.moderator, why
    assert config["ticket_api"] == "/api/v1/rooms/chem-3/ticket"
