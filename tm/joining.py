"""Joining a room behind the limits a class meets (tm/ratelimits.py), for the API and
the join page alike: a view module of neither."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from . import actions
from .errors import ApiError
from .models import Participant, Room
from .ratelimits import ROOM_JOINS, WRONG_PASSWORDS, check_budget, spend, wrong_password_key


def join_with_limits(request: HttpRequest, room: Room, *, moderator: bool = False,
                     password: str = "", **fields: Any) -> tuple[Participant, str]:
    """actions.join_room behind the limits a class meets (tm/ratelimits.py): joins into
    the room per minute (only those that got in count), and wrong passwords per room
    and address (looked at before the password is hashed). The caller has counted the
    attempt against the address already."""
    room_key = f"room{room.pk}"
    check_budget(request, ROOM_JOINS, room_key, what="this room takes many joins at once")
    checks_password = room.has_password and not moderator
    if checks_password:
        check_budget(request, WRONG_PASSWORDS, wrong_password_key(request, room.pk),
                     code="too_many_wrong_passwords", what="too many wrong passwords from here",
                     fields={"password": "too many wrong passwords; wait a minute"})
    try:
        joined = actions.join_room(room, password=password, moderator=moderator, **fields)
    except ApiError as error:
        if error.code == "wrong_password" and checks_password:
            spend(request, WRONG_PASSWORDS, wrong_password_key(request, room.pk))
        raise
    spend(request, ROOM_JOINS, room_key)
    return joined
