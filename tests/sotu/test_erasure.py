"""A deleted post's words leave the counts (sotu/erasure.py), through the ways a post
is deleted more than once, counted again, or deleted while flatdb fails: an in-process
collector (its flushes called by the test) against real flatdb processes."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sotu.collector import Collector, Config

from .support import (
    bucket_of,
    deleted,
    message,
    past_moment,
    room_updated,
    scan,
    start_flatdb,
    stored,
)

ROOM = "erase-me"
SCOPE = f"room:{ROOM}"


class Run:
    """A collector made in the test: events in, flushes when the test says."""

    def __init__(self, stores):
        self.stores = stores
        self.collector = Collector(Config(secret="s", clouddb=stores.clouddb.url,
                                          tickdb=stores.tickdb.url))
        self.seq = 0

    async def __aenter__(self) -> Run:
        await self.collector.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.collector.close()

    async def send(self, make, *args, **kwargs) -> str:
        self.seq += 1
        return await self.collector.handle(make(ROOM, self.seq, *args, **kwargs))

    async def post(self, text: str, moment: datetime, message_id: int) -> str:
        return await self.send(message, text, moment, message_id=message_id)

    async def delete(self, message_id: int) -> str:
        return await self.send(deleted, message_id)

    async def flush(self) -> bool:
        return await self.collector.flush(force=True)


def counts(stores, moment: datetime):
    return stored(stores.clouddb.url, f"{SCOPE}:{bucket_of(moment)}")


def traces(stores) -> set[str]:
    return set(scan(stores.clouddb.url, f"trace:{ROOM}:"))


def test_a_hold_then_a_reject_takes_the_words_out_once(own_stores):
    moment = past_moment(30)

    async def scenario():
        async with Run(own_stores) as run:
            await run.send(room_updated, analytics=True)
            for message_id in (1, 2, 3):
                assert await run.post("pizza", moment, message_id) == "counted"
            assert await run.flush()
            assert counts(own_stores, moment) == {"pizza": 3}
            assert traces(own_stores) == {f"trace:{ROOM}:{n}" for n in (1, 2, 3)}
            # In memory: the Hold takes it out, the Reject finds nothing more to do.
            assert await run.delete(1) == "uncounted"
            assert await run.delete(1) == "already_uncounted"
            assert await run.flush()
            assert counts(own_stores, moment) == {"pizza": 2}
        async with Run(own_stores) as later:  # restarted: only clouddb has the traces
            assert await later.delete(2) == "uncounting"
            assert await later.delete(2) == "already_uncounted"
            assert await later.flush()
            assert counts(own_stores, moment) == {"pizza": 1}
            assert await later.delete(2) == "uncounting"  # its trace is gone: nothing
            assert await later.flush()
            assert counts(own_stores, moment) == {"pizza": 1}
            assert traces(own_stores) == {f"trace:{ROOM}:3"}

    asyncio.run(scenario())


def test_approved_after_a_hold_it_counts_again_and_its_new_trace_stays(own_stores):
    moment = past_moment(30)

    async def scenario():
        async with Run(own_stores) as run:
            await run.send(room_updated, analytics=True)
            await run.post("volcano", moment, 7)
            assert await run.flush()
            assert await run.delete(7) == "uncounted"       # held
            assert await run.post("volcano", moment, 7) == "counted"  # approved
            assert await run.flush()
            assert counts(own_stores, moment) == {"volcano": 1}
            assert traces(own_stores) == {f"trace:{ROOM}:7"}
        async with Run(own_stores) as later:
            assert await later.delete(7) == "uncounting"    # rejected, much later
            assert await later.flush()
            assert counts(own_stores, moment) == {}
            assert traces(own_stores) == set()

    asyncio.run(scenario())


def test_a_deletion_while_clouddb_is_down_waits_and_loses_nothing(own_stores, tmp_path):
    moment = past_moment(30)

    async def scenario():
        async with Run(own_stores) as run:
            await run.send(room_updated, analytics=True)
            await run.post("glacier", moment, 1)
            await run.post("glacier", moment, 2)
            assert await run.flush()
        async with Run(own_stores) as later:
            port = own_stores.clouddb.port
            own_stores.clouddb.stop()
            assert await later.delete(1) == "uncounting"
            assert not await later.flush()                 # the trace cannot be read
            assert not await later.flush()
            own_stores.clouddb = start_flatdb("clouddb-again", tmp_path / "clouddb",
                                              tmp_path, port=port)
            assert traces(own_stores) == {f"trace:{ROOM}:1", f"trace:{ROOM}:2"}
            assert await later.flush()
            assert counts(own_stores, moment) == {"glacier": 1}
            assert traces(own_stores) == {f"trace:{ROOM}:2"}

    asyncio.run(scenario())


def test_a_trace_not_yet_written_still_takes_the_words_out(own_stores):
    """Evicted from the recent traces before any flush (a burst while clouddb is
    slow): the trace waiting to be written is the one used."""
    moment = past_moment(30)

    async def scenario():
        async with Run(own_stores) as run:
            run.collector.tally.max_recent = 2
            await run.send(room_updated, analytics=True)
            for message_id, text in enumerate(["comet", "comet", "orbit", "orbit"], 1):
                await run.post(text, moment, message_id)
            assert await run.delete(1) == "uncounted"
            assert await run.flush()
            assert counts(own_stores, moment) == {"comet": 1, "orbit": 2}
            assert traces(own_stores) == {f"trace:{ROOM}:{n}" for n in (2, 3, 4)}

    asyncio.run(scenario())


def test_a_deleted_room_leaves_no_trace_even_unwritten_or_many(own_stores):
    moment = past_moment(30)

    async def scenario():
        async with Run(own_stores) as run:
            await run.send(room_updated, analytics=True)
            for message_id in range(1, 451):  # more than one page of traces
                await run.post(f"word{message_id % 7}", moment, message_id)
            assert await run.flush()
            assert len(traces(own_stores)) == 450
            await run.post("unflushed", moment, 451)  # counted, its trace not written
            answer = await run.collector.purge_room(ROOM, datetime.now().astimezone()
                                                    .isoformat())
            assert answer["deleted_traces"] == 450
            assert await run.flush()
            assert traces(own_stores) == set()
            assert scan(own_stores.clouddb.url, f"{SCOPE}:") == {}

    asyncio.run(scenario())


def test_a_trace_stays_until_every_bucket_it_lowered_is_written(own_stores, tmp_path):
    moment = past_moment(30)

    async def scenario():
        async with Run(own_stores) as run:
            await run.send(room_updated, analytics=True)
            await run.post("tundra", moment, 1)
            assert await run.flush()
            port = own_stores.tickdb.port
            own_stores.tickdb.stop()
            assert await run.delete(1) == "uncounted"
            await run.post("taiga", moment, 2)              # a tick to write: it fails
            assert not await run.flush()
            assert traces(own_stores) == {f"trace:{ROOM}:1", f"trace:{ROOM}:2"}
            own_stores.tickdb = start_flatdb("tickdb-again", tmp_path / "tickdb",
                                             tmp_path, port=port)
            assert await run.flush()
            assert traces(own_stores) == {f"trace:{ROOM}:2"}
            assert counts(own_stores, moment) == {"taiga": 1}

    asyncio.run(scenario())
