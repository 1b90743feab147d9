"""Teachers: sign-up, the dashboard of their rooms, and the moderation page.

Moderation is plain HTML forms (CSRF-protected) posting to one action view, so it
works without JavaScript; every write goes through tm/actions.py like the API's.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib import messages as flash
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contract import names

from . import account, actions, audit, moderator_links, moderator_views, tickets, validation
from .auth import can_manage_moderators, is_moderator, moderator_name, require_owner, share_key
from .errors import ApiError
from .languages import CHOICES as LANGUAGE_CHOICES
from .languages import LANGUAGES
from .models import Message, MessageStatus, Participant, Room, RoomState, Screening
from .pages import (
    charts_data,
    error_page,
    lifetime_choices,
    load_room,
    page_data,
    page_errors,
)
from .public import public_url
from .ratelimits import limit
from .reports import reported_posts
from .room_settings import spotlight_target

PAUSE_CHOICES = [(5, "5 minutes"), (10, "10 minutes"), (30, "30 minutes"), (0, "until I resume")]


def limit_posts(group: str, per_account: bool = False) -> Callable:
    """Rate-limit the POSTs of a view (sign-in, sign-up, password reset) per address,
    a ceiling a school's teachers behind one address do not reach; with `per_account`
    also per account name tried, the limit that stops guessing one teacher's password."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method == "POST":
                try:
                    limit(request, group, "TM_RATE_AUTH_PER_CLIENT")
                    if per_account:
                        name = request.POST.get("username", "")[:200].strip().lower()
                        digest = hashlib.sha256(name.encode()).hexdigest()[:32]
                        limit(request, f"{group}-account", "TM_RATE_AUTH_PER_USERNAME",
                              key=f"user:{digest}")
                except ApiError as error:
                    response = error_page(request, 429, "Slow down", error.message)
                    response["Retry-After"] = error.headers["Retry-After"]
                    return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=True, help_text="For password resets only.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


@require_http_methods(["GET", "POST"])
@limit_posts("signup")
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("dashboard")
    return render(request, "registration/signup.html", {"form": form},
                  status=400 if request.method == "POST" else 200)


login_view = limit_posts("login", per_account=True)(auth_views.LoginView.as_view())
# The admin's sign-in, limited like the teachers' (tm/urls.py routes it before the admin).
admin_login_view = limit_posts("admin-login", per_account=True)(admin.site.login)
password_reset_view = limit_posts("password-reset")(auth_views.PasswordResetView.as_view())


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The teacher's rooms, and the rooms they co-teach (their moderator links)."""
    owned = Room.objects.filter(owner=request.user).order_by("-created_at")
    co_taught = (Room.objects.filter(moderators__user=request.user)
                 .exclude(owner=request.user).order_by("-created_at"))
    return render(request, "tm/dashboard.html", {
        "rooms": [_with_counts(room) for room in owned],
        "co_taught": [_with_counts(room) for room in co_taught],
    })


def _with_counts(room: Room) -> tuple[Room, int, int]:
    """The room, its visible posts and those waiting for approval."""
    return (room, Message.objects.filter(room=room, status=MessageStatus.VISIBLE).count(),
            Message.objects.filter(room=room, status=MessageStatus.PENDING).count())


@login_required
@require_GET
def export_data(request: HttpRequest) -> HttpResponse:
    """Everything tm holds about this teacher and their rooms, as a JSON file."""
    response = JsonResponse(account.export(request.user), json_dumps_params={"indent": 1})
    response["Content-Disposition"] = (
        f'attachment; filename="tm-{request.user.get_username()}-export.json"')
    return response


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    """The teacher deletes their account and every room it owns, after typing their
    password (a left-open laptop must not be enough)."""
    error = ""
    if request.method == "POST":
        if request.user.check_password(request.POST.get("password", "")):
            name = request.user.get_username()
            rooms = account.delete_account(request.user)
            logout(request)
            flash.success(request, f"The account {name} is deleted, with "
                          f"{len(rooms)} room{'' if len(rooms) == 1 else 's'} and "
                          "everything in them.")
            return redirect("home")
        error = "That is not your password."
    rooms = Room.objects.filter(owner=request.user).count()
    return render(request, "registration/delete_account.html",
                  {"rooms": rooms, "error": error}, status=400 if error else 200)


def _moderator_only(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, room: Room, *args, **kwargs) -> HttpResponse:
        if not is_moderator(request, room, check_csrf=False):
            if not request.user.is_authenticated:
                return redirect(f"{reverse('login')}?next={request.path}")
            return error_page(request, 403, "Not your room",
                              "Only the room's teachers can moderate it.")
        return view(request, room, *args, **kwargs)

    return wrapper


AUDIT_SHOWN = 50  # the newest entries of the audit log on the moderation page


@require_http_methods(["GET"])
@load_room
@_moderator_only
def moderate(request: HttpRequest, room: Room) -> HttpResponse:
    pending = Message.objects.filter(room=room, status=MessageStatus.PENDING).order_by("seq")
    recent = Message.objects.filter(room=room, status=MessageStatus.VISIBLE).order_by("-seq")
    people = Participant.objects.filter(room=room).order_by("nickname_key")
    share = public_url(request, f"/{room.name}/read")
    if room.has_password:
        share += f"?key={share_key(room)}"
    embed_url = public_url(request, f"/{room.name}/embed")
    just_made = moderator_links.new_link(request, room)
    response = render(request, "tm/moderate.html", {
        "room": room,
        "pending": list(pending),
        "reported": reported_posts(room),
        "recent": list(recent[:100]),
        "audit": [{"at": entry.at, "actor": entry.actor, "sentence": audit.describe(entry)}
                  for entry in room.audit_entries.order_by("-id")[:AUDIT_SHOWN]],
        "audit_total": room.audit_entries.count(),
        "audit_days": settings.TM_AUDIT_RETENTION_DAYS,
        "people": list(people),
        "room_url": public_url(request, f"/{room.name}"),
        "share_url": share,
        "embed_snippet": f'<iframe src="{embed_url}" title="Backchannel: {room.name}" '
                         'width="400" height="600"></iframe>',
        "pause_choices": PAUSE_CHOICES,
        "lifetimes": lifetime_choices(),
        "screening_levels": Screening.choices,
        "languages": LANGUAGE_CHOICES,
        "page_data": page_data(request, room, "moderator", tickets.MODERATOR, moderator=True),
        "charts": {"scope": names.room_scope(room.name),
                   "title": "Live: what this room is saying"},
        "charts_data": charts_data(names.room_scope(room.name), room),
        "moderators": moderator_views.listing(room),
        "can_manage": can_manage_moderators(request, room),
        "new_link": just_made,
    })
    return moderator_links.forget_new_link(response, room) if just_made else response


def _int_field(request: HttpRequest, name: str) -> int:
    try:
        return int(request.POST.get(name, ""))
    except ValueError:
        raise ApiError(400, "invalid", f"{name} must be a number") from None


def _apply(request: HttpRequest, room: Room, action: str) -> str:
    """Run one moderation action; returns the confirmation shown to the teacher."""
    actor = moderator_name(request, room)
    if action == "delete":
        actions.delete_message(room, _int_field(request, "message"), actor=actor)
        return "Message deleted."
    if action == "spotlight":
        message_id = _int_field(request, "message")
        on = room.spotlight_id != message_id
        actions.update_room(room, {"spotlight": spotlight_target(room, message_id if on
                                                                 else None)}, actor=actor)
        return "On the projector now." if on else "Spotlight removed from the projector."
    if action == "hold":
        actions.hold_message(room, _int_field(request, "message"), actor=actor)
        return "Post held: students no longer see it; approve or reject it in the queue."
    if action == "approve":
        actions.approve_message(room, _int_field(request, "message"), actor=actor)
        return "Message approved."
    if action == "reject":
        actions.reject_message(room, _int_field(request, "message"), actor=actor)
        return "Message rejected."
    if action == "keep":
        actions.keep_message(room, _int_field(request, "message"), actor=actor)
        return "Post kept: its reports are dismissed."
    if action == "erase":
        erased = actions.erase_participant(room, _int_field(request, "participant"),
                                           actor=actor)
        return f"Erased {erased} post{'' if erased == 1 else 's'}."
    if action in ("mute", "unmute"):
        person = actions.set_muted(room, _int_field(request, "participant"), action == "mute",
                                   actor=actor)
        return f"{person.nickname} is {'muted' if person.muted else 'no longer muted'}."
    if action == "pause":
        minutes = _int_field(request, "minutes")
        if not 0 <= minutes <= 24 * 60:
            raise ApiError(400, "invalid", "pause for 0 to 1440 minutes")
        actions.update_room(room, {"pause_minutes": minutes or None}, actor=actor)
        return "Room paused: students can read but not post."
    if action in ("resume", "reopen"):
        actions.update_room(room, {"state": RoomState.OPEN}, actor=actor)
        return "Room open: students can post again."
    if action == "close":
        actions.update_room(room, {"state": RoomState.CLOSED}, actor=actor)
        return "Room closed. It stays readable until it expires."
    if action == "lifetime":
        try:
            seconds = validation.lifetime(_int_field(request, "lifetime"))
        except validation.Invalid as error:
            raise ApiError(400, "invalid", error.message) from None
        room = actions.update_room(room, {"lifetime": seconds}, actor=actor)
        return f"Lifetime changed: the room now ends {room.expires_at:%Y-%m-%d %H:%M} UTC."
    if action == "reset_share":
        actions.update_room(room, {"reset_share_link": True}, actor=actor)
        return "New read-only link made: the old one no longer opens the room."
    if action == "settings":
        changes = _settings_from_form(request)
        actions.update_room(room, changes, actor=actor)
        return "Settings saved."
    raise ApiError(400, "invalid", "unknown action")


def _settings_from_form(request: HttpRequest) -> dict:
    post = request.POST
    try:
        changes = {
            "topic": validation.topic(post.get("topic", "")),
            "moderated": post.get("moderated") == "on",
            "max_length": validation.message_limit(_int_field(request, "max_length")),
            "allowed_origins": validation.origins(post.get("allowed_origins", "")),
            "analytics": post.get("analytics") == "on",
            "event_scope": validation.event_scope(post.get("event_scope", "")),
            "report_threshold": validation.report_threshold(
                _int_field(request, "report_threshold")),
        }
    except validation.Invalid as error:
        raise ApiError(400, "invalid", error.message) from None
    if post.get("screening") not in Screening.values:
        raise ApiError(400, "invalid", "pick how strict the abuse check is")
    changes["screening"] = post["screening"]
    if post.get("language") not in LANGUAGES:
        raise ApiError(400, "invalid", "pick the language the students write in")
    changes["language"] = post["language"]
    if post.get("clear_password") == "on":
        changes["password"] = ""
    elif post.get("password"):
        try:
            changes["password"] = validation.password(post["password"])
        except validation.Invalid as error:
            raise ApiError(400, "invalid", error.message) from None
    return changes


@require_POST
@load_room
@_moderator_only
@page_errors
def moderate_action(request: HttpRequest, room: Room) -> HttpResponse:
    action = request.POST.get("action", "")
    if action == "delete_room":
        require_owner(request, room)
        if request.POST.get("confirm") != room.name:
            raise ApiError(400, "invalid", "type the room's name to confirm deleting it")
        actions.delete_room(room)
        return redirect("dashboard" if request.user.is_authenticated else "home")
    if action in MODERATOR_ACTIONS:
        return _moderator_action(request, room, action)
    notice = _apply(request, room, action)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("moderate", kwargs={"room": room.name})
    flash.success(request, notice)
    return redirect(target)


MODERATOR_ACTIONS = ("my_link", "invite", "remove_moderator")


def _moderator_action(request: HttpRequest, room: Room, action: str) -> HttpResponse:
    """Moderator links: made (and shown once on the page it returns to) or removed."""
    notice, key = moderator_views.apply(request, room, action)
    response = redirect(reverse("moderate", kwargs={"room": room.name}) + "#moderators-title")
    if key:
        moderator_links.remember_new_link(response, request, room, key)
    flash.success(request, notice)
    return response
