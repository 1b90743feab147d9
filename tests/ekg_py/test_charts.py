"""Live charts on the push node (ekg_py/charts.py, and their routes in server.py):
updates from the collector held and fanned out, the state for a new viewer at once,
who may follow which chart."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from contract import charts, events, signing
from ekg_py.charts import ChartTable

from .support import (
    CLI_ORIGIN,
    INCARNATION,
    SECRET,
    UNIT,
    SseReader,
    delete_room,
    next_json,
    ticket,
)
from .test_rooms import RecordingSink

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def second(offset: int) -> str:
    return (NOW + timedelta(seconds=offset)).isoformat().replace("+00:00", "Z")


def hello(scope: str, history: int = 300) -> dict:
    return {"type": "hello", "scope": scope, "bucket_seconds": 10,
            "history_seconds": history, "top": 10, "attribution": "AFINN"}


def words(scope: str, *top: tuple[str, int]) -> dict:
    return {"type": "words", "scope": scope, "bucket": second(0),
            "top": [list(pair) for pair in top]}


def ticks(scope: str, *entries: tuple[int, int, float], at=None) -> dict:
    when = at or second
    return {"type": "ticks", "scope": scope,
            "ticks": [[when(offset), n, mood] for offset, n, mood in entries]}


def live_second(offset: int) -> str:
    """A second `offset` s before now: nodes keep only the last minutes of ticks."""
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=offset)
    return moment.isoformat().replace("+00:00", "Z")


def table(wall: float = 0.0) -> tuple[ChartTable, Clock]:
    wall_clock = Clock(NOW.timestamp() + wall)
    return ChartTable(clock=Clock(), wall_clock=wall_clock), wall_clock


def viewer(charts_table: ChartTable, scope: str) -> RecordingSink:
    sink = RecordingSink()
    sink.conn = charts_table.connect(scope, sink)
    return sink


def test_a_new_viewer_gets_the_state_at_once_then_each_change():
    scope = "event:sotu"
    t, _ = table(wall=10)
    t.update(scope, [hello(scope), words(scope, ("tax", 3)), ticks(scope, (1, 2, 0.5))],
             full=True)
    t.update(scope, [ticks(scope, (2, 1, -1.0))], full=False)
    first = viewer(t, scope)
    got = [m for m in first.flush() if m["type"] != "viewers"]
    assert got == [hello(scope), words(scope, ("tax", 3)),
                   ticks(scope, (1, 2, 0.5), (2, 1, -1.0))]
    t.update(scope, [words(scope, ("tax", 4), ("jobs", 1)), ticks(scope, (3, 1, 0.0))],
             full=False)
    assert first.flush()[-2:] == [words(scope, ("tax", 4), ("jobs", 1)),
                                  ticks(scope, (3, 1, 0.0))]


def test_before_any_update_a_viewer_gets_an_empty_chart_not_silence():
    t, _ = table()
    got = [m["type"] for m in viewer(t, "event:debate").flush()]
    assert got[:2] == ["hello", "ticks"]


def test_a_full_update_goes_out_only_when_it_changes_what_viewers_have():
    scope = "room:bio-101"
    t, _ = table(wall=5)
    watcher = viewer(t, scope)
    watcher.flush()
    state = [hello(scope), words(scope, ("cells", 2)), ticks(scope, (1, 2, 0.0))]
    t.update(scope, state, full=True)  # the node had none: viewers need it
    assert [m["type"] for m in watcher.flush()[-3:]] == ["hello", "words", "ticks"]
    before = len(watcher.flush())
    t.update(scope, state, full=True)  # the same again: nothing to send
    assert len(watcher.flush()) == before
    # A change the node never got (lost on the way) is repaired by the next full one.
    t.update(scope, [*state[:2], ticks(scope, (1, 2, 0.0), (2, 5, 1.0))], full=True)
    assert watcher.flush()[-1]["ticks"][-1] == [second(2), 5, 1.0]


def test_ticks_older_than_the_history_are_forgotten():
    scope = "event:sotu"
    t, wall = table()
    t.update(scope, [hello(scope, history=60), ticks(scope, (0, 1, 0.0), (30, 1, 0.0))],
             full=True)
    wall.advance(70)
    got = next(m for m in viewer(t, scope).flush() if m["type"] == "ticks")
    assert [tick[0] for tick in got["ticks"]] == [second(30)]


def test_viewer_counts_and_a_deleted_rooms_chart():
    scope = "room:chem-1"
    t, _ = table()
    one, two = viewer(t, scope), viewer(t, scope)
    assert [m["count"] for m in one.flush() if m["type"] == "viewers"] == [1]
    t.presence.clock.advance(2)
    t.tick()
    assert [m["count"] for m in one.flush() if m["type"] == "viewers"][-1] == 2
    t.forget(scope)
    assert one.flush()[-1] == {"type": "gone", "scope": scope}
    assert two.ended is not None and t.chart(scope) is None


# -- over the wire -------------------------------------------------------------------------
async def post_update(session: aiohttp.ClientSession, base: str, scope: str,
                      messages: list[dict], full: bool, path_scope: str | None = None,
                      body: bytes | None = None) -> tuple[int, dict]:
    path = f"/internal/charts/{path_scope or scope}"
    body = body if body is not None else charts.update_body(scope, messages, full=full)
    headers = {signing.HEADER: signing.sign(SECRET, "POST", path, body)}
    async with session.post(base + path, data=body, headers=headers) as answer:
        return answer.status, await answer.json(content_type=None)


def test_an_event_chart_streams_to_anyone_a_room_chart_to_its_teachers(ekg):
    asyncio.run(_follow_charts(ekg))


async def _follow_charts(ekg) -> None:
    scope = "event:sotu-charts"
    async with aiohttp.ClientSession() as session:
        recent = ticks(scope, (1, 3, 0.2), at=live_second)
        status, _ = await post_update(session, ekg.base, scope, [hello(scope), recent], True)
        assert status == 202
        async with session.ws_connect(f"{ekg.base}/ws/charts/{scope}",
                                      headers={"Origin": CLI_ORIGIN}) as ws:
            assert (await next_json(ws))["type"] == "hello"
            assert (await next_json(ws))["ticks"] == recent["ticks"]
            status, _ = await post_update(session, ekg.base, scope,
                                          [words(scope, ("tax", 1))], False)
            assert status == 202
            message = await next_json(ws)
            while message["type"] == "viewers":
                message = await next_json(ws)
            assert message == words(scope, ("tax", 1))
        async with session.get(f"{ekg.base}/sse/charts/{scope}") as response:
            assert response.status == 200
            _, first = await SseReader(response).next_event()
            assert first["type"] == "hello"

        room_scope = "room:bio-chart"
        for query, status in [("", 401), (f"?ticket={ticket('bio-chart')}", 403),
                              (f"?ticket={ticket('chem', 'moderator')}", 403),
                              (f"?ticket={ticket('bio-chart', 'viewer')}", 403)]:
            async with session.get(f"{ekg.base}/sse/charts/{room_scope}{query}") as answer:
                assert answer.status == status, (query, await answer.text())
                assert (await answer.json())["error"]["message"]
        moderator = ticket("bio-chart", "moderator")
        async with session.ws_connect(f"{ekg.base}/ws/charts/{room_scope}?ticket={moderator}"
                                      ) as ws:
            assert (await next_json(ws))["type"] == "hello"
            # The room is deleted: its teachers' live view ends with it.
            status, _ = await delete_room(session, ekg.base, "bio-chart",
                                          INCARNATION + timedelta(minutes=1))
            assert status == 200
            message = await next_json(ws, timeout=5 * UNIT)
            while message["type"] != "gone":
                message = await next_json(ws, timeout=5 * UNIT)
            closing = await ws.receive(timeout=5 * UNIT)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        async with session.get(f"{ekg.base}/sse/charts/{room_scope}?ticket={moderator}"
                               ) as answer:
            assert answer.status == 403  # a deleted room's tickets are refused


@pytest.mark.parametrize("scope", ["sotu", "event:", "event:Bad", "room:a.b", "x:y"])
def test_what_is_not_a_scope_is_404(ekg, scope):
    async def check() -> None:
        async with aiohttp.ClientSession() as session, session.get(
                f"{ekg.base}/sse/charts/{scope}") as answer:
            assert answer.status == 404
            assert (await answer.json())["error"]["code"] == "not_found"

    asyncio.run(check())


def test_bad_updates_are_400_and_change_nothing(ekg):
    asyncio.run(_bad_updates(ekg))


async def _bad_updates(ekg) -> None:
    scope = "event:bad-updates"
    bad = [
        json.dumps({"v": 1, "scope": scope, "full": False, "messages": []}).encode(),
        json.dumps({"v": 2, "scope": scope, "full": False,
                    "messages": [hello(scope)]}).encode(),
        json.dumps({"v": 1, "scope": scope, "full": "yes",
                    "messages": [hello(scope)]}).encode(),
        json.dumps({"v": 1, "scope": scope, "full": False,
                    "messages": [{"type": "ticks", "scope": scope,
                                  "ticks": [["x", "1", 0]]}]}).encode(),
        json.dumps({"v": 1, "scope": scope, "full": False,
                    "messages": [hello("event:other")]}).encode(),
        json.dumps({"v": 1, "scope": scope, "full": False,
                    "messages": [{"type": events.MESSAGE_CREATED, "scope": scope}]}).encode(),
        b"[" * 100_000,
    ]
    async with aiohttp.ClientSession() as session:
        for body in bad:
            status, answer = await post_update(session, ekg.base, scope, [], False, body=body)
            assert status == 400 and answer["error"]["code"] == "bad_chart_update", body[:80]
        status, answer = await post_update(session, ekg.base, scope, [hello(scope)], False,
                                           path_scope="event:elsewhere")
        assert status == 400 and answer["error"]["code"] == "scope_mismatch"
        async with session.get(f"{ekg.base}/healthz") as health:
            assert (await health.json())["chart_updates"] >= 0
