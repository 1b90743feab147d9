"""Posts through tm -> reflektor -> collector -> flatdb, and the collector's chart updates
-> reflektor -> ekg -> a client, with the expected word counts and sentiment."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import requests

from testkit.timing import TIME_SCALE
from tests.support.analytics_stack import AnalyticsStack, running_analytics


@pytest.fixture(scope="module")
def analytics(tmp_path_factory):
    with running_analytics(tmp_path_factory.mktemp("analytics")) as stack:
        yield stack


POSTS = ["The economy is great", "Great speech about the economy", "Healthcare is terrible"]


def _post_all(stack: AnalyticsStack, room: str) -> None:
    stack.tm.create_room(room)
    student = stack.tm.join(room, "ann")
    for text in POSTS:
        stack.tm.post(student, room, text)


def _range(db_url: str, prefix: str) -> list[dict]:
    response = requests.get(f"{db_url}/v1/range", params={"prefix": prefix}, timeout=5)
    response.raise_for_status()
    return [{"key": item["key"], **json.loads(item["value"])} for item in response.json()]


def test_posts_become_word_counts_and_ticks_that_the_push_node_streams(analytics):
    from testkit.timing import wait_until

    _post_all(analytics, "sotu-bio")

    def words():
        merged: dict[str, int] = {}
        for bucket in _range(analytics.clouddb.url, "event:sotu:"):
            for word, count in bucket.items():
                if word != "key":
                    merged[word] = merged.get(word, 0) + count
        return merged if merged.get("economy") == 2 and merged.get("healthcare") else None

    counted = wait_until(words, timeout=15, message="word counts never reached clouddb")
    assert counted["economy"] == 2 and counted["great"] == 2 and counted["healthcare"] == 1
    assert "the" not in counted and "is" not in counted  # stopwords

    ticks = wait_until(lambda: _range(analytics.tickdb.url, "event:sotu:"), timeout=15)
    assert sum(t["n"] for t in ticks) == 3
    # AFINN-165: great = 3, terrible = -3; so the mean over the three posts is (3+3-3)/3.
    weighted = sum(t["n"] * t["sentiment"] for t in ticks) / 3
    assert weighted == pytest.approx(1.0)

    async def watch() -> list[dict]:
        got: list[dict] = []
        origin = {"Origin": analytics.tm.url}
        async with aiohttp.ClientSession() as session, session.ws_connect(
                f"{analytics.ekg.url}/ws/charts/event:sotu", headers=origin) as ws:
            deadline = asyncio.get_running_loop().time() + 10 * TIME_SCALE
            while asyncio.get_running_loop().time() < deadline:
                message = json.loads(await ws.receive_str(timeout=10 * TIME_SCALE))
                got.append(message)
                kinds = {m["type"] for m in got}
                if {"words", "ticks", "viewers"} <= kinds and sum(
                        t[1] for m in got if m["type"] == "ticks" for t in m["ticks"]) >= 3:
                    break
        return got

    messages = asyncio.run(watch())
    words_message = next(m for m in messages if m["type"] == "words")
    top = dict(words_message["top"])
    assert top.get("economy") == 2 or top.get("great") == 2
    assert next(m for m in messages if m["type"] == "viewers")["count"] == 1
    latest: dict[str, int] = {}  # viewers replace ticks by second
    for message in messages:
        if message["type"] == "ticks":
            latest.update({t[0]: t[1] for t in message["ticks"]})
    assert sum(latest.values()) == 3


def test_a_room_outside_every_event_counts_only_where_its_teacher_asked(analytics):
    from testkit.timing import wait_until

    analytics.tm.create_room("quiet-room", event_scope="")
    charts, owner = analytics.tm.create_room("charted-room", event_scope="", analytics=True)
    for room in ("quiet-room", "charted-room"):
        student = analytics.tm.join(room, "bo")
        analytics.tm.post(student, room, "photosynthesis rocks")
    wait_until(lambda: _range(analytics.clouddb.url, "room:charted-room:"), timeout=15)
    assert _range(analytics.clouddb.url, "room:quiet-room:") == []
    assert not any("photosynthesis" in json.dumps(b)
                   for b in _range(analytics.clouddb.url, "event:"))


def test_a_rooms_chart_needs_the_teachers_ticket(analytics):
    url = f"{analytics.ekg.url}/sse/charts/room:charted-room"
    origin = {"Origin": analytics.tm.url}
    without = requests.get(url, headers=origin, timeout=5, stream=True)
    assert without.status_code == 401
    without.close()
    # A student's ticket (what the room's page hands a participant) is not enough.
    student = analytics.tm.join("charted-room", "cy")
    ticket = student.post(f"{analytics.tm.url}/api/v1/rooms/charted-room/ticket").json()[
        "ticket"]
    refused = requests.get(f"{url}?ticket={ticket}", headers=origin, timeout=5, stream=True)
    assert refused.status_code == 403
    refused.close()
