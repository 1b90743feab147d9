"""An incident file: one post as a school's incident process needs it, while the room
exists. The post (its words, if a teacher has not deleted it), the posts around it, its
author (nickname, and real name in an accountable room), how many students reported it,
and the audit trail of the post and its author. Saving one is itself in the audit log:
it copies a student's data out of tm."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone

from contract.events import iso_utc

from . import audit
from .errors import ApiError
from .models import AuditEntry, Message, MessageStatus, Report, Room
from .serializers import message_json

AROUND = 10  # posts before and after the reported one


def incident(room: Room, message_id: int, actor: str) -> dict[str, Any]:
    post = Message.objects.filter(room=room, pk=message_id).select_related(
        "participant").first()
    if post is None:
        raise ApiError(404, "not_found", "no such message in this room")
    author = post.participant
    visible = Message.objects.filter(room=room, status=MessageStatus.VISIBLE).exclude(
        pk=post.pk)
    before = list(reversed(visible.filter(id__lt=post.pk).order_by("-id")[:AROUND]))
    after = list(visible.filter(id__gt=post.pk).order_by("id")[:AROUND])
    about = Q(detail__message=post.pk)
    if author is not None:
        about |= Q(detail__participant=author.pk)
    trail = list(AuditEntry.objects.filter(about, room=room).order_by("id"))
    audit.record(room, actor, "message.exported", **audit.about_message(post))
    return {
        "format": "tm-incident/1",
        "saved_at": iso_utc(timezone.now()),
        "saved_by": actor,
        "room": {"name": room.name, "topic": room.topic, "accountable": room.accountable},
        "post": message_json(post),
        "author": None if author is None else {
            "participant": author.pk, "nickname": author.nickname,
            "real_name": author.real_name if room.accountable else None,
            "joined": iso_utc(author.created_at), "muted": author.muted},
        "reports": Report.objects.filter(message=post).count(),
        "before": [message_json(m) for m in before],
        "after": [message_json(m) for m in after],
        "audit_trail": [audit.entry_json(entry) for entry in trail],
    }


def as_text(file: dict[str, Any]) -> str:
    """The same file for reading or printing."""
    post, author = file["post"], file["author"]
    lines = [f"Incident file: room {file['room']['name']}"
             + (f" ({file['room']['topic']})" if file["room"]["topic"] else ""),
             f"Saved {file['saved_at']} by {file['saved_by']}", ""]
    who = post["nickname"] or "(left the room)"
    if author and author.get("real_name"):
        who += f" [real name: {author['real_name']}]"
    lines += [f"Post #{post['id']} by {who}, {post['created']}, status {post['status']}, "
              f"reported by {file['reports']} student(s):",
              f"  {post['text'] or '(its words were deleted)'}", "", "Posts before it:"]
    lines += [f"  {m['created']} {m['nickname']}: {m['text']}" for m in file["before"]]
    lines += ["", "Posts after it:"]
    lines += [f"  {m['created']} {m['nickname']}: {m['text']}" for m in file["after"]]
    lines += ["", "Audit trail:"]
    lines += [f"  {e['at']} {e['actor']}: {e['action']} {e['detail']}"
              for e in file["audit_trail"]]
    return "\n".join(lines) + "\n"
