"""The API of moderator links (tm/moderators.py): the owner lists, makes and removes
them.

    GET    /api/v1/rooms/<room>/moderators          the links (never their keys)
    POST   /api/v1/rooms/<room>/moderators          {"name": ..., "owner_level": false}
                                                    201 with the link's "url", once
    DELETE /api/v1/rooms/<room>/moderators/<id>     204; the link opens nothing more
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from contract.events import iso_utc

from . import moderators, validation
from .api import moderated_room
from .auth import require_owner
from .errors import api_view, read_json
from .fields import field, only
from .models import Room, RoomModerator
from .public import public_url


def _owner_only(request: HttpRequest, name: str) -> tuple[Room, str]:
    room, actor = moderated_room(request, name)
    require_owner(request, room)
    return room, actor


def moderator_json(grant: RoomModerator) -> dict[str, Any]:
    return {"id": grant.pk, "name": grant.name, "owner_level": grant.owner_level,
            "user": grant.user.get_username() if grant.user else None,
            "created": iso_utc(grant.created_at)}


@api_view("GET", "POST")
def collection(request: HttpRequest, room: str) -> HttpResponse:
    the_room, actor = _owner_only(request, room)
    if request.method == "GET":
        grants = the_room.moderators.select_related("user")
        return JsonResponse({"moderators": [moderator_json(grant) for grant in grants]})
    data = read_json(request)
    only(data, {"name", "owner_level"})
    name = moderators.clean_name(data.get("name"))
    owner_level = (field(data, "owner_level", validation.flag, "owner_level")
                   if "owner_level" in data else False)
    grant, key = moderators.create_link(the_room, name, owner_level=owner_level, actor=actor)
    body = moderator_json(grant)
    body["url"] = public_url(request, moderators.link_path(the_room, key))
    return JsonResponse(body, status=201)


@api_view("DELETE")
def detail(request: HttpRequest, room: str, moderator_id: int) -> HttpResponse:
    the_room, actor = _owner_only(request, room)
    moderators.remove(the_room, moderator_id, actor=actor)
    return HttpResponse(status=204)
