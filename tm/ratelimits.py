"""Rate limits on top of django-ratelimit's counters, answered as 429 + Retry-After.

A school puts every student behind one public address, so the per-address limits
(`*_PER_CLIENT`) are a high ceiling against abuse, never what a class meets. The limits
a class meets are per participant (posts), per room (joins per minute; capacity is
checked in actions.join_room) and, for wrong join passwords, per room and address.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from .clientkey import client_key
from .errors import ApiError


def _usage(request: HttpRequest, group: str, rate_setting: str, value: str,
           increment: bool) -> dict | None:
    return get_usage(request, group=group, key=lambda _group, _request: value,
                     rate=getattr(settings, rate_setting), increment=increment)


def _refuse(usage: dict) -> ApiError:
    retry_after = max(int(usage["time_left"]), 1)
    return ApiError(429, "rate_limited", f"slow down: try again in {retry_after} seconds",
                    headers={"Retry-After": str(retry_after)})


def limit(request: HttpRequest, group: str, rate_setting: str, key: str | None = None) -> None:
    """Count one hit for `key` (default: the client key) in `group`; raise 429 past the rate."""
    value = key if key is not None else client_key(request)
    usage = _usage(request, group, rate_setting, value, increment=True)
    if usage and usage["should_limit"]:
        raise _refuse(usage)


# -- wrong join passwords, per room and address ------------------------------------------
# Looked at before the password is hashed, so guessing past the limit costs the server
# no hashing: even the right password waits until the window has passed.
WRONG_PASSWORD_GROUP = "wrong-password"  # noqa: S105 - a counter name


def _wrong_password_key(request: HttpRequest, room_id: int) -> str:
    return f"r{room_id}:{client_key(request)}"


def check_password_attempts(request: HttpRequest, room_id: int) -> None:
    """429 when this address has used up its wrong passwords for the room."""
    usage = _usage(request, WRONG_PASSWORD_GROUP, "TM_RATE_WRONG_PASSWORD_PER_ROOM_CLIENT",
                   _wrong_password_key(request, room_id), increment=False)
    if usage and usage["count"] >= usage["limit"]:
        raise ApiError(429, "too_many_wrong_passwords",
                       "too many wrong passwords from here: try again in "
                       f"{max(int(usage['time_left']), 1)} seconds",
                       fields={"password": "too many wrong passwords; wait a minute"},
                       headers={"Retry-After": str(max(int(usage["time_left"]), 1))})


def count_wrong_password(request: HttpRequest, room_id: int) -> None:
    _usage(request, WRONG_PASSWORD_GROUP, "TM_RATE_WRONG_PASSWORD_PER_ROOM_CLIENT",
           _wrong_password_key(request, room_id), increment=True)
