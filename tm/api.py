"""The public JSON API under /api/v1 (ARCHITECTURE.md, Public JSON API).

Views parse and check input, ask tm/auth.py who is calling, and hand the write to
tm/actions.py. Every client mistake becomes an ApiError: a 4xx in the one JSON shape.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, JsonResponse

from contract import events

from . import actions, audit, incidents, tickets, validation
from .auth import (
    OWNER_COOKIE,
    PARTICIPANT_COOKIE,
    can_read,
    enforce_csrf,
    is_moderator,
    moderator_name,
    optional_participant,
    participant_for,
    require_moderator,
    require_owner,
    set_room_cookie,
)
from .errors import ApiError, api_view, bad_field, read_json
from .fields import choice, field, only
from .joining import join_with_limits
from .models import (
    AuditEntry,
    Event,
    Message,
    MessageStatus,
    Participant,
    Room,
    RoomDeletion,
    RoomState,
)
from .ratelimits import limit
from .reports import reported_posts
from .room_settings import CREATE_FIELDS, parse_room_settings, spotlight_target
from .serializers import message_json, participant_json, room_json

HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX = 200, 500
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,20}")


# -- helpers --------------------------------------------------------------------
def room_or_404(name: str) -> Room:
    try:
        clean = validation.room_name(name)
    except validation.Invalid:
        raise ApiError(404, "room_not_found", "no room by that name") from None
    room = Room.get(clean)
    if room is None:
        if RoomDeletion.recently_deleted(clean):
            raise ApiError(410, "room_ended", f"the room {clean} has ended and its "
                           "messages are deleted")
        raise ApiError(404, "room_not_found", f"there is no room called {clean}")
    return room


def live_room_or_error(name: str) -> Room:
    room = room_or_404(name)
    actions.check_live(room)
    return room


def moderated_room(request: HttpRequest, name: str, live: bool = True) -> tuple[Room, str]:
    """The room (live, unless `live` is False: a teacher may still delete in an expired
    one) and who moderates it, as the audit log names them; 401 or 403 for anyone else."""
    the_room = live_room_or_error(name) if live else room_or_404(name)
    require_moderator(request, the_room)
    return the_room, moderator_name(request, the_room)


# -- rooms ------------------------------------------------------------------------
@api_view("POST")
def rooms(request: HttpRequest) -> HttpResponse:
    limit(request, "create-room", "TM_RATE_CREATE_ROOM_PER_CLIENT")
    if request.user.is_authenticated:
        enforce_csrf(request)  # the session cookie is ambient: the room would be theirs
    data = read_json(request)
    only(data, CREATE_FIELDS)
    if "name" not in data:
        raise bad_field("name", "a room needs a name")
    name = field(data, "name", validation.room_name)
    owner = request.user if request.user.is_authenticated else None
    room, owner_key = actions.create_room(name=name, owner=owner,
                                          **parse_room_settings(data, creating=True))
    body = room_json(room, room.seq, moderator=True)
    body["follow"] = tickets.issue(room, tickets.MODERATOR)
    if owner_key:
        body["owner_key"] = owner_key
    response = JsonResponse(body, status=201)
    if owner_key:
        set_room_cookie(response, request, OWNER_COOKIE.format(room=room.name), owner_key, room)
    return response


PATCH_FIELDS = {"topic", "state", "pause_minutes", "lifetime", "moderated", "accountable",
                "analytics", "event_scope", "reset_share_link",
                "password", "screening", "language", "max_length", "allowed_origins",
                "report_threshold", "spotlight"}


@api_view("GET", "PATCH", "DELETE")
def room_detail(request: HttpRequest, room: str) -> HttpResponse:
    the_room = room_or_404(room)
    if request.method == "GET":
        actions.check_live(the_room)
        moderator = is_moderator(request, the_room, check_csrf=False)
        # State and seq from one read of the row, not the cached copy and a later seq:
        # clients keep or drop this answer by its seq against the room events they
        # applied, so the seq must be the one of exactly this state.
        fresh = Room.objects.filter(pk=the_room.pk).first() or the_room
        return JsonResponse(room_json(fresh, fresh.seq, moderator=moderator))
    require_moderator(request, the_room)
    if request.method == "DELETE":
        require_owner(request, the_room)
        actions.delete_room(the_room)
        return HttpResponse(status=204)
    data = read_json(request)
    only(data, PATCH_FIELDS)
    changes = parse_room_settings(data, creating=False)
    if "state" in data:
        changes["state"] = field(data, "state", choice, "state", list(RoomState.values))
    if "reset_share_link" in data:
        changes["reset_share_link"] = field(data, "reset_share_link", validation.flag,
                                             "reset_share_link")
    if "pause_minutes" in data:
        value = data["pause_minutes"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 1 <= value <= 24 * 60):
            raise bad_field("pause_minutes", "pause_minutes must be 1 to 1440, or null")
        changes["pause_minutes"] = value
    if "spotlight" in data:
        changes["spotlight"] = spotlight_target(the_room, data["spotlight"])
    if "lifetime" not in changes:
        actions.check_live(the_room)  # an expired room can only be revived by a lifetime
    updated = actions.update_room(the_room, changes,
                                  actor=moderator_name(request, the_room))
    return JsonResponse(room_json(updated, updated.stored_seq(), moderator=True))


# -- participants -------------------------------------------------------------------
@api_view("POST")
def join(request: HttpRequest, room: str) -> HttpResponse:
    the_room = live_room_or_error(room)
    limit(request, "join", "TM_RATE_JOIN_PER_CLIENT")
    data = read_json(request)
    only(data, {"nickname", "real_name", "password"})
    if "nickname" not in data:
        raise bad_field("nickname", "pick a nickname")
    nickname, key = field(data, "nickname", validation.nickname)
    real_name = ""
    if the_room.accountable:
        if "real_name" not in data:
            raise bad_field("real_name", "this room asks for your real name (only your "
                            "teacher sees it)")
        real_name = field(data, "real_name", validation.real_name)
    password = field(data, "password", validation.password) if "password" in data else ""
    # The room's teacher (owner key, or signed in) joins as a teacher: no password, the
    # teacher mark on their posts, names kept from students allowed.
    participant, token = join_with_limits(request, the_room, nickname=nickname,
                                          nickname_key=key, real_name=real_name,
                                          password=password,
                                          moderator=is_moderator(request, the_room))
    response = JsonResponse(
        {"nickname": participant.nickname, "token": token, "id": participant.pk,
         "follow": tickets.issue(the_room, tickets.MODERATOR if participant.is_teacher
                                 else tickets.STUDENT)}, status=201)
    set_room_cookie(response, request, PARTICIPANT_COOKIE.format(room=the_room.name), token,
                the_room)
    return response


@api_view("POST")
def ticket(request: HttpRequest, room: str) -> HttpResponse:
    """A fresh follow ticket (tm/tickets.py) for whoever may read the room's history:
    its teachers, its participants (bearer token or cookie), anyone for a room without
    a password, the share link's `?key=` for one with; `?role=` asks for no more than
    that role. No CSRF check, though cookies
    may be what authenticates: the call changes nothing, and another site's page that
    makes it cannot read the answer (tm sends no CORS headers)."""
    the_room = live_room_or_error(room)
    limit(request, "ticket", "TM_RATE_TICKET_PER_CLIENT")
    follow = tickets.for_request(request, the_room, request.GET.get("role"))
    if follow is None:
        raise ApiError(403, "password_required", "join the room to follow it")
    return JsonResponse(follow)


@api_view("GET")
def participants(request: HttpRequest, room: str) -> HttpResponse:
    the_room, _ = moderated_room(request, room)
    people = Participant.objects.filter(room=the_room).order_by("nickname_key")
    return JsonResponse({"participants": [participant_json(p, moderator=True) for p in people]})


@api_view("DELETE")
def leave(request: HttpRequest, room: str) -> HttpResponse:
    """A student leaves the room: their posts are deleted for everyone, their nickname
    and token go (tm/actions.py erase_participant); how many posts went."""
    the_room = room_or_404(room)
    student = participant_for(request, the_room)
    erased = actions.erase_participant(the_room, student.pk, actor=None, leave=True)
    response = JsonResponse({"left": True, "posts_deleted": erased})
    response.delete_cookie(PARTICIPANT_COOKIE.format(room=the_room.name), samesite="Lax")
    return response


@api_view("POST")
def erase(request: HttpRequest, room: str, participant_id: int) -> HttpResponse:
    """A teacher erases every post of a participant, who stays in the room."""
    the_room, actor = moderated_room(request, room, live=False)
    erased = actions.erase_participant(the_room, participant_id, actor=actor)
    return JsonResponse({"posts_deleted": erased})


@api_view("POST")
def mute(request: HttpRequest, room: str, participant_id: int) -> HttpResponse:
    the_room, actor = moderated_room(request, room)
    data = read_json(request)
    only(data, {"muted"})
    muted = field(data, "muted", validation.flag, "muted") if "muted" in data else True
    participant = actions.set_muted(the_room, participant_id, muted, actor=actor)
    return JsonResponse(participant_json(participant, moderator=True))


# -- messages -----------------------------------------------------------------------
def _int_param(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    # ASCII digits only: int() would also take " 5", "+5", "1_0" and "٣".
    if not WHOLE_NUMBER.fullmatch(raw):
        raise bad_field(name, f"{name} must be a whole number")
    value = int(raw)
    if not low <= value <= high:
        raise bad_field(name, f"{name} must be between {low} and {high}")
    return value


@api_view("GET", "POST")
def messages(request: HttpRequest, room: str) -> HttpResponse:
    the_room = live_room_or_error(room)
    if request.method == "POST":
        return _post_message(request, the_room)
    if not can_read(request, the_room):
        raise ApiError(403, "password_required", "join the room to read it")
    after = _int_param(request, "after", 0, 0, 2**62)
    count = _int_param(request, "limit", HISTORY_LIMIT_DEFAULT, 1, HISTORY_LIMIT_MAX)
    seq = the_room.stored_seq()
    page = list(
        Message.objects.filter(room=the_room, seq__gt=after, status=MessageStatus.VISIBLE)
        .order_by("seq")[: count + 1]
    )
    has_more = len(page) > count
    page = page[:count]
    # Deletions after `after`, up to where this page reaches, so a client resuming
    # from `after` can drop what it holds that is gone.
    upto = page[-1].seq if has_more else seq
    deleted = list(
        Event.objects.filter(room=the_room, type=events.MESSAGE_DELETED, seq__gt=after,
                             seq__lte=upto).values_list("envelope__data__id", flat=True)
    )
    return JsonResponse({
        "room": the_room.name,
        "seq": upto,
        "has_more": has_more,
        "messages": [message_json(m) for m in page],
        "deleted": deleted,
    })


def _post_message(request: HttpRequest, room: Room) -> HttpResponse:
    limit(request, "post-client", "TM_RATE_POST_PER_CLIENT")
    participant = participant_for(request, room)
    limit(request, "post-participant", "TM_RATE_POST_PER_PARTICIPANT",
          key=f"p{participant.pk}")
    data = read_json(request)
    only(data, {"text"})
    if "text" not in data:
        raise bad_field("text", "write something first")
    message = actions.post_message(room, participant, data["text"])
    return JsonResponse(message_json(message), status=201)


@api_view("GET")
def audit_log(request: HttpRequest, room: str) -> HttpResponse:
    """The room's audit log for its teachers, newest first, `limit` at a time;
    `before=<id>` reads on from an entry."""
    the_room, _ = moderated_room(request, room, live=False)
    count = _int_param(request, "limit", HISTORY_LIMIT_DEFAULT, 1, HISTORY_LIMIT_MAX)
    before = _int_param(request, "before", 0, 0, 2**62)
    entries = AuditEntry.objects.filter(room=the_room).order_by("-id")
    if before:
        entries = entries.filter(id__lt=before)
    page = list(entries[: count + 1])
    return JsonResponse({"entries": [audit.entry_json(e) for e in page[:count]],
                         "has_more": len(page) > count})


@api_view("POST")
def report(request: HttpRequest, room: str, message_id: int) -> HttpResponse:
    """A student reports a post (once; nobody learns who)."""
    the_room = live_room_or_error(room)
    participant = participant_for(request, the_room)
    limit(request, "report-participant", "TM_RATE_REPORT_PER_PARTICIPANT",
          key=f"p{participant.pk}")
    actions.report_message(the_room, participant, message_id)
    return JsonResponse({"reported": True})


@api_view("POST")
def keep(request: HttpRequest, room: str, message_id: int) -> HttpResponse:
    """A teacher keeps a reported post: its reports are dismissed, a hidden one shows."""
    the_room, actor = moderated_room(request, room)
    return JsonResponse(message_json(actions.keep_message(the_room, message_id, actor=actor)))


@api_view("GET")
def incident_file(request: HttpRequest, room: str, message_id: int) -> HttpResponse:
    """A post as a school's incident process needs it (tm/incidents.py), to download:
    JSON, or `?format=txt` to read and print."""
    the_room, actor = moderated_room(request, room, live=False)
    text = request.GET.get("format") == "txt"
    if request.GET.get("format") not in (None, "json", "txt"):
        raise bad_field("format", "format is json or txt")
    file = incidents.incident(the_room, message_id, actor)
    name = f"tm-{the_room.name}-post-{message_id}-incident.{'txt' if text else 'json'}"
    response = (HttpResponse(incidents.as_text(file), content_type="text/plain; charset=utf-8")
                if text else JsonResponse(file, json_dumps_params={"indent": 1}))
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@api_view("GET")
def reports(request: HttpRequest, room: str) -> HttpResponse:
    """Reported posts a teacher has not ruled on, most reported first, each with the
    posts around it; how many reported it, never who."""
    the_room, _ = moderated_room(request, room)
    return JsonResponse({"reports": reported_posts(the_room)})


@api_view("GET")
def pending(request: HttpRequest, room: str) -> HttpResponse:
    the_room, _ = moderated_room(request, room)
    held = Message.objects.filter(room=the_room, status=MessageStatus.PENDING).order_by("seq")
    return JsonResponse({"messages": [message_json(m) for m in held]})


@api_view("GET", "DELETE")
def message_detail(request: HttpRequest, room: str, message_id: int) -> HttpResponse:
    """GET: one post the class can see, for whoever reads the room (the projector's
    spotlight of an older post). DELETE: the room's teachers delete any post (in an
    expired room too); a student, their own (a student's token that is not the author's
    gets 403 not_yours)."""
    if request.method == "GET":
        return _one_message(request, live_room_or_error(room), message_id)
    the_room = room_or_404(room)
    student = optional_participant(request, the_room, check_csrf=False)
    if student is not None and not is_moderator(request, the_room, check_csrf=False):
        student = participant_for(request, the_room)  # a cookie needs its CSRF token
        actions.delete_own_message(the_room, student, message_id)
        return HttpResponse(status=204)
    the_room, actor = moderated_room(request, room, live=False)
    actions.delete_message(the_room, message_id, actor=actor)
    return HttpResponse(status=204)


@api_view("POST")
def hold(request: HttpRequest, room: str, message_id: int) -> HttpResponse:
    """A teacher takes a visible post back into the queue (hidden from students)."""
    the_room, actor = moderated_room(request, room)
    return JsonResponse(message_json(actions.hold_message(the_room, message_id, actor=actor)))


def _one_message(request: HttpRequest, room: Room, message_id: int) -> HttpResponse:
    if not can_read(request, room):
        raise ApiError(403, "password_required", "join the room to read it")
    message = Message.objects.filter(room=room, pk=message_id,
                                     status=MessageStatus.VISIBLE).first()
    if message is None:
        raise ApiError(404, "not_found", "no such message in this room")
    return JsonResponse(message_json(message))


@api_view("POST")
def approve(request: HttpRequest, room: str, message_id: int) -> HttpResponse:
    the_room, actor = moderated_room(request, room)
    return JsonResponse(message_json(actions.approve_message(the_room, message_id,
                                                             actor=actor)))


@api_view("POST")
def reject(request: HttpRequest, room: str, message_id: int) -> HttpResponse:
    the_room, actor = moderated_room(request, room)
    actions.reject_message(the_room, message_id, actor=actor)
    return HttpResponse(status=204)
