"""The pages students and the wall see: home, room, projector, read-only, embed,
transcript (page, text, CSV) and the room's QR code.

Pages work without JavaScript (forms post back here); static/tm/room.js then keeps the
stream live and posts without a reload. User text is rendered as text by the
templates; the only HTML inserted is bleach's output for message bodies.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable

import waffle
from django.conf import settings
from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_http_methods

from contract import names
from settings.csp import origin_of as csp_origin

from . import actions, audit, flags, moderator_links, moderators, qr, tickets, validation
from .auth import OWNER_COOKIE, PARTICIPANT_COOKIE, can_read, is_moderator, optional_participant
from .errors import ApiError
from .joining import join_with_limits
from .languages import CHOICES as LANGUAGE_CHOICES
from .models import (
    Message,
    MessageStatus,
    Participant,
    Room,
    RoomDeletion,
    Screening,
    default_language,
)
from .public import public_url
from .ratelimits import limit
from .room_settings import parse_room_settings

LIFETIMES = [
    (3600, "1 hour"), (3 * 3600, "3 hours"), (24 * 3600, "1 day"), (7 * 24 * 3600, "1 week"),
    (30 * 24 * 3600, "30 days"), (180 * 24 * 3600, "6 months"), (365 * 24 * 3600, "1 year"),
]


def lifetime_choices() -> list[tuple[int, str]]:
    """The lifetimes a teacher picks from: those within the operator's longest."""
    longest = validation.longest_lifetime()
    choices = [(seconds, label) for seconds, label in LIFETIMES if seconds <= longest]
    if choices[-1][0] < longest:
        days = longest // validation.DAY
        choices.append((longest, f"{days} days (the longest here)" if days > 1 else "1 day"))
    return choices
STREAM_LENGTH = 200  # messages a page starts with; older ones are in the transcript


def error_page(request: HttpRequest, status: int, title: str, message: str,
               **extra) -> HttpResponse:
    template = "tm/embed_error.html" if extra.pop("embed", False) else "tm/error.html"
    return render(request, template,
                  {"status": status, "title": title, "message": message, **extra},
                  status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return ApiError(404, "not_found", "no such thing here").response()
    return error_page(request, 404, "Page not found", "There is nothing at this address.")


def page_errors(view: Callable) -> Callable:
    """Show an ApiError raised by an action as a friendly page with its status."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ApiError as error:
            response = error_page(request, error.status, _titles.get(error.status, "Sorry"),
                                  error.message)
            for name, value in error.headers.items():
                response[name] = value
            return response

    return wrapper


_titles = {403: "Not allowed", 404: "Not found", 410: "This room has expired",
           429: "Slow down", 400: "That did not work"}


def load_room(view: Callable) -> Callable:
    """Resolve the <room> in the URL: canonical name, 404 and 410 pages."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, room: str, *args, **kwargs) -> HttpResponse:
        embed = view.__name__ == "embed"
        try:
            name = validation.room_name(room)
        except validation.Invalid:
            return error_page(request, 404, "No such room",
                              "Room names use letters, digits and dashes.", embed=embed)
        if name != room:
            target = request.path.replace(f"/{room}", f"/{name}", 1)
            query = request.META.get("QUERY_STRING")
            return HttpResponseRedirect(target + (f"?{query}" if query else ""))
        the_room = Room.get(name)
        if the_room is None and RoomDeletion.recently_deleted(name):
            return error_page(request, 410, "This room has ended",
                              f"The room “{name}” has ended, and its messages are deleted.",
                              embed=embed)
        if the_room is None:
            return error_page(request, 404, "No such room",
                              f"There is no room called “{name}” right now.",
                              missing_name=name, embed=embed)
        if the_room.is_expired:
            return error_page(request, 410, "This room has expired",
                              f"The room “{name}” has reached the end of its lifetime, "
                              "and its messages are being deleted.", embed=embed)
        return view(request, the_room, *args, **kwargs)

    return wrapper


def page_data(request: HttpRequest, room: Room, mode: str, role: str | None,
              **extra) -> dict:
    """What static/tm/feed.js and room.js need, handed over as JSON (json_script), not inline JS.

    `follow` is the page's follow ticket for the push nodes, as `role` (tm/tickets.py),
    or None when the page may not follow the room yet (a password room's embed before
    the student joins: the join answer brings one).
    """
    return {
        "room": room.name,
        "mode": mode,
        "seq": room.stored_seq(),
        "state": room.current_state,
        "spotlight": room.spotlight_id,
        "max_length": room.max_length,
        "api": f"/api/v1/rooms/{room.name}",
        "push_urls": list(settings.TM_PUSH_URLS),
        "follow": tickets.issue(room, role) if role else None,
        **extra,
    }


def visible_messages(room: Room, count: int = STREAM_LENGTH) -> list[Message]:
    # Templates get these as `stream`: `messages` is Django's flash notices (base.html).
    latest = Message.objects.filter(room=room, status=MessageStatus.VISIBLE).order_by("-seq")
    return list(reversed(latest[:count]))


# -- home ---------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@page_errors
def home(request: HttpRequest) -> HttpResponse:
    form_errors: dict[str, str] = {}
    values = _new_room_values(request.GET.get("name", "")[:40])
    if request.method == "POST":
        values = request.POST.dict()
        limit(request, "create-room", "TM_RATE_CREATE_ROOM_PER_CLIENT")
        try:
            name = validation.room_name(values.get("name", ""))
        except validation.Invalid as error:
            suggestion = validation.room_name_suggestion(values.get("name", ""))
            if suggestion:  # offered in the field, to create with one more click
                values["name"] = suggestion
                form_errors["name"] = (f"Room names use letters, digits and dashes, so we "
                                       f"made it “{suggestion}”. Create the room to use it.")
            else:
                form_errors["name"] = error.message
        try:
            lifetime = int(values.get("lifetime", ""))
        except ValueError:
            lifetime = -1
        data = {
            "topic": values.get("topic", ""),
            "lifetime": lifetime,
            "moderated": values.get("moderated") == "on",
            "accountable": values.get("accountable") == "on",
            "password": values.get("password", ""),
            "screening": values.get("screening", Screening.STANDARD),
            "language": values.get("language", default_language()),
        }
        try:
            clean = parse_room_settings(data, creating=True)
        except ApiError as error:
            form_errors.update(error.fields)
        if not form_errors:
            owner = request.user if request.user.is_authenticated else None
            try:
                room, owner_key = actions.create_room(name=name, owner=owner, **clean)
            except ApiError as error:
                form_errors.update(error.fields or {"name": error.message})
            else:
                # The room page then shows how to share it (and, without an account, a
                # link to moderate from the teacher's other devices, once).
                response = redirect(reverse("room", kwargs={"room": room.name}) + "?created=1")
                if owner_key:
                    response.set_cookie(
                        OWNER_COOKIE.format(room=room.name), owner_key, max_age=lifetime,
                        httponly=True, samesite="Lax", secure=request.is_secure())
                    _, link_key = moderators.create_link(
                        room, moderator_links.MY_DEVICES, owner_level=True, actor=audit.CREATOR)
                    moderator_links.remember_new_link(response, request, room, link_key)
                return response
    status = 400 if form_errors else 200
    return _home_page(request, values, status, errors=form_errors)


def _home_page(request: HttpRequest, values: dict, status: int, **more) -> HttpResponse:
    return render(request, "tm/home.html", {
        "lifetimes": lifetime_choices(), "screening_levels": Screening.choices,
        "languages": LANGUAGE_CHOICES, "values": values, **more}, status=status)


def _new_room_values(name: str = "") -> dict[str, str]:
    """What the create form starts with."""
    return {"lifetime": str(24 * 3600), "screening": Screening.STANDARD,
            "language": default_language(), "name": name}


@require_GET
def join_by_name(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("room", "")
    try:
        name = validation.room_name(raw)
    except validation.Invalid as error:
        return _home_page(request, _new_room_values(), 400,
                          join_error=error.message, join_value=raw)
    return redirect("room", room=name)


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    """The privacy notice, with the controller's details (tm/privacy.py)."""
    return render(request, "tm/privacy.html")


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


# -- the room -------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@load_room
@page_errors
def room(request: HttpRequest, room: Room) -> HttpResponse:
    participant = optional_participant(request, room)
    moderator = is_moderator(request, room, check_csrf=False)
    join_errors: dict[str, str] = {}
    if request.method == "POST":  # the join form
        limit(request, "join", "TM_RATE_JOIN_PER_CLIENT")
        try:
            nickname, key = validation.nickname(request.POST.get("nickname", ""))
        except validation.Invalid as error:
            join_errors["nickname"] = error.message
        real_name = ""
        if room.accountable:
            try:
                real_name = validation.real_name(request.POST.get("real_name", ""))
            except validation.Invalid as error:
                join_errors["real_name"] = error.message
        if not join_errors:
            try:
                participant, token = join_with_limits(
                    request, room, nickname=nickname, nickname_key=key, real_name=real_name,
                    password=request.POST.get("password", ""), moderator=moderator)
            except ApiError as error:
                if error.status not in (403, 409, 429):
                    raise
                join_errors.update(error.fields or {"nickname": error.message})
            else:
                # To the message box: room.js moves the focus there.
                response = HttpResponseRedirect(
                    reverse("room", kwargs={"room": room.name}) + "#compose-text")
                response.set_cookie(
                    PARTICIPANT_COOKIE.format(room=room.name), token,
                    max_age=int(room.lifetime_left().total_seconds()),
                    httponly=True, samesite="Lax", secure=request.is_secure())
                return response
    readable = can_read(request, room) or participant is not None
    # Right after creating it, its teacher sees how to share it, and a new moderator link.
    just_made = moderator_links.new_link(request, room) if moderator else None
    created = moderator and (just_made is not None or "created" in request.GET)
    context = {
        "created": created,
        "new_link": just_made,
        "room": room,
        "participant": participant,
        "moderator": moderator,
        # A student may report classmates' posts (tm/actions.py report_message).
        "reporter": participant if participant and not participant.is_teacher
        and not moderator else None,
        "stream": visible_messages(room) if readable else [],
        "readable": readable,
        "join_errors": join_errors,
        "join_values": (request.POST if request.method == "POST"
                        else _teacher_join_values(request, room) if moderator else {}),
        "room_url": public_url(request, f"/{room.name}"),
        "page_data": page_data(request, room, "participant" if participant else "reader",
                               _room_role(participant, moderator, readable),
                               nickname=participant.nickname if participant else None,
                               moderator=moderator,
                               can_report=bool(participant and not participant.is_teacher
                                               and not moderator)),
    }
    response = render(request, "tm/room.html", context, status=400 if join_errors else 200)
    return moderator_links.forget_new_link(response, room) if just_made else response


def _room_role(participant: Participant | None, moderator: bool, readable: bool) -> str | None:
    if moderator:
        return tickets.MODERATOR
    if participant is not None:
        return tickets.STUDENT
    return tickets.VIEWER if readable else None


def _teacher_join_values(request: HttpRequest, room: Room) -> dict[str, str]:
    """What the join form offers the room's teacher: the name students see by default."""
    values = {"nickname": "Teacher"}
    if room.accountable and request.user.is_authenticated:
        values["real_name"] = request.user.get_full_name() or request.user.get_username()
    return values


def student_form(view: Callable) -> Callable:
    """A student's form post (the pages without JavaScript): the room, its participant
    from the cookie (CSRF checked); without one, back to the room's join form."""

    @require_http_methods(["POST"])
    @load_room
    @page_errors
    @functools.wraps(view)
    def wrapper(request: HttpRequest, room: Room) -> HttpResponse:
        participant = optional_participant(request, room)
        if participant is None:
            return redirect("room", room=room.name)
        return view(request, room, participant)

    return wrapper


def _message_field(request: HttpRequest) -> int:
    try:
        return int(request.POST.get("message", ""))
    except ValueError:
        raise ApiError(400, "invalid", "which post?") from None


@student_form
def post(request: HttpRequest, room: Room, participant: Participant) -> HttpResponse:
    """The post form without JavaScript: post, then back to the room."""
    limit(request, "post-client", "TM_RATE_POST_PER_CLIENT")
    limit(request, "post-participant", "TM_RATE_POST_PER_PARTICIPANT", key=f"p{participant.pk}")
    actions.post_message(room, participant, request.POST.get("text", ""))
    return redirect(reverse("room", kwargs={"room": room.name}) + "#compose")


@student_form
def report(request: HttpRequest, room: Room, participant: Participant) -> HttpResponse:
    """A student's report without JavaScript (room.js sends it through the API)."""
    limit(request, "report-participant", "TM_RATE_REPORT_PER_PARTICIPANT",
          key=f"p{participant.pk}")
    actions.report_message(room, participant, _message_field(request))
    flash.success(request, "Reported. Your teacher will look at it; nobody sees who "
                  "reported it.")
    return redirect(reverse("room", kwargs={"room": room.name}))


@student_form
def delete_own(request: HttpRequest, room: Room, participant: Participant) -> HttpResponse:
    """A student deletes a post of theirs without JavaScript (room.js uses the API)."""
    actions.delete_own_message(room, participant, _message_field(request))
    flash.success(request, "Your post is deleted, for everyone.")
    return redirect(reverse("room", kwargs={"room": room.name}))


@require_http_methods(["POST"])
@load_room
@page_errors
def leave(request: HttpRequest, room: Room) -> HttpResponse:
    """A student leaves the room with everything they wrote (tm/actions.py
    erase_participant); the page then offers to join again, as anyone new."""
    participant = optional_participant(request, room)
    response = redirect(reverse("room", kwargs={"room": room.name}))
    if participant is not None:
        erased = actions.erase_participant(room, participant.pk, actor=None, leave=True)
        flash.success(request, f"You left {room.name}: your nickname and "
                      f"{erased} post{'' if erased == 1 else 's'} are deleted.")
    response.delete_cookie(PARTICIPANT_COOKIE.format(room=room.name), samesite="Lax")
    return response


def spotlighted(room: Room) -> Message | None:
    """The post the teacher shows large on the projector, if it is still visible."""
    if room.spotlight_id is None:
        return None
    return Message.objects.filter(room=room, pk=room.spotlight_id,
                                  status=MessageStatus.VISIBLE).first()


def _reader_page(template: str, mode: str) -> Callable:
    @require_GET
    @load_room
    def view(request: HttpRequest, room: Room) -> HttpResponse:
        if not can_read(request, room):
            return error_page(request, 403, "This room has a password",
                              "Ask the teacher for the room's share link.")
        # A viewer, even for the room's teacher: a projector shows no held posts.
        data = page_data(request, room, mode, tickets.VIEWER, key=request.GET.get("key", ""))
        return render(request, template, {
            "room": room, "stream": visible_messages(room), "page_data": data,
            "room_url": public_url(request, f"/{room.name}"),
            "spotlight": spotlighted(room),
        })

    view.__name__ = mode
    return view


projector = _reader_page("tm/projector.html", "projector")
read_only = _reader_page("tm/read_only.html", "reader")


@require_GET
@xframe_options_exempt
@load_room
def embed(request: HttpRequest, room: Room) -> HttpResponse:
    """Compact view for an LMS iframe. It joins and posts with a bearer token held by
    the page, since browsers that block third-party cookies would drop ours."""
    if not waffle.flag_is_active(request, flags.EMBED_VIEW):
        return error_page(request, 404, "Embedding is off",
                          "Embedding rooms in course pages is turned off on this site.",
                          embed=True)
    response = render(request, "tm/embed.html", {
        "room": room,
        "stream": visible_messages(room) if not room.has_password else [],
        # A password room's embed follows the room once the student has joined.
        "page_data": page_data(request, room, "embed",
                               None if room.has_password else tickets.VIEWER,
                               password_required=room.has_password,
                               accountable=room.accountable),
    })
    # django-csp: only the room's allowed origins may frame this page.
    response._csp_replace = {"frame-ancestors": ["'self'", *room.origins()]}
    return response


@require_GET
@load_room
def qr_code(request: HttpRequest, room: Room) -> HttpResponse:
    image = qr.svg(public_url(request, f"/{room.name}"), f"QR code for the room {room.name}")
    response = HttpResponse(image, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=3600"
    return response


# -- transcript ------------------------------------------------------------------------
def transcript_view(render_rows: Callable) -> Callable:
    """A transcript format: readers only; gets the visible messages in seq order and,
    for the room's teachers in an accountable room, each one's real name by id."""

    @require_GET
    @load_room
    @functools.wraps(render_rows)
    def view(request: HttpRequest, room: Room) -> HttpResponse:
        if not can_read(request, room):
            return error_page(request, 403, "This room has a password",
                              "Join the room to read its transcript.")
        messages = list(Message.objects.filter(room=room, status=MessageStatus.VISIBLE)
                        .select_related("participant").order_by("seq"))
        real_names: dict[int, str] = {}
        if room.accountable and is_moderator(request, room, check_csrf=False):
            real_names = {m.pk: m.participant.real_name for m in messages if m.participant}
        return render_rows(request, room, messages, real_names)

    return view


@transcript_view
def transcript(request: HttpRequest, room: Room, messages: list[Message],
               real_names: dict[int, str]) -> HttpResponse:
    rows = [(m, real_names.get(m.pk, "")) for m in messages]
    return render(request, "tm/transcript.html", {
        "room": room, "rows": rows, "show_real_names": bool(real_names),
        "key": request.GET.get("key", ""),
    })


def _download_name(room: Room, extension: str) -> str:
    return f"{room.name}-{timezone.now():%Y%m%d-%H%M}.{extension}"


@transcript_view
def transcript_text(request: HttpRequest, room: Room, messages: list[Message],
                    real_names: dict[int, str]) -> HttpResponse:
    lines = [f"Transcript of {room.name}" + (f": {room.topic}" if room.topic else ""), ""]
    for m in messages:
        who = m.nickname + (f" ({real_names[m.pk]})" if m.pk in real_names else "")
        who += " [teacher]" if m.by_teacher else ""
        lines.append(f"[{m.created_at:%Y-%m-%d %H:%M:%S} UTC] {who}: {m.text}")
    response = HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_download_name(room, "txt")}"'
    return response


def _csv_safe(value: str) -> str:
    # Spreadsheets run cells that start with = + - @ as formulas: quote them.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@transcript_view
def transcript_csv(request: HttpRequest, room: Room, messages: list[Message],
                   real_names: dict[int, str]) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    # by_teacher last: a column added since, so spreadsheets built on the others hold.
    header = ["seq", "time_utc", "nickname", "text", "by_teacher"]
    if real_names:
        header.insert(3, "real_name")
    writer.writerow(header)
    for m in messages:
        row = [m.seq, m.created_at.strftime("%Y-%m-%d %H:%M:%S"), _csv_safe(m.nickname),
               _csv_safe(m.text), "yes" if m.by_teacher else ""]
        if real_names:
            row.insert(3, _csv_safe(real_names.get(m.pk, "")))
        writer.writerow(row)
    # A BOM so spreadsheet programs read the file as UTF-8.
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_download_name(room, "csv")}"'
    return response



# -- analytics --------------------------------------------------------------------------
def charts_data(scope: str, room: Room | None = None) -> dict:
    """What static/tm/charts.js needs to follow one analytics scope on the push nodes:
    a room's charts are its teachers' view, followed with a moderator's ticket."""
    follow = tickets.issue(room, tickets.MODERATOR) if room is not None else None
    return {"push_urls": list(settings.TM_PUSH_URLS), "scope": scope, "follow": follow,
            "ticket_api": f"/api/v1/rooms/{room.name}/ticket" if room is not None else None}


@require_GET
def event_dashboard(request: HttpRequest, event: str) -> HttpResponse:
    """The live charts of a shared event (every room that counts in it), with its video."""
    try:
        name = validation.event_scope(event)
    except validation.Invalid:
        name = ""
    if not name:
        return error_page(request, 404, "No such event", "Event names use letters, "
                          "digits and dashes, like sotu.")
    video_url = settings.TM_EVENT_VIDEOS.get(name)
    response = render(request, "tm/event_dashboard.html", {
        "event": name,
        "video_url": video_url,
        "charts": {"scope": names.event_scope(name),
                   "title": "Live: what the rooms are saying"},
        "charts_data": charts_data(names.event_scope(name)),
    })
    if video_url:
        response._csp_replace = {"frame-src": [csp_origin(video_url)]}
    return response
