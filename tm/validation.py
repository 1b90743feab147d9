"""What counts as a good room name, nickname, topic and message.

Each function takes what the client sent (any JSON type) and returns the clean value
or raises `Invalid` with a message a student or teacher can act on.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.conf import settings
from django.utils.text import slugify

from contract import names

# Paths tm serves at the top level can never be room names.
RESERVED_ROOM_NAMES = frozenset({
    "api", "admin", "accounts", "static", "dashboard", "new", "join", "help", "about",
    "internal", "ws", "sse", "media", "favicon-ico", "robots-txt", "login", "logout",
    "signup", "settings", "rooms", "embed", "healthz", "events",
})
MIN_LIFETIME = 3600
DAY = 24 * 3600
NICKNAME_MAX = 24
REAL_NAME_MAX = 100
TOPIC_MAX = 200
MESSAGE_MIN_LIMIT, MESSAGE_MAX_LIMIT = 140, 280
PASSWORD_MAX = 128

# Characters that reorder or hide text: a nickname with them could pose as another.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Invisible characters outside category Cf (Unicode's Default_Ignorable_Code_Point):
# combining grapheme joiner, variation selectors, Hangul fillers, Khmer inherent
# vowels, Mongolian selectors. "ann\ufe0f" must not be a second "ann" either.
_IGNORABLE_RANGES = (
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0100, 0xE01EF),
)
# Participant.nickname_key's column: NFKC can turn one character into up to 18
# (U+FDFA), and PostgreSQL refuses an over-long value where SQLite stores it.
NICKNAME_KEY_MAX = 128


class Invalid(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{what} must be a string")
    # JSON's "\ud800" escape gives a lone surrogate: no UTF-8 encoding exists for it,
    # so the database driver (or the password hasher) would fail on it with a 500.
    if any(0xD800 <= ord(char) <= 0xDFFF for char in value):
        raise Invalid(f"{what} contains invalid characters")
    return unicodedata.normalize("NFC", value)


def _refuse_controls(value: str, what: str, allow_newlines: bool = False) -> None:
    for char in value:
        if char in "\n\r\t" and allow_newlines:
            continue
        if unicodedata.category(char) == "Cc":
            raise Invalid(f"{what} contains control characters")


def room_name(value: Any) -> str:
    name = _string(value, "name").strip().lower()
    if not name:
        raise Invalid("a room needs a name")
    if not names.is_room_name(name):
        raise Invalid(
            "use 1 to 40 letters a-z, digits and dashes, starting and ending with a "
            "letter or digit"
        )
    if name in RESERVED_ROOM_NAMES:
        raise Invalid("that name is reserved; pick another")
    return name


def room_name_suggestion(raw: str) -> str | None:
    """A valid room name made of what a teacher typed ("Bio 101 Period 3" ->
    "bio-101-period-3"), or None when nothing usable is left."""
    slug = slugify(raw)[:40].strip("-")
    try:
        return room_name(slug)
    except Invalid:
        return None


def topic(value: Any) -> str:
    if value is None:
        return ""
    text = _string(value, "topic")
    _refuse_controls(text, "topic")
    text = " ".join(text.split())
    if len(text) > TOPIC_MAX:
        raise Invalid(f"a topic has at most {TOPIC_MAX} characters")
    return text


def lifetime(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("lifetime must be a whole number of seconds")
    longest = longest_lifetime()
    if not MIN_LIFETIME <= value <= longest:
        raise Invalid(f"lifetime must be between one hour (3600) and {longest // DAY} days "
                      f"({longest}), the longest this service keeps a room")
    return value


def longest_lifetime() -> int:
    """Seconds a room may live from its creation, at most: the operator's
    TM_MAX_ROOM_DAYS (docs/retention.md)."""
    return settings.TM_MAX_ROOM_DAYS * DAY


def flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{what} must be true or false")
    return value


def message_limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("max_length must be a whole number")
    if not MESSAGE_MIN_LIMIT <= value <= MESSAGE_MAX_LIMIT:
        raise Invalid(f"max_length must be between {MESSAGE_MIN_LIMIT} and {MESSAGE_MAX_LIMIT}")
    return value


REPORT_THRESHOLD_MAX = 50


def report_threshold(value: Any) -> int:
    """How many students' reports hide a post (0: reports hide nothing)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("report_threshold must be a whole number")
    if not 0 <= value <= REPORT_THRESHOLD_MAX:
        raise Invalid(f"report_threshold must be between 0 (never hide) and "
                      f"{REPORT_THRESHOLD_MAX}")
    return value


def nickname(value: Any) -> tuple[str, str]:
    """(nickname as shown, folded key that decides uniqueness)."""
    nick = " ".join(_string(value, "nickname").split())
    _refuse_controls(nick, "nickname")
    if any(char in _BIDI_CONTROLS for char in nick):
        raise Invalid("nickname contains text-direction control characters")
    key = nickname_key(nick)
    if not key:
        raise Invalid("pick a nickname")
    if len(nick) > NICKNAME_MAX:
        raise Invalid(f"a nickname has at most {NICKNAME_MAX} characters")
    if len(key) > NICKNAME_KEY_MAX:
        raise Invalid("that nickname is too long; pick a shorter one")
    return nick, key


def _invisible(char: str) -> bool:
    if unicodedata.category(char) == "Cf":
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def without_invisible(text: str) -> str:
    """`text` without format characters (zero-width space, joiners, soft hyphen, BOM)
    and the other default-ignorable ones."""
    return "".join(c for c in text if not _invisible(c))


def nickname_key(nick: str) -> str:
    """Case-, width- and invisible-character-insensitive form of a nickname."""
    folded = unicodedata.normalize("NFKC", nick).casefold()
    # Drop format characters (zero-width space, joiners, BOM) and the other invisible
    # ones: they must not make a second "ann".
    visible = without_invisible(folded)
    return " ".join(visible.split())


def real_name(value: Any) -> str:
    name = " ".join(_string(value, "real_name").split())
    _refuse_controls(name, "real_name")
    if not name:
        raise Invalid("this room asks for your real name (only your teacher sees it)")
    if len(name) > REAL_NAME_MAX:
        raise Invalid(f"a name has at most {REAL_NAME_MAX} characters")
    return name


def password(value: Any) -> str:
    text = _string(value, "password")
    if len(text) > PASSWORD_MAX:
        raise Invalid(f"a password has at most {PASSWORD_MAX} characters")
    return text


def message_text(value: Any, limit: int) -> str:
    text = _string(value, "text")
    _refuse_controls(text, "text", allow_newlines=True)
    # One line per message in the stream: runs of whitespace become one space.
    text = " ".join(text.split())
    if not text or all(unicodedata.category(c) == "Cf" for c in text):
        raise Invalid("write something first")
    if len(text) > limit:
        raise Invalid(f"a message in this room has at most {limit} characters ({len(text)} sent)")
    return text


def event_scope(value: Any) -> str:
    """An event name like room names (sotu, debate-2026), or "" to count in none
    ("off" says none too: contract/names.py)."""
    if value is None:
        return ""
    name = _string(value, "event_scope").strip().lower()
    if name in names.EVENT_OFF:
        return ""
    if not names.is_event_name(name):
        raise Invalid("an event name uses 1 to 40 letters a-z, digits and dashes")
    return name


def origins(value: Any) -> str:
    """Allowed embed origins: a list of https origins (or http://localhost for tests)."""
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("allowed_origins must be a list of origins")
    if len(value) > 20:
        raise Invalid("at most 20 allowed origins")
    clean = []
    for origin in value:
        origin = origin.strip().rstrip("/")
        if not re.match(r"^https://[a-z0-9.-]+(:\d{1,5})?$", origin, re.I) and not re.match(
            r"^http://(localhost|127\.0\.0\.1)(:\d{1,5})?$", origin
        ):
            raise Invalid(f"{origin!r} is not an origin like https://lms.example.edu")
        clean.append(origin.lower())
    return "\n".join(clean)
