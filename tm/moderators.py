"""Who besides the owner moderates a room, and how a teacher keeps control from any
device (issue 12): moderator links, co-teachers, and rooms claimed at sign-in.

- A *moderator link* (`/<room>/m/<key>`) lets whoever opens it moderate the room in
  that browser (a cookie holds the key). The owner makes one for their other devices
  (the classroom PC, their phone: `owner_level`, it may manage moderators too), or one
  per co-teacher or teaching assistant, named. The key is shown once, kept hashed
  (`RoomModerator`), and removing the row ends the link and every browser it opened.
- A teacher signed in when they open a link, or who signs in later in a browser that
  opened one, moderates from every device they sign in on: the link is bound to their
  account, and the room is on their dashboard.
- Signing in or up in a browser that made rooms without an account attaches those
  rooms to the account (`claim_browser_rooms`).
"""

from __future__ import annotations

import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from . import audit
from .errors import ApiError
from .models import Room, RoomModerator, hash_token

MODERATOR_COOKIE = "tm_m_{room}"
# A link just made, for the page that shows it once (the room page after creation, the
# moderation page after an invitation): the key rides in this cookie for ten minutes.
NEW_LINK_COOKIE = "tm_ml_{room}"
NEW_LINK_SECONDS = 600
KEY_PREFIX = "m."  # tells a moderator key from an owner key or a participant's token
NAME_MAX = 60
MOST = 20  # moderator links a room may have


def link_path(room: Room, key: str) -> str:
    return f"/{room.name}/m/{key}"


def is_moderator_key(key: str | None) -> bool:
    return bool(key) and key.startswith(KEY_PREFIX) and len(key) <= 100


def grant_for_key(room: Room, key: str | None) -> RoomModerator | None:
    if not is_moderator_key(key):
        return None
    assert key is not None
    return RoomModerator.objects.filter(room=room, key_hash=hash_token(key)).first()


def grant_for_user(room: Room, user: AbstractBaseUser) -> RoomModerator | None:
    if not user.is_authenticated:
        return None
    return RoomModerator.objects.filter(room=room, user_id=user.pk).first()


def clean_name(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(400, "invalid", "give the link a name, like the co-teacher's",
                       fields={"name": "name who will use this link"})
    name = " ".join(raw.split())
    if len(name) > NAME_MAX:
        raise ApiError(400, "invalid", f"a name of at most {NAME_MAX} characters",
                       fields={"name": f"at most {NAME_MAX} characters"})
    return name


def create_link(room: Room, name: str, *, owner_level: bool, actor: str
                ) -> tuple[RoomModerator, str]:
    """A new moderator link: the row and its key (shown once)."""
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    with transaction.atomic():
        if RoomModerator.objects.filter(room=room).count() >= MOST:
            raise ApiError(409, "too_many", f"a room has at most {MOST} moderator links: "
                           "remove one first")
        grant = RoomModerator.objects.create(room=room, name=name, owner_level=owner_level,
                                             key_hash=hash_token(key))
        audit.record(room, actor, "moderator.added", moderator=grant.pk, name=name,
                     owner_level=owner_level)
    return grant, key


def remove(room: Room, grant_id: int, *, actor: str) -> None:
    with transaction.atomic():
        grant = RoomModerator.objects.filter(room=room, pk=grant_id).first()
        if grant is None:
            raise ApiError(404, "not_found", "no such moderator in this room")
        audit.record(room, actor, "moderator.removed", moderator=grant.pk, name=grant.name)
        grant.delete()


def bind(grant: RoomModerator, user: AbstractBaseUser) -> bool:
    """A signed-in teacher opened the link: it is theirs, on every device they sign in
    on. False when it is someone else's already, or they hold another link here."""
    if not user.is_authenticated or grant.user_id is not None:
        return grant.user_id == user.pk
    if grant.room.owner_id == user.pk:
        return False  # the owner moderates anyway
    try:
        with transaction.atomic():
            updated = RoomModerator.objects.filter(pk=grant.pk, user__isnull=True).update(
                user=user)
            if updated:
                audit.record(grant.room, user.get_username(), "moderator.joined",
                             moderator=grant.pk, name=grant.name)
    except IntegrityError:  # they hold another link of this room already
        return False
    return bool(updated)


def claim_browser_rooms(request: HttpRequest, user: AbstractBaseUser) -> list[str]:
    """At sign-in: rooms this browser made without an account become the account's,
    and moderator links it opened are bound to it. The names of the rooms claimed."""
    from .auth import OWNER_COOKIE  # auth imports this module

    claimed = []
    prefix_owner = OWNER_COOKIE.format(room="")
    prefix_link = MODERATOR_COOKIE.format(room="")
    for cookie, value in request.COOKIES.items():
        if cookie.startswith(prefix_owner):
            room = Room.get(cookie[len(prefix_owner):])
            if (room is not None and room.owner_id is None and room.owner_key_hash
                    and len(value) <= 200 and hash_token(value) == room.owner_key_hash):
                with transaction.atomic():
                    if Room.objects.filter(pk=room.pk, owner__isnull=True).update(owner=user):
                        audit.record(room, user.get_username(), "room.claimed")
                        claimed.append(room.name)
                room.flush_cache()
        elif cookie.startswith(prefix_link):
            room = Room.get(cookie[len(prefix_link):])
            grant = grant_for_key(room, value) if room is not None else None
            if grant is not None:
                bind(grant, user)
    return claimed
