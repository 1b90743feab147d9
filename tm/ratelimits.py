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


def _refuse(usage: dict, code: str = "rate_limited", what: str = "slow down",
            fields: dict[str, str] | None = None) -> ApiError:
    retry_after = max(int(usage["time_left"]), 1)
    return ApiError(429, code, f"{what}: try again in {retry_after} seconds", fields=fields,
                    headers={"Retry-After": str(retry_after)})


def limit(request: HttpRequest, group: str, rate_setting: str, key: str | None = None) -> None:
    """Count one hit for `key` (default: the client key) in `group`; raise 429 past the rate."""
    value = key if key is not None else client_key(request)
    usage = _usage(request, group, rate_setting, value, increment=True)
    if usage and usage["should_limit"]:
        raise _refuse(usage)


# -- budgets spent only by what succeeds (or only by what fails) ---------------------------
# `check_budget` looks before the work, `spend` counts after it, so a limit can count the
# joins that got in (not a flood of failed ones, which would lock a class out of its
# room) or the wrong passwords (looked at before the password is hashed: guessing past
# the limit costs the server no hashing, and even the right password waits).
ROOM_JOINS = ("join-room", "TM_RATE_JOIN_PER_ROOM")
WRONG_PASSWORDS = ("wrong-password", "TM_RATE_WRONG_PASSWORD_PER_ROOM_CLIENT")


def check_budget(request: HttpRequest, budget: tuple[str, str], key: str, *,
                 code: str = "rate_limited", what: str = "slow down",
                 fields: dict[str, str] | None = None) -> None:
    """429 when `key` has spent its `budget` (group, rate setting) in this window."""
    usage = _usage(request, *budget, key, increment=False)
    if usage and usage["count"] >= usage["limit"]:
        raise _refuse(usage, code, what, fields)


def spend(request: HttpRequest, budget: tuple[str, str], key: str) -> None:
    _usage(request, *budget, key, increment=True)


def wrong_password_key(request: HttpRequest, room_id: int) -> str:
    return f"r{room_id}:{client_key(request)}"
