"""The room's audit log: every moderation action, who took it, when, and on what.

tm/actions.py writes an entry in the transaction of the action it records, so an
action that rolls back leaves none. The room's teachers read the log (the API's
GET /rooms/<room>/audit, the moderation page); nobody else does. It lives and dies
with the room, and entries older than TM_AUDIT_RETENTION_DAYS go sooner (the purge).

An entry holds no post's words: a deleted post's text is wiped from the database
(actions.delete_message) and must not live on here. It names the post by its id and
its author's nickname, which is what a teacher needs to follow what happened.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from contract.events import iso_utc

from .models import AuditEntry, Message, Participant, Room

# What tm did by itself, as the log names it.
TM = "tm"
# A student acting on their own data (leaving the room): the log does not name them.
STUDENT = "a student"
# A room's creator who has no account: the owner key (kept in their browser) is all
# tm knows of them.
CREATOR = "the room's creator"

# action -> how the moderation page says it (the detail fills in the blanks).
ACTIONS = {
    "room.created": "created the room",
    "room.claimed": "attached the room to their account",
    "moderator.added": "made a moderator link",
    "moderator.removed": "removed a moderator link",
    "moderator.joined": "signed in with their moderator link",
    "room.settings": "changed the settings",
    "room.paused": "paused the room",
    "room.opened": "opened the room for posts",
    "room.closed": "closed the room",
    "message.held": "held a post for approval",
    "message.approved": "approved a post",
    "message.rejected": "rejected a post",
    "message.deleted": "deleted a post",
    "message.hidden": "hid a post that students reported",
    "message.kept": "kept a post that students reported",
    "message.exported": "saved an incident file of a post",
    "participant.muted": "muted a participant",
    "participant.unmuted": "unmuted a participant",
    "participant.erased": "erased the posts of a participant",
    "participant.left": "left the room, taking their posts",
}

# Settings whose values the log keeps as they are; the others it only says changed.
SHOWN_SETTINGS = ("topic", "moderated", "accountable", "analytics", "event_scope",
                  "screening", "language", "max_length", "report_threshold", "spotlight")


def record(room: Room, actor: str, action: str, **detail: Any) -> AuditEntry:
    """Add an entry (in the caller's transaction)."""
    assert action in ACTIONS, action
    return AuditEntry.objects.create(room=room, actor=actor[:160], action=action,
                                     detail=detail)


def about_message(message: Message) -> dict[str, Any]:
    """How an entry names a post: its id and its author's nickname, not its words."""
    return {"message": message.pk, "nickname": message.nickname}


def about_participant(participant: Participant) -> dict[str, Any]:
    return {"participant": participant.pk, "nickname": participant.nickname}


def settings_changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The settings that differ, as the log shows them: values of SHOWN_SETTINGS, and
    for the rest (the password, the share link, the lifetime, allowed origins) that
    they changed ("set", "removed", the new expiry)."""
    changed: dict[str, Any] = {}
    for name in after:
        if before.get(name) == after[name]:
            continue
        value = after[name]
        if name in SHOWN_SETTINGS:
            changed[name] = value
        elif name == "password":
            changed[name] = "set" if value else "removed"
        elif name == "expires_at":
            changed[name] = iso_utc(value) if isinstance(value, datetime) else value
        else:
            changed[name] = "changed"
    return changed


def settings_at_creation(current: dict[str, Any]) -> dict[str, Any]:
    """A new room's settings as the log shows them: SHOWN_SETTINGS, whether it has a
    password, when it expires."""
    shown = {name: current[name] for name in SHOWN_SETTINGS if name in current}
    shown["password"] = "set" if current.get("password") else "none"
    if isinstance(current.get("expires_at"), datetime):
        shown["expires_at"] = iso_utc(current["expires_at"])
    return shown


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.pk, "at": iso_utc(entry.at), "actor": entry.actor,
            "action": entry.action, "detail": entry.detail}


def describe(entry: AuditEntry) -> str:
    """The entry as a sentence after its actor: "deleted a post by ann (#12)"."""
    text = ACTIONS.get(entry.action, entry.action)
    detail = entry.detail or {}
    nickname = detail.get("nickname")
    if "message" in detail:
        text = text.replace("a post", f"a post by {nickname} (#{detail['message']})")
        if detail.get("reason"):
            text += f": {detail['reason']}"
        if detail.get("reports"):
            count = detail["reports"]
            text += f" ({count} report{'' if count == 1 else 's'})"
    elif "participant" in detail:
        text = text.replace("a participant", str(nickname))
        if "posts" in detail:
            text += f" ({detail['posts']})"
    elif "posts" in detail:
        text += f" ({detail['posts']})"
    elif entry.action == "room.settings" and detail.get("changed"):
        text += ": " + ", ".join(_setting(name, value)
                                 for name, value in sorted(detail["changed"].items()))
    elif entry.action == "room.paused" and detail.get("until"):
        text += f" until {detail['until']}"
    elif entry.action.startswith("moderator.") and detail.get("name"):
        text += f" ({detail['name']})"
    return text


def _setting(name: str, value: Any) -> str:
    label = name.replace("_", " ")
    if isinstance(value, bool):
        return f"{label} {'on' if value else 'off'}"
    if value in ("", None):
        return f"{label} cleared"
    return f"{label} {value}"


ERASED = "(left the room)"


def forget_nickname(room: Room, nickname: str) -> int:
    """A student left: their nickname goes from the room's log too (entries keep what
    was done, not to whom). How many entries named them."""
    named = list(AuditEntry.objects.filter(room=room, detail__nickname=nickname))
    for entry in named:
        entry.detail["nickname"] = ERASED
        entry.save(update_fields=["detail"])
    return len(named)


def prune(now: datetime | None = None) -> int:
    """Delete entries older than TM_AUDIT_RETENTION_DAYS; returns how many."""
    days = settings.TM_AUDIT_RETENTION_DAYS
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = AuditEntry.objects.filter(at__lt=cutoff).delete()
    return deleted
