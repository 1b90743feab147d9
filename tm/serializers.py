"""Rooms, messages and participants as the JSON of the public API and the events."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from contract.events import iso_utc

from .models import Message, Participant, Room


def message_data(message: Message) -> dict[str, Any]:
    """The `data` of message.created / message.pending events."""
    data = {
        "id": message.pk,
        "nickname": message.nickname,
        "text": message.text,
        "html": message.html,
        "created": iso_utc(message.created_at),
        "by_teacher": message.by_teacher,
    }
    if message.status == "pending":
        data["held_for"] = message.held_for
    return data


def message_json(message: Message) -> dict[str, Any]:
    return {"seq": message.seq, "status": message.status, **message_data(message)}


def room_json(room: Room, seq: int, moderator: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": room.name,
        "topic": room.topic,
        "state": room.current_state,
        "paused_until": iso_utc(room.paused_until) if room.paused_until else None,
        "moderated": room.moderated,
        "accountable": room.accountable,
        "password_required": room.has_password,
        "max_length": room.max_length,
        "analytics": room.analytics,
        "event_scope": room.event_scope,
        "language": room.language,
        "spotlight": room.spotlight_id,
        "created_at": iso_utc(room.created_at),
        "expires_at": iso_utc(room.expires_at),
        "seq": seq,
        "push_urls": list(settings.TM_PUSH_URLS),
    }
    if moderator:
        data["screening"] = room.screening
        data["allowed_origins"] = room.origins()
        data["report_threshold"] = room.report_threshold
    return data


def participant_json(participant: Participant, moderator: bool = False) -> dict[str, Any]:
    data = {"id": participant.pk, "nickname": participant.nickname, "muted": participant.muted}
    if moderator and participant.real_name:
        data["real_name"] = participant.real_name
    return data
