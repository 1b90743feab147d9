"""Rooms, participants, messages and the per-room event log.

Every change a browser must see is an `Event` row written in the same transaction as
the change, numbered by the room's `seq` counter (ARCHITECTURE.md, Events). That log
is what tm publishes and what a client that missed something reads back.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.db import models, transaction
from django.utils import timezone

from . import languages

# Cached "no such room" marker: a miss is cached too, so a stream of requests for a
# missing room does not reach the database each time.
_MISSING = "__missing__"
ROOM_CACHE_SECONDS = 300
MISSING_CACHE_SECONDS = 30
# Put in a room's cache entry when the room is written, before and after the commit,
# for a few seconds: readers that find it read the database and cache nothing. A plain
# delete is not enough: a reader that missed the cache and read the row just before a
# write committed would cache the old row after the delete, for ROOM_CACHE_SECONDS (a
# pause that lets posts through, a room.updated that is never sent).
_WRITING = "__writing__"
WRITE_GUARD_SECONDS = 5


class RoomState(models.TextChoices):
    OPEN = "open", "Open"
    PAUSED = "paused", "Paused"
    CLOSED = "closed", "Closed"


def default_language() -> str:
    """A new room's language, until its teacher picks one (TM_DEFAULT_ROOM_LANGUAGE)."""
    return settings.TM_DEFAULT_ROOM_LANGUAGE


class Screening(models.TextChoices):
    """How much of the students' posts the abuse check holds (tm/screening.py)."""
    OFF = "off", "Off: hold nothing"
    STANDARD = "standard", "Hold likely abusive posts"
    STRICT = "strict", "Strict: hold borderline posts too"


class Room(models.Model):
    # Stored lower-case: names are case-insensitive (tm/validation.py normalises).
    name = models.CharField(max_length=40, unique=True)
    topic = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="rooms",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=8, choices=RoomState.choices, default=RoomState.OPEN)
    # A pause may end by itself; None means "until the teacher resumes".
    paused_until = models.DateTimeField(null=True, blank=True)
    moderated = models.BooleanField(default=False)
    accountable = models.BooleanField(default=False)
    # Django password hash of the join password; empty means no password.
    join_password = models.CharField(max_length=128, blank=True)
    screening = models.CharField(
        max_length=8, choices=Screening.choices, default=Screening.STANDARD
    )
    # The language its students write in: the abuse check's word list, the posts' lang.
    language = models.CharField(max_length=2, choices=languages.CHOICES,
                                default=default_language)
    max_length = models.PositiveSmallIntegerField(default=140)
    # Origins allowed to frame the embed view, one per line (https://lms.example.edu).
    allowed_origins = models.TextField(blank=True)
    # Last event sequence number handed out; the next event takes seq + 1.
    seq = models.BigIntegerField(default=0)
    # Live word and sentiment charts for this room, on its teacher's pages (sotu/).
    analytics = models.BooleanField(default=False)
    # The shared event (e.g. "sotu") whose charts count this room's posts; "" for none.
    event_scope = models.CharField(max_length=40, blank=True)
    # Lets an anonymous creator moderate: sha256 of the key shown once at creation.
    owner_key_hash = models.CharField(max_length=64, blank=True)
    # Part of every share link's signed key (tm/auth.py share_key): a new one, when the
    # password changes or the teacher resets the link, ends the links handed out.
    share_nonce = models.CharField(max_length=32, blank=True)
    # A post this many students report is hidden from students until a teacher decides
    # (0: reports only tell the teachers, nothing is hidden by them).
    report_threshold = models.PositiveSmallIntegerField(default=3)
    # The post the teacher shows large on the projector (a visible message's id), or
    # None. Cleared when that post leaves the room (tm/actions.py _wipe, _take_back).
    spotlight_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def stored_seq(self) -> int:
        """The room's last seq as the database has it now (a cached Room's `seq` may be
        behind)."""
        return Room.objects.filter(pk=self.pk).values_list("seq", flat=True).first() or 0

    # -- object caching -------------------------------------------------------
    @staticmethod
    def cache_key(name: str) -> str:
        return f"room:v1:{name}"

    @classmethod
    def get(cls, name: str) -> Room | None:
        """The room called `name` (already normalised), through the cache.

        The cached copy is good for settings and state; its `seq` may be behind, so
        code that needs the current seq reads it from the database.
        """
        key = cls.cache_key(name)
        cached = cache.get(key)
        if cached == _MISSING:
            return None
        if cached is not None and cached != _WRITING:
            return cached
        room = cls.objects.filter(name=name).first()
        if cached == _WRITING:
            return room  # maybe the row from before a write's commit: not for the cache
        # add, not set: a write that began since our read has put _WRITING there.
        if room is None:
            cache.add(key, _MISSING, MISSING_CACHE_SECONDS)
        else:
            cache.add(key, room, ROOM_CACHE_SECONDS)
        return room

    def flush_cache(self) -> None:
        """Drop the cached copy; readers use the database for WRITE_GUARD_SECONDS."""
        cache.set(self.cache_key(self.name), _WRITING, WRITE_GUARD_SECONDS)

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        self._flush_now_and_on_commit()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        self._flush_now_and_on_commit()
        return result

    def _flush_now_and_on_commit(self) -> None:
        self.flush_cache()
        # Again once the change is visible to others, so the guard outlasts the commit
        # (a long transaction could outlive the first one). Outside a transaction
        # on_commit runs at once.
        transaction.on_commit(self.flush_cache)

    # -- state ----------------------------------------------------------------
    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def current_state(self) -> str:
        """The state as users see it: a timed pause that has run out reads as open."""
        if (
            self.state == RoomState.PAUSED
            and self.paused_until is not None
            and self.paused_until <= timezone.now()
        ):
            return RoomState.OPEN
        return self.state

    @property
    def has_password(self) -> bool:
        return bool(self.join_password)

    def set_join_password(self, raw: str | None) -> None:
        """Set (or clear) the join password; share links of the old one stop working."""
        self.join_password = make_password(raw) if raw else ""
        self.reset_share_link()

    def reset_share_link(self) -> None:
        self.share_nonce = secrets.token_hex(8)

    def check_join_password(self, raw: str) -> bool:
        return bool(self.join_password) and check_password(raw, self.join_password)

    def origins(self) -> list[str]:
        return [line.strip() for line in self.allowed_origins.splitlines() if line.strip()]

    def lifetime_left(self) -> timedelta:
        return max(self.expires_at - timezone.now(), timedelta(0))


def hash_token(token: str) -> str:
    """Tokens are stored hashed: a leaked database does not let anyone post as others."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Participant(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="participants")
    nickname = models.CharField(max_length=32)
    # Folded form for uniqueness: "Ann", "ann" and "a\u200bnn" are one nickname.
    nickname_key = models.CharField(max_length=128)
    # A hash of the casefolded confusables skeleton (tm/lookalikes.py): "Теacher" and
    # "Teacher" share it, so a second one cannot join a room that has the first.
    lookalike_key = models.CharField(max_length=128, blank=True)
    # Joined as one of the room's teachers: their posts carry the teacher mark.
    is_teacher = models.BooleanField(default=False)
    # Accountable rooms only; shown to the room's teachers, never to classmates.
    real_name = models.CharField(max_length=100, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    muted = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "nickname_key"], name="unique_nickname_in_room")
        ]

    def __str__(self) -> str:
        return f"{self.nickname} in {self.room_id}"


class MessageStatus(models.TextChoices):
    VISIBLE = "visible", "Visible"
    PENDING = "pending", "Waiting for approval"
    REJECTED = "rejected", "Rejected"
    DELETED = "deleted", "Deleted"


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    # The seq of the event that last made it appear (created, or approved), so history
    # read in seq order matches the order events reached the browsers.
    seq = models.BigIntegerField()
    participant = models.ForeignKey(
        Participant, null=True, on_delete=models.SET_NULL, related_name="messages"
    )
    nickname = models.CharField(max_length=32)
    text = models.TextField()
    # bleach output for `text`: escaped, links made clickable, nothing else.
    html = models.TextField()
    status = models.CharField(
        max_length=8, choices=MessageStatus.choices, default=MessageStatus.VISIBLE
    )
    # Why a post waits: a "moderated" room, the abuse check ("screening"), students'
    # "reports", or a teacher's "teacher" hold.
    held_for = models.CharField(max_length=16, blank=True)
    # Posted by one of the room's teachers: shown with the teacher mark everywhere.
    by_teacher = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["room", "seq"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.nickname}: {self.text[:30]}"


class Report(models.Model):
    """A student's report of a post: once per student and post. Who reported is never
    shown to anyone (teachers see how many); the row only keeps a second report by the
    same student from counting. `decided`: a teacher has ruled on the post since (kept,
    approved, rejected or deleted it), so the report no longer counts."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(Participant, on_delete=models.CASCADE,
                                 related_name="reports_made")
    created_at = models.DateTimeField(default=timezone.now)
    decided = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "reporter"],
                                               name="one_report_per_student")]

    def __str__(self) -> str:
        return f"report of {self.message_id}"


class Event(models.Model):
    """The room's event log and tm's outbox: written with the change it describes."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    type = models.CharField(max_length=32)
    # The whole envelope as published (contract/events.py builds it).
    envelope = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    # Set once a reflektor accepted it (tm/publish.py).
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "seq"], name="unique_event_seq")]

    def __str__(self) -> str:
        return f"{self.room_id}#{self.seq} {self.type}"


class RoomDeletion(models.Model):
    """The outbox row of a room's deletion, which outlives the room (its own outbox went
    with it): until a reflektor has taken the announcement, the outbox relay re-sends it,
    so the push nodes and the collector drop what they hold of the room
    (tm/publish.py, announce_room_deleted). Rows are removed once announced for a day."""

    name = models.CharField(max_length=100)  # the room's name; rooms reuse names
    deleted_at = models.DateTimeField(default=timezone.now)
    announced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["announced_at", "deleted_at"],
                                name="room_deletion_pending")]

    def __str__(self) -> str:
        return f"{self.name} deleted {self.deleted_at:%Y-%m-%d %H:%M}"

    @classmethod
    def recently_deleted(cls, name: str) -> bool:
        """Whether a room of this name was deleted lately (rows last a day past their
        announcement): a page or client that comes back to it hears that it ended
        (410), not that it never existed (404)."""
        return cls.objects.filter(name=name).exists()


class AuditEntry(models.Model):
    """One moderation action in a room: who, when, what (tm/audit.py). Written in the
    transaction of the action; read by the room's teachers; deleted with the room, or
    sooner when it is older than TM_AUDIT_RETENTION_DAYS."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="audit_entries")
    at = models.DateTimeField(default=timezone.now)
    # Who, as the teacher reads it: a user name, "the room's creator" (its owner key),
    # or "tm" for what tm did by itself (a post held by the room's settings).
    actor = models.CharField(max_length=160)
    action = models.CharField(max_length=32)  # tm/audit.py ACTIONS
    # What it was done to: ids, nicknames, settings as changed. Never a post's words.
    detail = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["room", "-id"], name="audit_newest_first"),
                   models.Index(fields=["at"], name="audit_by_age")]

    def __str__(self) -> str:
        return f"{self.room_id} {self.at:%Y-%m-%d %H:%M} {self.actor}: {self.action}"


class RoomModerator(models.Model):
    """Someone besides the room's owner who may moderate it (tm/moderators.py): a
    co-teacher or teaching assistant the owner invited by link, or the owner's own
    link for their other devices. The link's key is shown once and kept hashed; whoever
    opens it moderates in that browser, and a teacher signed in when they open it (or
    later, in that browser) moderates from every device they sign in on. Removing the
    row ends it everywhere."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="moderators")
    # How the owner and the audit log name them ("Ms Ortiz (TA)", "My other devices").
    name = models.CharField(max_length=60)
    key_hash = models.CharField(max_length=64, unique=True)
    # The owner's own link may manage the room's moderators too; an invited one may not.
    owner_level = models.BooleanField(default=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.CASCADE, related_name="moderated_rooms")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["room", "user"],
                                               name="one_grant_per_teacher_and_room")]

    def __str__(self) -> str:
        return f"{self.room_id}: {self.name}"
