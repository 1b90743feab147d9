"""Who is asking: a participant (token), a moderator (teacher or owner key), or nobody.

Tokens arrive as `Authorization: Bearer <token>` (API clients, and the embed view,
which may not get cookies inside an LMS iframe) or in a per-room cookie. A cookie is
ambient, so a request that authenticates with one must also pass Django's CSRF check;
a bearer token is not, so it needs none.
"""

from __future__ import annotations

from django.core import signing as django_signing
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware

from . import audit, moderators
from .errors import MAX_JSON_BODY, ApiError
from .models import Participant, Room, RoomModerator, hash_token

PARTICIPANT_COOKIE = "tm_p_{room}"
OWNER_COOKIE = "tm_o_{room}"
# HTTP requires a 401 to name the scheme that would work (RFC 9110, 15.5.2).
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tm"'}
SHARE_SALT = "tm.share"


def set_room_cookie(response: HttpResponse, request: HttpRequest, name: str, value: str,
                    room: Room, max_age: int | None = None) -> None:
    """A room's credential cookie (HttpOnly, SameSite=Lax, HTTPS-only over HTTPS), for
    the room's remaining life unless `max_age` says less. Path "/": the pages' API calls
    (/api/v1/rooms/<room>/...) carry it too."""
    response.set_cookie(name, value, httponly=True, samesite="Lax",
                        secure=request.is_secure(),
                        max_age=max_age or max(int(room.lifetime_left().total_seconds()), 1))


def require_owner(request: HttpRequest, room: Room) -> None:
    """What only the room's owner (or their own links) may do: invite and remove
    moderators, delete the room. Co-teachers moderate, but the room is not theirs."""
    if not can_manage_moderators(request, room):
        raise ApiError(403, "not_owner", "only the room's owner can do that")


def bearer_token(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):  # return the reason instead of a page
        return reason


def enforce_csrf(request: HttpRequest) -> None:
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return
    check = _CsrfCheck(lambda r: None)
    check.process_request(request)
    try:
        reason = check.process_view(request, None, (), {})
    except RequestDataTooBig:
        raise ApiError(413, "too_large", f"request body over {MAX_JSON_BODY} bytes") from None
    except (MultiPartParserError, SuspiciousOperation):
        # Django looks for the token in a form body before the X-CSRFToken header, and
        # a broken form (or one with too many fields) raises instead. The API reads
        # JSON only, so such a body is refused as what it is, in the API's JSON shape.
        raise ApiError(415, "unsupported_media_type",
                       "send the body as JSON with Content-Type: application/json") from None
    if reason:
        raise ApiError(403, "csrf_failed", f"CSRF check failed: {reason}")


def _token_from(request: HttpRequest, cookie_name: str) -> tuple[str | None, bool]:
    """(token, came_from_cookie)."""
    token = bearer_token(request)
    if token:
        return token, False
    token = request.COOKIES.get(cookie_name)
    return (token, True) if token else (None, False)


def participant_for(request: HttpRequest, room: Room, check_csrf: bool = True) -> Participant:
    token, from_cookie = _token_from(request, PARTICIPANT_COOKIE.format(room=room.name))
    if not token:
        raise ApiError(401, "not_joined", "join the room with a nickname first",
                       headers=CHALLENGE)
    if len(token) > 200:
        raise ApiError(403, "bad_token", "that token is not valid for this room")
    participant = Participant.objects.filter(token_hash=hash_token(token)).first()
    if participant is None or participant.room_id != room.id:
        raise ApiError(403, "bad_token", "that token is not valid for this room")
    if from_cookie and check_csrf:
        enforce_csrf(request)
    return participant


def optional_participant(request: HttpRequest, room: Room,
                         check_csrf: bool = True) -> Participant | None:
    """The participant, or None. `check_csrf=False` for calls that only read (a cookie
    then needs no CSRF token: nothing changes, and another site cannot read the answer)."""
    try:
        return participant_for(request, room, check_csrf)
    except ApiError:
        return None


OWNER, MANAGER, MODERATOR = "owner", "manager", "moderator"


def moderator_role(request: HttpRequest, room: Room, check_csrf: bool = True
                   ) -> tuple[str, RoomModerator | None] | None:
    """How the request moderates the room, or None: (OWNER, None) for the owner, an
    operator or the owner key; (MANAGER, link) for the owner's own moderator link;
    (MODERATOR, link) for a co-teacher's (tm/moderators.py). A cookie needs CSRF."""
    user = request.user
    if user.is_authenticated and (user.is_staff or (room.owner_id and room.owner_id == user.id)):
        if check_csrf:
            enforce_csrf(request)
        return OWNER, None
    if room.owner_key_hash:
        token, from_cookie = _token_from(request, OWNER_COOKIE.format(room=room.name))
        if token and len(token) <= 200 and hash_token(token) == room.owner_key_hash:
            if from_cookie and check_csrf:
                enforce_csrf(request)
            return OWNER, None
    token, from_cookie = _token_from(request, moderators.MODERATOR_COOKIE.format(room=room.name))
    grant = moderators.grant_for_key(room, token)
    if grant is None and user.is_authenticated:
        grant, from_cookie = moderators.grant_for_user(room, user), True
    if grant is None:
        return None
    if from_cookie and check_csrf:
        enforce_csrf(request)
    return (MANAGER if grant.owner_level else MODERATOR), grant


def is_moderator(request: HttpRequest, room: Room, check_csrf: bool = True) -> bool:
    return moderator_role(request, room, check_csrf) is not None


def can_manage_moderators(request: HttpRequest, room: Room) -> bool:
    """The owner (and their own links) invite and remove moderators; co-teachers not."""
    role = moderator_role(request, room, check_csrf=False)
    return role is not None and role[0] != MODERATOR


def moderator_name(request: HttpRequest, room: Room) -> str:
    """Who moderates (a caller is_moderator has let in), as the room's audit log names
    them: the owner's user name, an operator's marked as such, a co-teacher's user name
    or link name, or the room's creator when the owner key (or their own link) is all
    there is."""
    user = request.user
    if user.is_authenticated and room.owner_id and room.owner_id == user.id:
        return user.get_username()
    if user.is_authenticated and user.is_staff:
        return f"{user.get_username()} (operator)"
    role = moderator_role(request, room, check_csrf=False)
    if role is not None and role[1] is not None:
        grant = role[1]
        if grant.user_id is not None and grant.user_id == user.pk:
            return user.get_username()
        if role[0] == MODERATOR:
            return f"{grant.name} (co-teacher)"
    return audit.CREATOR


def require_moderator(request: HttpRequest, room: Room) -> None:
    if not is_moderator(request, room):
        if request.user.is_authenticated or bearer_token(request):
            raise ApiError(403, "not_moderator", "only the room's teachers can do that")
        raise ApiError(401, "sign_in", "sign in as the room's teacher to do that",
                       headers=CHALLENGE)


def share_key(room: Room) -> str:
    """A read-only key for the share link of a password-protected room."""
    return django_signing.dumps([room.pk, room.name, room.share_nonce], salt=SHARE_SALT,
                                compress=True)


def can_read(request: HttpRequest, room: Room) -> bool:
    """May this request read the room: every room without a password; a password room
    for its teachers, its participants and its share link (`?key=`)."""
    if not room.has_password or is_moderator(request, room, check_csrf=False):
        return True
    if optional_participant(request, room, check_csrf=False) is not None:
        return True
    key = request.GET.get("key", "")
    try:
        return django_signing.loads(key, salt=SHARE_SALT) == [room.pk, room.name,
                                                               room.share_nonce]
    except django_signing.BadSignature:
        return False
