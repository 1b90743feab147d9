"""The one place events leave tm: after commit, to the local reflektor or a neighbour.

How a committed event reaches the browsers even when one HTTP call fails:
1. on commit, `publish` posts it to the first reflektor (local, then neighbours) that
   takes it, and stamps `published_at`. Inside a request this happens once the answer
   has gone out (`PublishAfterResponse`), from the process's publish thread
   (tm/publish_background.py): neither the poster nor the worker's next request waits
   for the hop to reflektor, and nothing is lost if the process dies in between
   (step 2). A reflektor that failed is skipped for a second (`DOWN_SECONDS`), so a
   hung one costs one timeout a second, not one per event;
2. the outbox relay (`manage.py relay_outbox`, run beside tm) re-sends every event still
   unstamped after a few seconds, in seq order (tm killed between commit and publish,
   every reflektor down);
3. clients catch up by seq from the history API whenever they see a gap, reconnect, or
   their periodic check finds the room ahead of them (a reflektor that accepted an
   event and then died).
A publish failure never fails the user's request: it is logged and counted.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import timedelta

import requests
from django.conf import settings
from django.core.cache import cache
from django.core.signals import request_finished
from django.db import connection, transaction
from django.utils import timezone

from contract import events, signing

from .models import Event, RoomDeletion
from .publish_background import Background

log = logging.getLogger("tm.publish")

# Reflektor answers 202 at once; a few ms is all a post may spend here.
CONNECT_TIMEOUT = 0.05
READ_TIMEOUT = 0.25
FAILURES_KEY = "publish:failures"
# After a reflektor failed (refused, timed out, answered an error), it is skipped for
# this long: events go to the next one, or wait for the outbox relay.
DOWN_SECONDS = 1.0
_down_until: dict[str, float] = {}
BACKGROUND = Background()
_session = requests.Session()
# Internal calls go straight to reflektor: no proxy from the environment (it would see
# signed events, and looking one up cost more than the call), no .netrc.
_session.trust_env = False


# What the current request committed, to send once its answer is out; None outside a
# request (management commands, the relay, the shell): send at once.
_after_response: ContextVar[list[Callable[[], object]] | None] = ContextVar(
    "tm_publish_after_response", default=None)


def publish_on_commit(event: Event) -> None:
    transaction.on_commit(lambda: _soon(lambda: publish(event)))


def announce_deleted_on_commit(deletion: RoomDeletion) -> None:
    transaction.on_commit(lambda: _soon(lambda: announce_room_deleted(deletion)))


def _soon(send: Callable[[], object]) -> None:
    """Send now, or once the current request's answer has gone out."""
    pending = _after_response.get()
    if pending is None:
        send()
    else:
        pending.append(send)


class PublishAfterResponse:
    """Middleware (outermost): events a request commits are published when its
    response is closed, i.e. after the WSGI server has written it (gunicorn, the
    test client and runserver all close the response after sending it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _after_response.set([])
        try:
            return self.get_response(request)
        except BaseException:  # no response will be closed: publish now
            _publish_after_response()
            raise


def _publish_after_response(**_kwargs) -> None:
    pending = _after_response.get()
    _after_response.set(None)
    for send in pending or ():
        BACKGROUND.submit(send)  # in order, on the publish thread: never blocks


request_finished.connect(_publish_after_response, dispatch_uid="tm.publish.after_response")


def event_path(room_name: str) -> str:
    return f"/internal/rooms/{room_name}/events"


def encode(envelope: dict) -> bytes:
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def publish(event: Event) -> bool:
    """Send one stored event to the first reflektor that takes it. True when one did."""
    what = f"publish {event.envelope['room']}#{event.seq}"
    if not _send("POST", event_path(event.envelope["room"]), encode(event.envelope), what):
        return False
    _stamp_published(event)
    return True


def announce_room_deleted(deletion: RoomDeletion) -> bool:
    """Tell the push nodes and the collector (through reflektor) that the room is gone,
    so they drop what they hold of it from before `deleted_at`: events, word counts.
    The body carries that moment, so an announcement the relay re-sends after a new room
    took the name leaves the new room's data alone. True when a reflektor took it."""
    what = f"announce the deletion of {deletion.name}"
    if not _send("DELETE", f"/internal/rooms/{deletion.name}",
                 events.deletion_body(deletion.deleted_at), what):
        return False
    RoomDeletion.objects.filter(pk=deletion.pk).update(announced_at=timezone.now())
    return True


def _send(method: str, path: str, body: bytes, what: str) -> bool:
    """One signed internal request to the first reflektor (local, then neighbours) that
    answers 2xx. True when one did; otherwise the failure is logged and counted (with
    reflektors configured) and the outbox relay sends it again later."""
    headers = {signing.HEADER: signing.sign(settings.TM_INTERNAL_SECRET, method, path, body)}
    if body:
        headers["Content-Type"] = "application/json"
    for base in settings.TM_REFLEKTOR_URLS:
        if _down_until.get(base, 0.0) > time.monotonic():
            continue  # failed a moment ago: do not wait on it again yet
        try:
            response = _session.request(method, base.rstrip("/") + path, data=body,
                                        headers=headers,
                                        timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.RequestException as error:
            log.warning("%s via %s failed: %s", what, base, type(error).__name__)
            _down_until[base] = time.monotonic() + DOWN_SECONDS
            continue
        if response.status_code < 300:
            _down_until.pop(base, None)
            return True
        log.warning("%s via %s: answered %s", what, base, response.status_code)
        _down_until[base] = time.monotonic() + DOWN_SECONDS
    if settings.TM_REFLEKTOR_URLS:
        _count_failure()
        log.error("%s: no reflektor took it; the outbox relay will retry", what)
    return False


def _stamp_published(event: Event) -> None:
    """Mark the event sent, so the relay leaves it alone.

    Losing this mark (a crash right after) costs only a second send, which every
    receiver drops by seq, so the write need not wait for the disk: PostgreSQL commits
    it asynchronously; SQLite (WAL, synchronous=NORMAL) does not sync commits anyway.
    The user's post itself was committed durably before any of this ran.
    """
    stamp = Event.objects.filter(pk=event.pk)
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        # Inside someone's transaction, SET LOCAL would make their commit lazy too.
        stamp.update(published_at=timezone.now())
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        stamp.update(published_at=timezone.now())


def _count_failure() -> None:
    try:
        cache.incr(FAILURES_KEY)
    except ValueError:
        cache.set(FAILURES_KEY, 1, timeout=None)


def publish_failures() -> int:
    return cache.get(FAILURES_KEY) or 0


def unpublished(older_than: timedelta):
    return Event.objects.filter(
        published_at__isnull=True, created_at__lte=timezone.now() - older_than
    ).order_by("room_id", "seq")


def relay_unpublished(older_than: timedelta = timedelta(seconds=3), limit: int = 500) -> int:
    """Re-send events the commit-time publish did not deliver. Returns how many went.

    Stops at a room's first failure so a room's events are never sent out of order.
    """
    sent = 0
    stuck_rooms: set[int] = set()
    for event in unpublished(older_than)[:limit]:
        if event.room_id in stuck_rooms:
            continue
        if publish(event):
            sent += 1
        else:
            stuck_rooms.add(event.room_id)
    return sent


# Announced deletions are kept this long (for operators), then removed.
DELETIONS_KEPT = timedelta(days=1)


def relay_unannounced_deletions(older_than: timedelta = timedelta(seconds=3),
                                limit: int = 100) -> int:
    """Re-send room deletions no reflektor took; drop the ones announced long ago.
    Returns how many went."""
    now = timezone.now()
    RoomDeletion.objects.filter(announced_at__lte=now - DELETIONS_KEPT).delete()
    sent = 0
    for deletion in RoomDeletion.objects.filter(
            announced_at__isnull=True, deleted_at__lte=now - older_than
    ).order_by("deleted_at")[:limit]:
        if not announce_room_deleted(deletion):
            break  # reflektor is down: the next pass tries again
        sent += 1
    return sent
