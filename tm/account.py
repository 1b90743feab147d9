"""A teacher's own data, without the operator: everything tm holds about them and their
rooms as one machine-readable file (access and portability), and their account deleted
with every room it owns (erasure)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from contract.events import iso_utc

from . import actions, audit
from .models import Message, Report, Room
from .serializers import room_json

FORMAT = "tm-teacher-export/1"


def _when(moment) -> str | None:
    return iso_utc(moment) if moment else None


def export(user: Any) -> dict[str, Any]:
    """Everything tm holds about `user` and the rooms they own, as JSON-ready data."""
    rooms = Room.objects.filter(owner=user).order_by("created_at")
    return {
        "format": FORMAT,
        "exported_at": iso_utc(timezone.now()),
        "account": {"username": user.get_username(), "email": user.email,
                    "date_joined": _when(user.date_joined),
                    "last_login": _when(user.last_login)},
        "rooms": [_room(room) for room in rooms],
        # Rooms of others they moderate through a moderator link bound to the account.
        "co_teaching": [{"room": grant.room.name, "link_name": grant.name,
                         "since": _when(grant.created_at)}
                        for grant in user.moderated_rooms.select_related("room")
                        .order_by("created_at")],
    }


def _room(room: Room) -> dict[str, Any]:
    data = room_json(room, room.seq, moderator=True)
    data.pop("push_urls", None)  # where the pages connect, not data about the room
    data["has_password"] = data.pop("password_required")
    data["participants"] = [
        {"nickname": p.nickname, "real_name": p.real_name, "teacher": p.is_teacher,
         "muted": p.muted, "joined": _when(p.created_at)}
        for p in room.participants.order_by("created_at")]
    data["messages"] = [
        {"id": m.pk, "seq": m.seq, "nickname": m.nickname, "text": m.text,
         "status": m.status, "held_for": m.held_for, "by_teacher": m.by_teacher,
         "created": _when(m.created_at)}
        for m in Message.objects.filter(room=room).order_by("id")]
    reported: dict[int, int] = {}
    for message_id in Report.objects.filter(message__room=room).values_list("message_id",
                                                                           flat=True):
        reported[message_id] = reported.get(message_id, 0) + 1
    data["reports"] = [{"message": message_id, "reports": count}
                       for message_id, count in sorted(reported.items())]
    data["audit_log"] = [audit.entry_json(entry)
                         for entry in room.audit_entries.order_by("id")]
    data["moderator_links"] = [
        {"name": grant.name, "owner_level": grant.owner_level, "created": _when(grant.created_at),
         "account": grant.user.get_username() if grant.user else None}
        for grant in room.moderators.select_related("user")]
    return data


def delete_account(user: AbstractBaseUser) -> list[str]:
    """Delete every room `user` owns (each announced to the push nodes and the collector,
    as a teacher's delete is), then the account. Returns the rooms' names."""
    names = []
    with transaction.atomic():
        for room in Room.objects.filter(owner=user).select_for_update():
            names.append(room.name)
            actions.delete_room(room)
        user.delete()
    return names
