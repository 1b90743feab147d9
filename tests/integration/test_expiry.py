"""A room's end, as the running system meets it: its lifetime runs out, the scheduled
purge (as `make run` runs it) deletes it, and within a minute, with no command typed,
every service has let it go: the push node ends its streams and refuses its tickets,
the API answers 410. The name can then be taken again, by another room."""

from __future__ import annotations

import asyncio
import subprocess
import time

import aiohttp

from testkit.pages import Page
from testkit.services import PYTHON, ROOT
from tests.support.stack import Stack

from .helpers import UNIT, Api, converged, eventually, follow, stop_all


def run(coro):
    return asyncio.run(coro)


async def health(session: aiohttp.ClientSession, stack: Stack) -> dict:
    async with session.get(f"{stack.ekg_url}/healthz") as response:
        return await response.json()


def test_an_expired_room_is_gone_from_every_service_within_a_minute(stack: Stack, room_name,
                                                                     tmp_path):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            api = Api(session, stack)
            await api.create_room(room_name, lifetime=3600)
            student = await api.join(room_name, "ann")
            clients = await follow(stack, room_name, ws=2, sse=1, moderators=1,
                                   periodic_check=False)
            joined = Page(stack.tm_url, stack.ekg_url, room_name,
                                name="student", auth=student, periodic_check=False)
            await joined.start()
            await joined.settled()
            clients.append(joined)
            await api.posted(room_name, student, "said before the end")
            await converged(api, room_name, clients)
            old_ticket = clients[0].ticket
            ended_before = (await health(session, stack))["streams_ended"]

            # The lifetime runs out. Nobody types a command: the purge runs on its own.
            stack.tm.sql("UPDATE tm_room SET expires_at = '2000-01-01 00:00:00' "
                         "WHERE name = ?", room_name)
            log_path = tmp_path / "purge.log"
            with log_path.open("w") as log:
                purge = subprocess.Popen(
                    [PYTHON, "manage.py", "purge_expired_rooms", "--every", "1"], cwd=ROOT,
                    env=stack.tm.env, stdout=log, stderr=subprocess.STDOUT)
            started = time.monotonic()
            try:
                await eventually(lambda: all(client.gone for client in clients),
                                 timeout=60 * UNIT, message="a client still follows the room")
            finally:
                purge.terminate()
                assert purge.wait(timeout=10) == 0, log_path.read_text()
            took = time.monotonic() - started
            assert took < 60, took
            assert f"deleted 1 expired room(s): {room_name}" in log_path.read_text()
            assert all(client.stats["gone"] == 1 for client in clients)
            assert (await health(session, stack))["streams_ended"] - ended_before == 5

            # tm: the room has ended (410), for its pages, its history and its tickets.
            for method, path in [("GET", ""), ("GET", "/messages"), ("POST", "/ticket")]:
                status, body = await api.call(method, f"/rooms/{room_name}{path}")
                assert (status, body["error"]["code"]) == (410, "room_ended"), path
            async with session.get(f"{stack.tm_url}/{room_name}") as page:
                assert page.status == 410
            # The push node: the ended room's tickets open nothing any more.
            async with session.get(f"{stack.ekg_url}/sse/{room_name}",
                                   params={"ticket": old_ticket, "after": "0"}) as refused:
                assert refused.status == 403

            # The name taken again is another room: its followers see only its posts.
            await api.create_room(room_name, lifetime=3600)
            newcomer = await api.join(room_name, "bo")
            fresh = await follow(stack, room_name, ws=1, sse=1, periodic_check=False)
            await api.posted(room_name, newcomer, "a new room")
            history = await converged(api, room_name, fresh)
            assert [text for _, _, text in history] == ["a new room"]
            assert all("said before the end" not in c.seen_texts for c in fresh)
            await stop_all(clients + fresh)

    run(scenario())
