"""Room names, event names and analytics scopes: the naming rules every service shares.

Written once here (no Django) so that tm, ekg_py and sotu agree on what a name is:

- A room name is a slug: 1 to 40 of a-z, 0-9 and "-", starting and ending with a letter
  or digit. tm lower-cases what a teacher types before it checks; the services take
  names as tm sends them and refuse anything else. (tm also reserves the names of its own
  top-level paths: that rule is tm's, in tm/validation.py.)
- An event name (a State of the Union watch party, a debate: what many rooms feed
  together) follows the same rule.
- A scope names one word cloud and tick line: `event:<event name>` or `room:<room name>`.
- A room whose name holds `sotu` or `stateoftheunion` is in the `sotu` event unless its
  teacher says otherwise (or made it private); `""` and `"off"` mean no event.
"""

from __future__ import annotations

import re

# One pattern, no anchors, so that the scope pattern and routes can embed it.
SLUG = r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?"
SLUG_MAX = 40
# fullmatch, never "^...$": "$" also matches before a final newline.
_SLUG_RE = re.compile(SLUG)
_SCOPE_RE = re.compile(rf"(event|room):({SLUG})")

EVENT_PREFIX = "event:"
ROOM_PREFIX = "room:"
# The event a room joins by its name alone, and the markers that put it there.
DEFAULT_EVENT = "sotu"
DEFAULT_EVENT_MARKERS = ("stateoftheunion", "sotu")
# What an `event_scope` setting may say for "in no event".
EVENT_OFF = frozenset({"", "off"})


def is_room_name(text: object) -> bool:
    return isinstance(text, str) and _SLUG_RE.fullmatch(text) is not None


def is_event_name(text: object) -> bool:
    return isinstance(text, str) and _SLUG_RE.fullmatch(text) is not None


def default_event(room: str) -> str:
    """The event a room is in when nobody chose: sotu for a sotu-named room, else ""."""
    lowered = room.lower()
    return DEFAULT_EVENT if any(m in lowered for m in DEFAULT_EVENT_MARKERS) else ""


def event_scope(event: str) -> str:
    return EVENT_PREFIX + event


def room_scope(room: str) -> str:
    return ROOM_PREFIX + room


def parse_scope(text: object) -> tuple[str, str] | None:
    """("event", name) or ("room", name) for a well-formed scope, else None."""
    if not isinstance(text, str):
        return None
    match = _SCOPE_RE.fullmatch(text)
    return (match.group(1), match.group(2)) if match else None


def is_scope(text: object) -> bool:
    return parse_scope(text) is not None


def event_from_setting(room: str, setting: object) -> str:
    """The event a room feeds, from its `event_scope` setting as tm sends it: missing
    (None: a tm from before the setting) -> the name rule; "" or "off" -> none; an
    event name -> that event, case-folded; anything else -> none."""
    if setting is None:
        return default_event(room)
    if not isinstance(setting, str):
        return ""
    event = setting.strip().lower()
    return event if event not in EVENT_OFF and is_event_name(event) else ""
