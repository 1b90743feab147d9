"""The collector's live charts (sotu/charts.py): its chart updates go through a real
reflektor to a real ekg node, which serves them to a viewer; a collector that restarts
keeps the charts' history (read from flatdb once), and nothing polls flatdb."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import requests

from .support import ORIGIN, UNIT, message, past_moment, post, room_updated, start_charts_path


async def _until(ws: aiohttp.ClientWebSocketResponse, done, timeout: float) -> list[dict]:
    """Messages from `ws` until `done(messages)` holds."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while not done(got):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"not in time; got {got}"
        got.append(json.loads(await ws.receive_str(timeout=remaining)))
    return got


def _ticks_total(messages: list[dict]) -> int:
    latest: dict[str, int] = {}
    for m in messages:
        if m["type"] == "ticks":
            latest.update({t[0]: t[1] for t in m["ticks"]})
    return sum(latest.values())


def _words(messages: list[dict]) -> list:
    found = [m["top"] for m in messages if m["type"] == "words"]
    return found[-1] if found else []


def test_collector_updates_reach_a_viewer_through_reflektor_and_ekg(stores, tmp_path, name):
    collector, reflektor, ekg = start_charts_path(tmp_path, stores.clouddb.url,
                                                  stores.tickdb.url, name="charts-a")
    room = f"sotu-{name}"
    scope = "event:sotu"
    try:
        async def scenario() -> None:
            async with aiohttp.ClientSession() as session:
                ws = await session.ws_connect(f"{ekg.url}/ws/charts/{scope}",
                                              headers={"Origin": ORIGIN})
                first = await _until(ws, lambda got: any(m["type"] == "ticks" for m in got),
                                     5 * UNIT)
                assert first[0]["type"] == "hello"  # the state at once, before any post
                moment = past_moment(12)
                assert post(collector.url, room_updated(room, 1)).status_code == 202
                for seq, text in enumerate([f"{name}zebras are great", f"The {name}zebra!"], 2):
                    assert post(collector.url, message(room, seq, text, moment)).status_code == 202
                got = await _until(ws, lambda got: [f"{name}zebra", 2] in _words(got)
                                   and _ticks_total(got) >= 2, 10 * UNIT)
                assert _ticks_total(got) == 2
                await ws.close()

        asyncio.run(scenario())
        stats = requests.get(f"{collector.url}/healthz", timeout=5).json()
        assert stats["chart_updates"] >= 1 and stats["chart_update_failures"] == 0
        # The collector holds a feed per scope it wrote; ekg the state of the chart.
        health = requests.get(f"{ekg.url}/healthz", timeout=5).json()
        assert health["charts"] >= 1 and health["chart_updates"] >= 1
    finally:
        for service in (reflektor, collector, ekg):
            service.stop()


def test_a_restarted_collector_keeps_the_charts_history(stores, tmp_path, name):
    room = f"sotu-{name}"
    scope = "event:sotu"
    collector, reflektor, ekg = start_charts_path(tmp_path, stores.clouddb.url,
                                                  stores.tickdb.url, name="charts-b")
    try:
        moment = past_moment(20)
        assert post(collector.url, room_updated(room, 1)).status_code == 202
        assert post(collector.url, message(room, 2, f"{name}otters ahoy", moment)).status_code \
            == 202
        time.sleep(1.5 * UNIT)  # flushed to flatdb
        collector.stop()
        ekg.stop()  # a node that starts afresh, and a collector that does too
        collector, reflektor2, ekg = start_charts_path(tmp_path, stores.clouddb.url,
                                                       stores.tickdb.url, name="charts-c")
        reflektor.stop()
        reflektor = reflektor2
        # One new post; the chart a viewer gets has the old one too.
        assert post(collector.url, message(room, 3, f"{name}otters again",
                                           past_moment(15))).status_code == 202

        async def scenario() -> None:
            async with aiohttp.ClientSession() as session:
                ws = await session.ws_connect(f"{ekg.url}/ws/charts/{scope}",
                                              headers={"Origin": ORIGIN})
                got = await _until(ws, lambda got: [f"{name}otter", 2] in _words(got)
                                   or _ticks_total(got) >= 2 and any(
                                       f"{name}otter" in json.dumps(m) for m in got),
                                   10 * UNIT)
                assert _ticks_total(got) >= 2, got
                await ws.close()

        asyncio.run(scenario())
    finally:
        for service in (reflektor, collector, ekg):
            service.stop()
