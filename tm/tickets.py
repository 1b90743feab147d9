"""Follow tickets: tm's word to a push node that a browser may follow a room.

A push node (ekg_py) sends a room's events only to a connection that shows a ticket
tm signed (contract/signing.py has the format): the room, its incarnation (when it was
created, so a room deleted and made again under its name is another room), the role,
and an expiry of minutes. tm hands one out with everything that shows a room (page
data, the join and create answers) and on request, to whoever may read the room's
history: a page that reconnects after its ticket expired asks for a new one first.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from contract import signing

from .auth import can_read, is_moderator, optional_participant
from .models import Room

MODERATOR, STUDENT, VIEWER = "moderator", "student", "viewer"
_RANK = {VIEWER: 0, STUDENT: 1, MODERATOR: 2}  # what each sees: more to the right


def role_for(request: HttpRequest, room: Room) -> str | None:
    """How this request may follow `room`: as a moderator (sees posts held for
    approval), a student (a participant), a viewer (anyone who may read the room: every
    room without a password, or a password room through its share link); None when it
    may not read the room at all."""
    if is_moderator(request, room, check_csrf=False):
        return MODERATOR
    if optional_participant(request, room, check_csrf=False) is not None:
        return STUDENT
    return VIEWER if can_read(request, room) else None


def issue(room: Room, role: str) -> dict[str, Any]:
    """A ticket for `room` as `role`, with how long it lasts: pages and API clients
    count from when they got it, so a browser clock that is off does not matter."""
    ticket = signing.follow_ticket(settings.TM_INTERNAL_SECRET, room.name,
                                   signing.incarnation_ms(room.created_at), role)
    return {"ticket": ticket, "role": role, "expires_in": signing.TICKET_SECONDS}


def for_request(request: HttpRequest, room: Room,
                wanted: str | None = None) -> dict[str, Any] | None:
    """The ticket this request may have for `room`, or None (a password room not joined).
    `wanted` asks for no more than that role: the projector, opened by the teacher,
    renews as the viewer it started as, so held posts never reach the wall's browser."""
    role = role_for(request, room)
    if role and wanted in _RANK and _RANK[wanted] < _RANK[role]:
        role = wanted
    return issue(room, role) if role else None
