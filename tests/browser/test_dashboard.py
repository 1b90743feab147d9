"""The event dashboard in Chromium, fed by the real analytics path (tm -> reflektor ->
collector -> flatdb; chart updates -> ekg): top words appear as bars, the charts draw, the viewer
count shows; and a teacher's room with analytics on gets the same charts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.support.analytics_stack import AnalyticsStack, running_analytics

from .conftest import DESKTOP, PHONE, UNIT_MS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def analytics(tmp_path_factory) -> Iterator[AnalyticsStack]:
    with running_analytics(tmp_path_factory.mktemp("dashboard")) as stack:
        yield stack


def test_the_event_dashboard_draws_live_words_volume_and_mood(browser: Browser,
                                                              analytics: AnalyticsStack, shot):
    context = browser.new_context(base_url=analytics.tm.url, viewport=DESKTOP)
    page = context.new_page()
    page.goto("/events/sotu")
    expect(page.locator(".chart-status")).to_have_text("Live", timeout=10 * UNIT_MS)
    expect(page.locator(".chart-empty")).to_be_visible()

    analytics.tm.create_room("sotu-civics")
    student = analytics.tm.join("sotu-civics", "ann")
    for text in ("Jobs and the economy", "A great plan for jobs", "Terrible on healthcare"):
        analytics.tm.post(student, "sotu-civics", text)

    bars = page.locator(".word-bars li")
    expect(bars.first).to_contain_text("jobs", timeout=15 * UNIT_MS)
    expect(bars.first).to_contain_text("2")
    expect(page.locator(".chart-empty")).to_be_hidden()
    expect(page.locator(".chart-viewers")).to_have_text("1 viewer")
    expect(page.locator(".chart-summary")).to_contain_text("Mood over the last 30 seconds")
    assert page.locator(".chart-volume canvas").count() == 1
    assert page.locator(".chart-sentiment canvas").count() == 1
    shot(page, "dashboard-01-event")
    page.set_viewport_size(PHONE)
    shot(page, "dashboard-02-event-phone")
    context.close()


def test_a_teacher_sees_their_own_rooms_charts(browser: Browser, analytics: AnalyticsStack,
                                               shot):
    body, owner = analytics.tm.create_room("bio-charts", analytics=True)
    context = browser.new_context(base_url=analytics.tm.url, viewport=DESKTOP)
    context.add_cookies([{"name": "tm_o_bio-charts", "value": body["owner_key"],
                          "url": analytics.tm.url}])
    page = context.new_page()
    page.goto("/bio-charts/moderate")
    expect(page.locator(".chart-status")).to_have_text("Live", timeout=10 * UNIT_MS)
    student = analytics.tm.join("bio-charts", "bo")
    analytics.tm.post(student, "bio-charts", "Mitochondria mitochondria everywhere")
    expect(page.locator(".word-bars li").first).to_contain_text("mitochondria",
                                                               timeout=15 * UNIT_MS)
    shot(page, "dashboard-03-teacher-room")
    context.close()
