"""Chart updates: what sotu's collector sends the push nodes (through reflektor) about a
scope's live charts, and what a browser following the chart is sent.

    POST /internal/charts/<scope>      signed like every internal call
    {"v": 1, "scope": "event:sotu", "full": false, "messages": [<message>, ...]}

Each message is one a chart viewer is sent as it is (docs/contracts.md, "Charts"):

    {"type": "hello", "scope", "bucket_seconds", "history_seconds", "top", "attribution"}
    {"type": "words", "scope", "bucket": "<ISO start>", "top": [[word, count], ...]}
    {"type": "ticks", "scope", "ticks": [["<ISO second>", n, sentiment], ...]}

`full`: the messages are the scope's whole state (hello, the latest words, every tick of
the last `history_seconds`), which replaces what a node holds; otherwise they are
changes (new words, new or changed ticks), which a node adds to what it holds. The node
itself adds `{"type": "viewers", "scope", "count"}` and, on shutdown, `reconnect`.
"""

from __future__ import annotations

import json
from typing import Any

from .names import parse_scope

VERSION = 1
HELLO, WORDS, TICKS, VIEWERS = "hello", "words", "ticks", "viewers"
MESSAGE_TYPES = frozenset({HELLO, WORDS, TICKS})
MAX_MESSAGES = 8
MAX_TICKS = 3600  # an hour of seconds: far more than any history a chart shows
MAX_WORDS = 100


class InvalidChartUpdate(ValueError):
    pass


def update_body(scope: str, messages: list[dict[str, Any]], *, full: bool) -> bytes:
    body = {"v": VERSION, "scope": scope, "full": full, "messages": messages}
    check_update(body)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and value == value  # not NaN


def _check_message(message: Any, scope: str) -> None:
    if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
        raise InvalidChartUpdate(f"each message is an object of a type in "
                                 f"{sorted(MESSAGE_TYPES)}")
    if message.get("scope") != scope:
        raise InvalidChartUpdate("a message's scope must be the update's")
    kind = message["type"]
    if kind == HELLO:
        for key in ("bucket_seconds", "history_seconds", "top"):
            if not _is_int(message.get(key)) or not 0 < message[key] <= MAX_TICKS:
                raise InvalidChartUpdate(f"hello's {key} must be an integer from 1 to "
                                         f"{MAX_TICKS}")
        if not isinstance(message.get("attribution"), str):
            raise InvalidChartUpdate("hello's attribution must be a string")
    elif kind == WORDS:
        top = message.get("top")
        if not isinstance(message.get("bucket"), str) or not isinstance(top, list) or len(
                top) > MAX_WORDS:
            raise InvalidChartUpdate(f"words carry a bucket and at most {MAX_WORDS} words")
        for entry in top:
            if (not isinstance(entry, list) or len(entry) != 2
                    or not isinstance(entry[0], str) or not _is_int(entry[1])):
                raise InvalidChartUpdate("each word is [word, count]")
    else:
        ticks = message.get("ticks")
        if not isinstance(ticks, list) or len(ticks) > MAX_TICKS:
            raise InvalidChartUpdate(f"ticks carry at most {MAX_TICKS} ticks")
        for entry in ticks:
            if (not isinstance(entry, list) or len(entry) != 3
                    or not isinstance(entry[0], str) or not _is_int(entry[1])
                    or not _is_number(entry[2])):
                raise InvalidChartUpdate('each tick is ["<ISO second>", n, sentiment]')


def check_update(body: Any) -> tuple[str, list[dict[str, Any]], bool]:
    """(scope, messages, full) of a well-formed update; InvalidChartUpdate otherwise."""
    if not isinstance(body, dict) or set(body) != {"v", "scope", "full", "messages"}:
        raise InvalidChartUpdate("an update is {v, scope, full, messages}")
    if body["v"] != VERSION:
        raise InvalidChartUpdate(f"unknown version {body['v']!r}")
    scope = body["scope"]
    if parse_scope(scope) is None:
        raise InvalidChartUpdate("scope must be event:<name> or room:<room>")
    if not isinstance(body["full"], bool):
        raise InvalidChartUpdate("full must be true or false")
    messages = body["messages"]
    if not isinstance(messages, list) or not 0 < len(messages) <= MAX_MESSAGES:
        raise InvalidChartUpdate(f"messages must be a list of 1 to {MAX_MESSAGES}")
    for message in messages:
        _check_message(message, scope)
    return scope, messages, body["full"]
