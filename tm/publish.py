"""The one place events leave tm: after commit, to the local reflektor or a neighbour.

How a committed event reaches the browsers even when one HTTP call fails:
1. on commit, `publish` posts it to the first reflektor (local, then neighbours) that
   takes it, and stamps `published_at`;
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
from datetime import timedelta

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from . import signing
from .models import Event

log = logging.getLogger("tm.publish")

# Reflektor answers 202 at once; a few ms is all a post may spend here.
CONNECT_TIMEOUT = 0.05
READ_TIMEOUT = 0.25
FAILURES_KEY = "publish:failures"
_session = requests.Session()


def publish_on_commit(event: Event) -> None:
    transaction.on_commit(lambda: publish(event))


def event_path(room_name: str) -> str:
    return f"/internal/rooms/{room_name}/events"


def encode(envelope: dict) -> bytes:
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def publish(event: Event) -> bool:
    """Send one stored event to the first reflektor that takes it. True when one did."""
    urls = settings.TM_REFLEKTOR_URLS
    if not urls:
        return False
    path = event_path(event.envelope["room"])
    body = encode(event.envelope)
    headers = {
        "Content-Type": "application/json",
        signing.HEADER: signing.sign(settings.TM_INTERNAL_SECRET, "POST", path, body),
    }
    for base in urls:
        try:
            response = _session.post(base.rstrip("/") + path, data=body, headers=headers,
                                     timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.RequestException as error:
            log.warning("publish %s#%s to %s failed: %s", event.envelope["room"], event.seq,
                        base, type(error).__name__)
            continue
        if response.status_code < 300:
            Event.objects.filter(pk=event.pk).update(published_at=timezone.now())
            return True
        log.warning("publish %s#%s to %s answered %s", event.envelope["room"], event.seq,
                    base, response.status_code)
    _count_failure()
    log.error("publish %s#%s: no reflektor took it; the outbox relay will retry",
              event.envelope["room"], event.seq)
    return False


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
