"""The pages' side of moderator links (tm/moderators.py): opening one, making and
removing them from the moderation page, and showing a new one once."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from . import moderator_links, moderators
from .auth import moderator_name, require_owner, set_room_cookie
from .errors import ApiError
from .models import Room, RoomModerator
from .pages import error_page, load_room


@require_GET
@load_room
def open_link(request: HttpRequest, room: Room, key: str) -> HttpResponse:
    """`/<room>/m/<key>`: this browser moderates the room from now on (a cookie keeps the
    key, so the address bar and history lose it); a signed-in teacher gets it on every
    device they sign in on."""
    grant = moderators.grant_for_key(room, key)
    if grant is None:
        return error_page(request, 404, "This moderator link does not work",
                          "It was removed by the room's owner, or it was never a link "
                          "of this room. Ask the owner for a new one.")
    if request.user.is_authenticated:
        moderators.bind(grant, request.user)
    response = redirect("moderate", room=room.name)
    set_room_cookie(response, request, moderators.MODERATOR_COOKIE.format(room=room.name), key,
               room)
    return response


def listing(room: Room) -> list[RoomModerator]:
    return list(room.moderators.select_related("user"))


def apply(request: HttpRequest, room: Room, action: str) -> tuple[str, str | None]:
    """A moderation page action on moderator links: (the notice, a new link's key)."""
    require_owner(request, room)
    actor = moderator_name(request, room)
    if action == "my_link":
        _, key = moderators.create_link(room, moderator_links.MY_DEVICES, owner_level=True,
                                        actor=actor)
        return "Moderator link made: open it on your other device.", key
    if action == "invite":
        name = moderators.clean_name(request.POST.get("name"))
        _, key = moderators.create_link(room, name, owner_level=False, actor=actor)
        return f"Link for {name} made: send it to them.", key
    if action == "remove_moderator":
        try:
            grant_id = int(request.POST.get("moderator", ""))
        except ValueError:
            raise ApiError(400, "invalid", "moderator must be a number") from None
        moderators.remove(room, grant_id, actor=actor)
        return "Moderator link removed: it no longer opens the room.", None
    raise ApiError(400, "invalid", "unknown action")
