"""Joining a room behind the limits a class meets (tm/ratelimits.py), for the API and
the join page alike: a view module of neither."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from . import actions
from .errors import ApiError
from .models import Participant, Room
from .ratelimits import check_password_attempts, count_wrong_password, limit


def join_with_limits(request: HttpRequest, room: Room, *, moderator: bool = False,
                     password: str = "", **fields: Any) -> tuple[Participant, str]:
    """actions.join_room behind the limits a class meets (tm/ratelimits.py): joins per
    room per minute, and wrong passwords per room and address, looked at before the
    password is hashed. The caller has counted the join against the address already."""
    limit(request, "join-room", "TM_RATE_JOIN_PER_ROOM", key=f"room{room.pk}")
    checks_password = room.has_password and not moderator
    if checks_password:
        check_password_attempts(request, room.pk)
    try:
        return actions.join_room(room, password=password, moderator=moderator, **fields)
    except ApiError as error:
        if error.code == "wrong_password" and checks_password:
            count_wrong_password(request, room.pk)
        raise
