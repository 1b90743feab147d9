"""A room's settings from a create or PATCH body (the API's and the create page's form):
which fields there are and how each is checked."""

from __future__ import annotations

from typing import Any

from . import validation
from .errors import ApiError
from .fields import choice, field
from .languages import LANGUAGES
from .models import Message, MessageStatus, Room, Screening

DEFAULT_LIFETIME = 24 * 3600

CREATE_FIELDS = {"name", "topic", "lifetime", "moderated", "accountable", "password",
                 "screening", "language", "max_length", "allowed_origins", "analytics",
                 "event_scope", "report_threshold"}


def parse_room_settings(data: dict[str, Any], creating: bool) -> dict[str, Any]:
    """Validated room fields from a create or PATCH body."""
    clean: dict[str, Any] = {}
    if "topic" in data:
        clean["topic"] = field(data, "topic", validation.topic)
    if "lifetime" in data:
        clean["lifetime"] = field(data, "lifetime", validation.lifetime)
    for name in ("moderated", "accountable", "analytics"):
        if name in data:
            clean[name] = field(data, name, validation.flag, name)
    if "password" in data:
        clean["password"] = "" if data["password"] in (None, "") else field(
            data, "password", validation.password)
    if "screening" in data:
        clean["screening"] = field(data, "screening", choice, "screening",
                                   list(Screening.values))
    if "language" in data:
        clean["language"] = field(data, "language", choice, "language", list(LANGUAGES))
    if "max_length" in data:
        clean["max_length"] = field(data, "max_length", validation.message_limit)
    if "allowed_origins" in data:
        clean["allowed_origins"] = field(data, "allowed_origins", validation.origins)
    if "report_threshold" in data:
        clean["report_threshold"] = field(data, "report_threshold",
                                          validation.report_threshold)
    if "event_scope" in data:
        clean["event_scope"] = field(data, "event_scope", validation.event_scope)
    if creating:
        clean.setdefault("lifetime", DEFAULT_LIFETIME)
    return clean


def spotlight_target(room: Room, value: object) -> int | None:
    """The post to show large on the projector: one the class can see, or null."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise ApiError(400, "invalid", "spotlight is a message id, or null to clear it",
                       fields={"spotlight": "a message id, or null"})
    if not Message.objects.filter(room=room, pk=value, status=MessageStatus.VISIBLE).exists():
        raise ApiError(400, "bad_spotlight", "that post is not one the class can see",
                       fields={"spotlight": "pick a visible post"})
    return value
