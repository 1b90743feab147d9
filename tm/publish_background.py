"""The sends a request leaves behind, made by one thread per process after its answer.

A request's events go to reflektor once its answer is out (tm/publish.py). Made by the
request's own worker, a reflektor that accepts connections and never answers would hold
that worker for the whole timeout on every post (a gunicorn sync worker serves nothing
meanwhile: 15 posts a second instead of 96). Handed to this thread instead, they wait in
a bounded queue, in order, and the worker takes its next request at once. What the
queue cannot hold is left to the outbox relay, which re-sends every event no reflektor
took; so is whatever is queued when the process dies.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable

from django.db import connections

log = logging.getLogger("tm.publish")

MAX_WAITING = 2000  # sends; about 20 s of a busy site's events
# The thread's own database connection is closed after this long without a send: an
# idle worker holds no second connection (PostgreSQL counts them), a busy one keeps it.
IDLE_SECONDS = 5.0

Send = Callable[[], object]


class Background:
    def __init__(self, max_waiting: int = MAX_WAITING):
        self.max_waiting = max_waiting
        self._lock = threading.Lock()
        self._queue: queue.Queue[Send] | None = None
        self._pid: int | None = None
        self.dropped = 0  # sends the full queue turned away (the relay has them)

    def submit(self, send: Send) -> None:
        """Queue one send; never blocks."""
        try:
            self._started().put_nowait(send)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("publish queue full (%d dropped so far): the outbox relay "
                            "sends those events", self.dropped)

    def release(self, timeout: float = 10.0) -> bool:
        """Finish what is queued, then close the thread's database connection now
        (before a test database is dropped, say)."""
        if self._queue is None:
            return True
        self.submit(connections.close_all)
        return self.wait_idle(timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Every queued send is done (tests; a clean shutdown). False on time-out."""
        waiting = self._queue
        if waiting is None:
            return True
        done = threading.Event()
        waiting.put(done.set)
        return done.wait(timeout)

    def _started(self) -> queue.Queue[Send]:
        # Started on first use, in the process that uses it: gunicorn forks its workers,
        # and a thread does not survive a fork.
        with self._lock:
            if self._queue is None or self._pid != os.getpid():
                self._queue = queue.Queue(self.max_waiting)
                self._pid = os.getpid()
                threading.Thread(target=self._run, args=(self._queue,), daemon=True,
                                 name="tm-publish").start()
            return self._queue

    @staticmethod
    def _run(waiting: queue.Queue[Send]) -> None:
        while True:
            try:
                send = waiting.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                connections.close_all()  # this thread's own; reopened on the next send
                continue
            try:
                send()
            except Exception:  # one event's trouble must not stop the others
                log.exception("publishing after a response failed (the outbox relay "
                              "retries events)")
