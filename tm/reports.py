"""What the room's teachers see of students' reports: each reported post they have not
ruled on, how many reported it (never who), and the posts around it, to judge it in
context. Reports are written by tm/actions.py (report_message, and the decisions)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from .models import Message, MessageStatus, Room
from .serializers import message_json

CONTEXT = 2  # visible posts shown before and after a reported one
MOST = 100  # reported posts listed at once


def reported_posts(room: Room) -> list[dict[str, Any]]:
    """Undecided reported posts, most reported first (then newest), with context."""
    posts = (Message.objects.filter(room=room, status__in=[MessageStatus.VISIBLE,
                                                           MessageStatus.PENDING])
             .annotate(open_reports=Count("reports", filter=Q(reports__decided=False)))
             .filter(open_reports__gt=0).order_by("-open_reports", "-id")[:MOST])
    return [{"message": message_json(post), "reports": post.open_reports,
             "hidden": post.status == MessageStatus.PENDING,
             "before": [message_json(m) for m in _around(room, post, before=True)],
             "after": [message_json(m) for m in _around(room, post, before=False)]}
            for post in posts]


def _around(room: Room, post: Message, before: bool) -> list[Message]:
    """Visible posts written just before or after `post` (by when they were written:
    a hidden post's seq has moved on since)."""
    visible = Message.objects.filter(room=room, status=MessageStatus.VISIBLE)
    if before:
        return list(reversed(visible.filter(id__lt=post.pk).order_by("-id")[:CONTEXT]))
    return list(visible.filter(id__gt=post.pk).order_by("id")[:CONTEXT])
