"""Moderator links in the browser: the cookie that keeps one, and a new one shown once
on the next page (tm/moderators.py has the links themselves)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from . import moderators, qr
from .auth import set_room_cookie
from .models import Room
from .public import public_url

MY_DEVICES = "My other devices"  # the name of the owner's own moderator link


def remember_new_link(response: HttpResponse, request: HttpRequest, room: Room,
                      key: str) -> None:
    """The page the browser goes to next shows the link (and its QR code) once."""
    set_room_cookie(response, request, moderators.NEW_LINK_COOKIE.format(room=room.name), key,
               room, max_age=moderators.NEW_LINK_SECONDS)


def new_link(request: HttpRequest, room: Room) -> dict | None:
    """The link just made in this browser, to show (see forget_new_link), or None."""
    key = request.COOKIES.get(moderators.NEW_LINK_COOKIE.format(room=room.name))
    grant = moderators.grant_for_key(room, key)
    if grant is None or key is None:
        return None
    url = public_url(request, moderators.link_path(room, key))
    return {"name": grant.name, "url": url, "owner_level": grant.owner_level,
            "qr": qr.svg(url, f"QR code of the moderator link for {grant.name}", scale=5,
                         inline=True)}


def forget_new_link(response: HttpResponse, room: Room) -> HttpResponse:
    response.delete_cookie(moderators.NEW_LINK_COOKIE.format(room=room.name),
                           samesite="Lax")
    return response
