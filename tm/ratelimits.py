"""Rate limits on top of django-ratelimit's counters, answered as 429 + Retry-After."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from .clientkey import client_key
from .errors import ApiError


def limit(request: HttpRequest, group: str, rate_setting: str, key: str | None = None) -> None:
    """Count one hit for `key` (default: the client key) in `group`; raise 429 past the rate."""
    value = key if key is not None else client_key(request)
    usage = get_usage(
        request, group=group, key=lambda _group, _request: value,
        rate=getattr(settings, rate_setting), increment=True,
    )
    if usage and usage["should_limit"]:
        retry_after = max(int(usage["time_left"]), 1)
        raise ApiError(
            429, "rate_limited",
            f"slow down: try again in {retry_after} seconds",
            headers={"Retry-After": str(retry_after)},
        )
