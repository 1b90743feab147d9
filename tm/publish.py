"""The one place events leave tm: after commit, to the local reflektor or a neighbour.

A publish failure never fails the user's request: the event row stays in the outbox
(published_at empty), it is logged, and clients catch up by seq from the history API.
"""

from __future__ import annotations

import json
import logging

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import signing
from .models import Event

log = logging.getLogger("tm.publish")

# Reflektor answers 202 at once; a few ms is all a post may spend here.
CONNECT_TIMEOUT = 0.05
READ_TIMEOUT = 0.25
_session = requests.Session()


def publish_on_commit(event: Event) -> None:
    transaction.on_commit(lambda: publish(event))


def publish(event: Event) -> bool:
    """Send one stored event to the first reflektor that takes it. True when one did."""
    urls = settings.TM_REFLEKTOR_URLS
    if not urls:
        return False
    path = f"/internal/rooms/{event.room.name}/events"
    body = _encode(event.envelope)
    headers = {
        "Content-Type": "application/json",
        signing.HEADER: signing.sign(settings.TM_INTERNAL_SECRET, "POST", path, body),
    }
    for base in urls:
        try:
            response = _session.post(base.rstrip("/") + path, data=body, headers=headers,
                                     timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.RequestException as error:
            log.warning("publish %s#%s to %s failed: %s", event.room_id, event.seq, base,
                        type(error).__name__)
            continue
        if response.status_code < 300:
            Event.objects.filter(pk=event.pk).update(published_at=timezone.now())
            return True
        log.warning("publish %s#%s to %s answered %s", event.room_id, event.seq, base,
                    response.status_code)
    log.error("publish %s#%s: no reflektor took it; clients catch up by seq",
              event.room_id, event.seq)
    return False


def _encode(envelope: dict) -> bytes:
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
