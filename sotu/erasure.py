"""A deleted post's words leave the counts, however long ago it was counted.

Each counted message leaves a `Trace` (sotu/buckets.py): the scopes it counted in, its
bucket and its stems. The tally keeps recent traces in memory; this module keeps every
trace in clouddb (`trace:<room>:<message id>`) for the room's life, and on
message.deleted takes the words out: from memory when the trace is still there, else
by reading the stored trace at the next flush. A trace is deleted once its words are
out and the lowered buckets are written, so a failure on the way loses nothing: the
next flush tries again.

Deletions come more than once for a post: a teacher's Hold (or students' reports)
deletes it for everyone, and a Reject deletes it again. Only the first takes words out;
an approval counts the post again, with a new trace, which the next deletion takes out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import cast

from .buckets import WORDS_DB, Tally, Trace
from .flatdb_client import FlatDB, FlatDBError, split_batches
from .scopes import trace_key, trace_prefix

log = logging.getLogger("sotu.collector")

Key = tuple[str, int]  # (room, message id): the tally's message key
PAGE = 200  # traces read or deleted per flatdb call when a room goes


class Erasures:
    def __init__(self, tally: Tally, dbs: Mapping[str, FlatDB]):
        self.tally = tally
        self.dbs = dbs  # the collector's, filled once its HTTP session is up
        # Deleted messages whose stored traces the next flush reads and uncounts.
        self.pending: set[Key] = set()
        # Messages whose words are out: their stored traces are deleted once the
        # lowered buckets are written.
        self.done: set[Key] = set()
        self.counters = {"deleted": 0, "deleted_later": 0}

    @property
    def clouddb(self) -> FlatDB:
        return self.dbs[WORDS_DB]

    def deleted(self, room: str, message_id: int) -> str:
        """message.deleted: what became of it (the collector's answer)."""
        key = (room, message_id)
        if self.tally.delete(key):
            self.done.add(key)
            self.counters["deleted"] += 1
            return "uncounted"
        if key in self.done or key in self.pending:
            return "already_uncounted"  # a Hold, then a Reject: taken out once
        self.pending.add(key)
        return "uncounting"  # its trace, if it was ever counted, is read at the flush

    async def uncount_stored(self) -> None:
        """Read the traces of pending deletions and take their words out (the flush
        then writes the lowered buckets). FlatDBError leaves them pending."""
        if not self.pending:
            return
        taken = sorted(self.pending)
        stored = await self.clouddb.get_many([trace_key(*key) for key in taken])
        for key in taken:
            self.pending.discard(key)
            trace = Trace.from_json(stored.get(trace_key(*key)))
            if trace is None:
                continue  # never counted (a held post rejected), or its room is gone
            self.tally.uncount(trace)
            self.done.add(key)
            self.counters["deleted_later"] += 1

    async def keep_traces(self, buckets_written: bool) -> None:
        """Write the traces counted since the last flush; delete those whose words are
        out, once the buckets they lowered are written (`buckets_written`).
        FlatDBError keeps both for the next flush."""
        keep = self.tally.take_traces_to_keep()
        try:
            for batch in split_batches([(trace_key(*cast(Key, key)), trace.to_json())
                                        for key, trace in keep.items()]):
                await self.clouddb.put_batch(batch)
        except FlatDBError:
            self.tally.return_traces_to_keep(keep)
            raise
        # A message counted again (approved after a Hold) has just written a new trace
        # under its key: that one stays, unless it was deleted again meanwhile.
        self.done.difference_update(cast(Key, key) for key, trace in keep.items()
                                    if self.tally.recent_trace(key) is trace)
        if not buckets_written or not self.done:
            return
        gone = sorted(self.done)
        await self.clouddb.delete([trace_key(*key) for key in gone])
        self.done.difference_update(gone)

    async def forget_room(self, room: str, before: float) -> int:
        """The room was deleted: drop its traces, in memory and those in clouddb of
        messages counted before `before`; how many stored ones went."""
        self.tally.forget_traces(lambda key: cast(Key, key)[0] == room)
        self.pending = {key for key in self.pending if key[0] != room}
        self.done = {key for key in self.done if key[0] != room}
        prefix = trace_prefix(room)
        start, stop, deleted = prefix, prefix[:-1] + ";", 0  # ';' sorts right after ':'
        while True:
            page = await self.clouddb.scan(start=start, stop=stop, limit=PAGE)
            if not page:
                return deleted
            doomed = [key for key, raw in page
                      if (trace := Trace.from_json(raw)) is None or trace.start < before]
            if doomed:
                await self.clouddb.delete(doomed)
                deleted += len(doomed)
            start = page[-1][0] + "\x00"
