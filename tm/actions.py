"""Every write to rooms, participants and messages, and the events they cause.

Views stay thin and call these. Each function does its write and its event in one
transaction: the room's seq is bumped first (taking the write lock), the event row is
the outbox entry, and tm/publish.py sends it once the transaction commits. A
rolled-back write therefore never produces an event.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from contract import events, names

from . import audit, lookalikes, screening, validation
from .errors import ApiError
from .models import (
    Event,
    Message,
    MessageStatus,
    Participant,
    Report,
    Room,
    RoomDeletion,
    RoomState,
    Screening,
    default_language,
    hash_token,
)
from .publish import announce_deleted_on_commit, publish_on_commit
from .render import message_html
from .serializers import message_data


# -- events -----------------------------------------------------------------------
def _next_seq(room: Room) -> int:
    """Take the room's next event number inside the caller's transaction."""
    # The UPDATE takes the row (PostgreSQL) or database (SQLite, IMMEDIATE) write
    # lock, so concurrent writers get consecutive numbers and never the same one.
    # RETURNING (SQLite 3.35+, PostgreSQL) reads the number in the same statement;
    # the ORM's update() cannot, and a second SELECT cost a fifth of a post.
    table = connection.ops.quote_name(Room._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET seq = seq + 1 WHERE id = %s RETURNING seq",  # noqa: S608
                       [room.pk])
        row = cursor.fetchone()
    if row is None:
        raise Room.DoesNotExist(f"room {room.pk} is gone")
    return row[0]


def _record(room: Room, seq: int, event_type: str, data: dict[str, Any]) -> None:
    """Store the event (the outbox row) and have it published after commit."""
    now = timezone.now()
    envelope = events.make(event_type, room.name, seq, data, now)
    event = Event.objects.create(room=room, seq=seq, type=event_type, envelope=envelope,
                                 created_at=now)
    publish_on_commit(event)


def _emit(room: Room, event_type: str, data: dict[str, Any]) -> int:
    seq = _next_seq(room)
    _record(room, seq, event_type, data)
    return seq


def _emit_for_message(room: Room, message: Message, event_type: str) -> int:
    """Number the message with the event that shows it, save it, record the event."""
    message.seq = _next_seq(room)
    message.save()
    _record(room, message.seq, event_type, message_data(message))
    return message.seq


def _audited_settings(room: Room) -> dict[str, Any]:
    """The settings the audit log follows (tm/audit.py settings_changed shows them)."""
    return {"topic": room.topic, "moderated": room.moderated,
            "accountable": room.accountable, "analytics": room.analytics,
            "event_scope": room.event_scope, "screening": room.screening,
            "language": room.language,
            "max_length": room.max_length, "allowed_origins": room.allowed_origins,
            "expires_at": room.expires_at, "password": room.join_password,
            "report_threshold": room.report_threshold,
            "share_link": room.share_nonce, "spotlight": room.spotlight_id}


def _audit_state(room: Room, actor: str, before: tuple[str, datetime | None]) -> None:
    """An entry for a pause, a reopening or a closing, if the state changed."""
    state, until = room.current_state, room.paused_until
    if (state, until) == before:
        return
    if state == RoomState.PAUSED:
        audit.record(room, actor, "room.paused", until=events.iso_utc(until) if until else None)
    elif state == RoomState.OPEN and before[0] != RoomState.OPEN:
        audit.record(room, actor, "room.opened")
    elif state == RoomState.CLOSED and before[0] != RoomState.CLOSED:
        audit.record(room, actor, "room.closed")


def _room_data(room: Room) -> dict[str, Any]:
    return {
        "topic": room.topic,
        "state": room.current_state,
        "paused_until": events.iso_utc(room.paused_until) if room.paused_until else None,
        "moderated": room.moderated,
        "expires_at": events.iso_utc(room.expires_at),
        # The analytics collector reads these to decide where a room's posts count.
        "analytics": room.analytics,
        "event_scope": room.event_scope,
        "spotlight": room.spotlight_id,
    }


# -- room checks ----------------------------------------------------------------
def check_live(room: Room) -> None:
    if room.is_expired:
        raise ApiError(410, "room_expired", f"the room {room.name} has expired")


def check_open_for_posts(room: Room) -> None:
    check_live(room)
    state = room.current_state
    if state == RoomState.CLOSED:
        raise ApiError(403, "room_closed", "the teacher has closed this room")
    if state == RoomState.PAUSED:
        until = f" until {room.paused_until:%H:%M} UTC" if room.paused_until else ""
        raise ApiError(403, "room_paused", f"the teacher has paused this room{until}")


# -- rooms --------------------------------------------------------------------------
def create_room(
    *, name: str, lifetime: int, topic: str = "", owner=None, moderated: bool = False,
    accountable: bool = False, password: str = "", screening: str = Screening.STANDARD,
    language: str | None = None,
    max_length: int = 140, allowed_origins: str = "", analytics: bool = False,
    event_scope: str | None = None, report_threshold: int = 3,
) -> tuple[Room, str | None]:
    """Create a room (arguments already validated). Returns (room, owner key or None).

    A room created without a signed-in teacher gets an owner key, shown once, which
    lets its creator moderate it from that browser.
    """
    owner_key = None if owner else secrets.token_urlsafe(24)
    now = timezone.now()
    try:
        with transaction.atomic():
            existing = Room.objects.filter(name=name).first()
            if existing is not None:
                if not existing.is_expired:
                    raise ApiError(409, "name_taken", f"a room called {name} already exists",
                                   fields={"name": "that name is taken; pick another"})
                # Names are unique among live rooms: an expired one gives its name up,
                # and its deletion is announced like any other (the push nodes end its
                # streams and refuse its tickets, the collector drops its counts).
                # Deleted as of the new room's creation, not a moment after it: a node
                # refuses tickets of rooms created before a deletion of their name.
                _delete_and_announce(existing, deleted_at=now)
            room = Room(
                name=name, topic=topic, owner=owner, created_at=now,
                expires_at=now + timedelta(seconds=lifetime), moderated=moderated,
                accountable=accountable, screening=screening,
                language=language or default_language(),
                max_length=max_length, allowed_origins=allowed_origins,
                analytics=analytics, report_threshold=report_threshold,
                # A private room (password, accountable) counts in a shared event
                # only when its teacher says so: never by default.
                event_scope=(event_scope if event_scope is not None
                             else "" if password or accountable
                             else names.default_event(name)),
                owner_key_hash=hash_token(owner_key) if owner_key else "",
            )
            room.set_join_password(password)
            room.save()
            audit.record(room, owner.get_username() if owner else audit.CREATOR,
                         "room.created", settings=audit.settings_at_creation(
                             _audited_settings(room)))
            # The room's first event: its settings, so that every service that follows
            # the room's events knows them from the start (the analytics collector
            # learns from it where the room's posts count, and never asks tm).
            _emit(room, events.ROOM_UPDATED, _room_data(room))
            room.seq = 1
    except IntegrityError:
        raise ApiError(409, "name_taken", f"a room called {name} already exists",
                       fields={"name": "that name is taken; pick another"}) from None
    return room, owner_key


def announce_unannounced_rooms() -> int:
    """Give every live room without a room.updated event one, with its settings (rooms
    made before a room's first event was its settings). Returns how many."""
    announced = 0
    quiet = (Room.objects.filter(expires_at__gt=timezone.now())
             .exclude(events__type=events.ROOM_UPDATED).values_list("pk", flat=True))
    for pk in quiet:
        with transaction.atomic():
            room = Room.objects.select_for_update().filter(pk=pk).first()
            if room is None or room.events.filter(type=events.ROOM_UPDATED).exists():
                continue  # deleted, or announced meanwhile
            _emit(room, events.ROOM_UPDATED, _room_data(room))
            announced += 1
        room.flush_cache()
    return announced


def update_room(room: Room, changes: dict[str, Any], *, actor: str) -> Room:
    """Apply validated settings changes; publishes room.updated when users see a change.
    `actor`: who, for the audit log (tm/auth.py moderator_name)."""
    with transaction.atomic():
        # Locked: save() below writes every column, seq included, and a post that
        # committed between an unlocked read and that save would have its seq undone
        # (PostgreSQL; SQLite's IMMEDIATE transactions already serialise writers).
        # The event's seq is taken after the save, by an UPDATE of the column alone.
        room = Room.objects.select_for_update().get(pk=room.pk)
        # Compared with the locked row, not the caller's (cached) copy: that one may
        # be behind, and a change it happens to match would send no room.updated.
        before = _room_data(room)
        settings_before = _audited_settings(room)
        longest = timedelta(seconds=validation.longest_lifetime())
        state_before = (room.current_state, room.paused_until)
        had_password, was_accountable = room.has_password, room.accountable
        for field, value in changes.items():
            if field == "password":
                room.set_join_password(value)
            elif field == "reset_share_link":
                if value:
                    room.reset_share_link()
            elif field == "spotlight":
                room.spotlight_id = value
            elif field == "lifetime":
                # From now, and never past the operator's longest life from creation.
                room.expires_at = min(timezone.now() + timedelta(seconds=value),
                                      room.created_at + longest)
            elif field == "pause_minutes":
                room.state = RoomState.PAUSED
                room.paused_until = timezone.now() + timedelta(minutes=value) if value else None
            elif field == "state":
                room.state = value
                if value != RoomState.PAUSED:
                    room.paused_until = None
            else:
                setattr(room, field, value)
        # Saved before the event is recorded, so that on commit the room's cache is
        # flushed (Room.save) before the event is published: a client that hears of
        # the change and reads the room must not get the cached copy from before it.
        # A room that becomes private (a password, real names) stops counting in its
        # shared event, unless this same change picks another event. The settings form
        # sends the current event with every save, so "unchanged" is no choice; to go
        # on counting, the teacher names the event again once the room is private.
        became_private = ((room.has_password or room.accountable)
                          and not (had_password or was_accountable))
        if became_private and room.event_scope == before["event_scope"]:
            room.event_scope = ""
        room.save()
        changed = audit.settings_changed(settings_before, _audited_settings(room))
        if changed:
            audit.record(room, actor, "room.settings", changed=changed)
        _audit_state(room, actor, state_before)
        if _room_data(room) != before:
            _emit(room, events.ROOM_UPDATED, _room_data(room))
            room.seq = Room.objects.filter(pk=room.pk).values_list("seq", flat=True).get()
    return room


def delete_room(room: Room) -> None:
    """Delete the room and everything in it (participants, messages, events)."""
    with transaction.atomic():
        _delete_and_announce(room)
    room.flush_cache()


def _delete_and_announce(room: Room, deleted_at: datetime | None = None) -> None:
    """In the caller's transaction: delete the room; once that commits, the push nodes
    and the collector drop what they hold of it. The row is the announcement's outbox
    (the relay re-sends it if it is lost)."""
    Room.objects.filter(pk=room.pk).delete()
    announce_deleted_on_commit(RoomDeletion.objects.create(
        name=room.name, deleted_at=deleted_at or timezone.now()))


def purge_expired_rooms(now: datetime | None = None, dry_run: bool = False) -> list[str]:
    """Delete rooms whose lifetime is over, with all their data. Returns their names.

    A room made when the operator allowed longer lives than TM_MAX_ROOM_DAYS now does
    first gets the shorter life (its pages are told), so no room outlives the limit."""
    now = now or timezone.now()
    longest = timedelta(seconds=validation.longest_lifetime())
    over = Q(expires_at__lte=now) | Q(created_at__lte=now - longest)
    names = list(Room.objects.filter(over).values_list("name", flat=True))
    if dry_run:
        return names
    for name in names:
        room = Room.objects.filter(Q(name=name) & over).first()
        if room is not None:
            delete_room(room)
    for room in Room.objects.filter(expires_at__gt=F("created_at") + longest):
        update_room(room, {"expires_at": room.created_at + longest}, actor=audit.TM)
    return names


# -- participants ---------------------------------------------------------------
def join_room(room: Room, *, nickname: str, nickname_key: str, real_name: str = "",
              password: str = "", moderator: bool = False) -> tuple[Participant, str]:
    """Add a participant; returns it and its token (shown once, stored hashed).

    `moderator`: the room's teacher, who needs no join password and may join a closed
    room (to post a last word before reopening it, say)."""
    check_live(room)
    if room.current_state == RoomState.CLOSED and not moderator:
        raise ApiError(403, "room_closed", "the teacher has closed this room")
    if room.has_password and not moderator and not room.check_join_password(password):
        raise ApiError(403, "wrong_password", "that is not the room's password",
                       fields={"password": "ask your teacher for the room's password"})
    if not moderator and lookalikes.poses_as_staff(nickname):
        raise ApiError(400, "reserved_nickname", "that nickname is kept for the room's "
                       "teachers; pick another", fields={"nickname": "pick another nickname"})
    capacity = settings.TM_ROOM_CAPACITY
    token = secrets.token_urlsafe(32)
    lookalike = lookalikes.lookalike_key(nickname)
    taken = ApiError(409, "nickname_taken", f"someone in {room.name} is already {nickname}, "
                     "or has a nickname that looks the same",
                     fields={"nickname": "that nickname is taken here; pick another"})
    try:
        with transaction.atomic():
            # Looked up in the transaction that adds the row (SQLite's IMMEDIATE mode
            # serialises joins; on PostgreSQL two lookalikes joining in the same
            # instant could both get in, and the exact-key constraint still holds).
            if not moderator and Participant.objects.filter(room=room).count() >= capacity:
                raise ApiError(403, "room_full", f"this room is full ({capacity} people): "
                               "ask your teacher", fields={"nickname": "the room is full"})
            if Participant.objects.filter(room=room, lookalike_key=lookalike).exists():
                raise taken
            participant = Participant.objects.create(
                room=room, nickname=nickname, nickname_key=nickname_key,
                lookalike_key=lookalike, is_teacher=moderator,
                real_name=real_name if room.accountable else "", token_hash=hash_token(token),
            )
    except IntegrityError:
        raise taken from None
    return participant, token


def set_muted(room: Room, participant_id: int, muted: bool, *, actor: str) -> Participant:
    with transaction.atomic():
        participant = (Participant.objects.select_for_update()
                       .filter(room=room, pk=participant_id).first())
        if participant is None:
            raise ApiError(404, "not_found", "no such participant in this room")
        if participant.muted != muted:
            participant.muted = muted
            participant.save(update_fields=["muted"])
            audit.record(room, actor, "participant.muted" if muted else "participant.unmuted",
                         **audit.about_participant(participant))
    return participant


# -- messages -------------------------------------------------------------------
def post_message(room: Room, participant: Participant, raw_text: Any) -> Message:
    check_open_for_posts(room)
    if participant.muted:
        raise ApiError(403, "muted", "the teacher has muted you in this room")
    try:
        text = validation.message_text(raw_text, room.max_length)
    except validation.Invalid as error:
        # A text over the room's limit is a field to fix, like any other (400); only a
        # body over the request limit is "too large" (413, tm/errors.py read_json).
        raise ApiError(400, "invalid", error.message, fields={"text": error.message}) from None
    held_for, reason = "", ""
    if not participant.is_teacher:  # the teacher's own posts go out
        hold = screening.screen(text, room.language, room.screening)
        if hold is not None:
            held_for, reason = HELD_FOR_SCREENING, hold.describe()
        elif room.moderated:
            held_for, reason = "moderated", HOLD_REASONS["moderated"]
    with transaction.atomic():
        status = MessageStatus.PENDING if held_for else MessageStatus.VISIBLE
        message = Message(room=room, participant=participant, nickname=participant.nickname,
                          text=text, html=message_html(text), status=status,
                          held_for=held_for, by_teacher=participant.is_teacher, seq=0)
        # The event carries the message id, so the row comes first, numbered after.
        event_type = events.MESSAGE_PENDING if held_for else events.MESSAGE_CREATED
        _emit_for_message(room, message, event_type)
        if held_for:
            audit.record(room, audit.TM, "message.held", **audit.about_message(message),
                         reason=reason)
    return message


HELD_FOR_SCREENING = "screening"
HELD_FOR_TEACHER = "teacher"
HOLD_REASONS = {"moderated": "the room holds every post",
                "reports": "students reported it",
                HELD_FOR_TEACHER: "a teacher took it back to look at"}


def _message_in(room: Room, message_id: int) -> Message:
    """The message, locked for the caller's transaction: an approve racing a delete
    must not save the pending copy it read over the deletion."""
    message = Message.objects.select_for_update().filter(room=room, pk=message_id).first()
    if message is None or message.status in (MessageStatus.DELETED, MessageStatus.REJECTED):
        raise ApiError(404, "not_found", "no such message in this room")
    return message


def delete_message(room: Room, message_id: int, *, actor: str) -> None:
    """Remove a message for everyone; its words are wiped, its number stays taken."""
    with transaction.atomic():
        message = _message_in(room, message_id)
        _decide_reports(message)
        audit.record(room, actor, "message.deleted", **audit.about_message(message))
        _wipe(room, message)


def delete_own_message(room: Room, participant: Participant, message_id: int) -> None:
    """A student takes back a post of theirs (visible, or still waiting for approval)."""
    with transaction.atomic():
        message = _message_in(room, message_id)
        if message.participant_id != participant.pk:
            raise ApiError(403, "not_yours", "you can delete your own posts; the room's "
                           "teachers can delete any")
        Report.objects.filter(message=message).delete()
        _wipe(room, message)


def _wipe(room: Room, message: Message) -> None:
    """In the caller's transaction: the post is deleted for everyone (its event), its
    words wiped from the database; its number stays taken."""
    _emit(room, events.MESSAGE_DELETED, {"id": message.pk})
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.DELETED, text="", html="")
    _redact_events(room, [message.pk])
    _end_spotlight(room, message.pk)


def _end_spotlight(room: Room, message_id: int) -> None:
    """In the caller's transaction: a post leaving the room leaves the projector too."""
    fresh = Room.objects.filter(pk=room.pk, spotlight_id=message_id).first()
    if fresh is not None:
        fresh.spotlight_id = None
        fresh.save(update_fields=["spotlight_id"])  # flushes the room's cache
        _emit(room, events.ROOM_UPDATED, _room_data(fresh))


# The events that carry a post's words (and its author's nickname).
_WORDS_EVENTS = (events.MESSAGE_CREATED, events.MESSAGE_PENDING)


def _redact_events(room: Room, message_ids: list[int], nickname: bool = False) -> None:
    """Wipe a removed post's words from the room's event log (the outbox), where the
    events that showed it keep them otherwise until the room goes; with `nickname`,
    its author's nickname too (a student who left). The rows stay, numbered, so the
    outbox relay and history reads are unchanged; one not yet published goes out
    without the words, and its deletion follows it."""
    # One query for them all: the room's events are read once, whatever the number.
    for event in Event.objects.filter(room=room, type__in=_WORDS_EVENTS,
                                      envelope__data__id__in=message_ids):
        data = event.envelope["data"]
        data.update(text="", html="")
        if nickname:
            data["nickname"] = ""
        event.save(update_fields=["envelope"])


def erase_participant(room: Room, participant_id: int, *, actor: str | None,
                      leave: bool = False) -> int:
    """Every post of a participant deleted for everyone, their words wiped; how many.

    A teacher erasing a student's posts (`actor`, the teacher) leaves the student in
    the room. A student leaving (`leave`, no actor) goes with their posts: their
    nickname is wiped from their posts' rows and from the room's audit log, their
    reports go, and their participant row (its token with it)."""
    with transaction.atomic():
        participant = (Participant.objects.select_for_update()
                       .filter(room=room, pk=participant_id).first())
        if participant is None:
            raise ApiError(404, "not_found", "no such participant in this room")
        posts = list(Message.objects.select_for_update()
                     .filter(room=room, participant=participant,
                             status__in=[MessageStatus.VISIBLE, MessageStatus.PENDING])
                     .order_by("seq"))
        for message in posts:
            Report.objects.filter(message=message).delete()
            _wipe(room, message)
        if not leave:
            assert actor is not None
            audit.record(room, actor, "participant.erased",
                         **audit.about_participant(participant), posts=len(posts))
            return len(posts)
        _redact_events(room, list(Message.objects.filter(room=room, participant=participant)
                                  .values_list("pk", flat=True)), nickname=True)
        Message.objects.filter(room=room, participant=participant).update(nickname="")
        audit.forget_nickname(room, participant.nickname)
        audit.record(room, audit.STUDENT, "participant.left", posts=len(posts))
        participant.delete()
    return len(posts)


def approve_message(room: Room, message_id: int, *, actor: str) -> Message:
    with transaction.atomic():
        message = _message_in(room, message_id)
        if message.status != MessageStatus.PENDING:
            raise ApiError(409, "not_pending", "that message is not waiting for approval")
        message.status = MessageStatus.VISIBLE
        message.held_for = ""
        _decide_reports(message)
        _emit_for_message(room, message, events.MESSAGE_CREATED)
        audit.record(room, actor, "message.approved", **audit.about_message(message))
    return message


def reject_message(room: Room, message_id: int, *, actor: str) -> None:
    with transaction.atomic():
        message = _message_in(room, message_id)
        if message.status != MessageStatus.PENDING:
            raise ApiError(409, "not_pending", "that message is not waiting for approval")
        _decide_reports(message)
        _emit(room, events.MESSAGE_DELETED, {"id": message_id})
        audit.record(room, actor, "message.rejected", **audit.about_message(message))
        Message.objects.filter(pk=message_id).update(
            status=MessageStatus.REJECTED, text="", html="")
        _redact_events(room, [message_id])


# -- reports ------------------------------------------------------------------------
def report_message(room: Room, participant: Participant, message_id: int) -> bool:
    """A student reports a post; False when they had reported it already (nothing
    changes). The room's teachers hear of it at once (message.reported: how many, never
    who). At the room's threshold the post is hidden from students until a teacher
    decides: deleted for everyone, and held in the teachers' queue (message.pending,
    held_for "reports"), from where approving shows it again and rejecting removes it."""
    check_live(room)
    if participant.is_teacher:
        raise ApiError(400, "not_reportable", "the room's teachers remove posts instead "
                       "of reporting them")
    with transaction.atomic():
        message = (Message.objects.select_for_update()
                   .filter(room=room, pk=message_id).first())
        hidden = (message is not None and message.status == MessageStatus.PENDING
                  and message.held_for == HELD_FOR_REPORTS)
        if message is None or not (message.status == MessageStatus.VISIBLE or hidden):
            raise ApiError(404, "not_found", "no such message in this room")
        if message.participant_id == participant.pk:
            raise ApiError(400, "own_message", "you cannot report your own post")
        if message.by_teacher:
            raise ApiError(400, "not_reportable", "posts by the room's teachers cannot be "
                           "reported here")
        _, created = Report.objects.get_or_create(message=message, reporter=participant)
        if not created:
            return False
        count = Report.objects.filter(message=message, decided=False).count()
        _emit(room, events.MESSAGE_REPORTED, {"id": message.pk, "reports": count})
        threshold = room.report_threshold
        if threshold and count >= threshold and message.status == MessageStatus.VISIBLE:
            _take_back(room, message, HELD_FOR_REPORTS)
            audit.record(room, audit.TM, "message.hidden", **audit.about_message(message),
                         reports=count)
    return True


def hold_message(room: Room, message_id: int, *, actor: str) -> Message:
    """A teacher takes a post the class can see back into the queue, to think it over:
    gone from every student's screen at once, approved (shown again) or rejected later."""
    with transaction.atomic():
        message = _message_in(room, message_id)
        if message.status != MessageStatus.VISIBLE:
            raise ApiError(409, "not_visible", "that post already waits for approval")
        _take_back(room, message, HELD_FOR_TEACHER)
        audit.record(room, actor, "message.held", **audit.about_message(message),
                     reason=HOLD_REASONS[HELD_FOR_TEACHER])
    return message


def _take_back(room: Room, message: Message, held_for: str) -> None:
    """In the caller's transaction: a visible post is deleted for everyone (so no push
    node replays it to a student) and held in the teachers' queue (a new number: it is
    news there), its words kept for the teachers to decide on."""
    _emit(room, events.MESSAGE_DELETED, {"id": message.pk})
    _end_spotlight(room, message.pk)
    message.status = MessageStatus.PENDING
    message.held_for = held_for
    _emit_for_message(room, message, events.MESSAGE_PENDING)


def keep_message(room: Room, message_id: int, *, actor: str) -> Message:
    """A teacher rules that a reported post stays: its reports stop counting, and one
    that reports hid is shown again (as an approval is)."""
    with transaction.atomic():
        message = _message_in(room, message_id)
        reports = _decide_reports(message)
        if message.status == MessageStatus.PENDING:
            if message.held_for != HELD_FOR_REPORTS:
                raise ApiError(409, "not_reported", "that post waits for approval: approve "
                               "or reject it")
            message.status = MessageStatus.VISIBLE
            message.held_for = ""
            _emit_for_message(room, message, events.MESSAGE_CREATED)
        elif not reports:
            raise ApiError(409, "not_reported", "nobody has reported that post")
        audit.record(room, actor, "message.kept", **audit.about_message(message),
                     reports=reports)
    return message


def _decide_reports(message: Message) -> int:
    """A teacher has ruled on the post: its reports stop counting. How many did."""
    return Report.objects.filter(message=message, decided=False).update(decided=True)


HELD_FOR_REPORTS = "reports"
