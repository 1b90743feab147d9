"""The naming rules every service shares (contract/names.py): room names, event names,
scopes and the event a room feeds."""

from __future__ import annotations

import pytest

from contract import names


@pytest.mark.parametrize(("text", "valid"), [
    ("bio-101", True), ("a", True), ("x" * 40, True), ("7", True),
    ("", False), ("x" * 41, False), ("-bio", False), ("bio-", False), ("Bio", False),
    ("bio.101", False), ("bio_101", False), ("bio 101", False), ("bio/101", False),
    ("bío", False), (None, False), (7, False), ("bio\n", False),
])
def test_room_names_are_tms_slugs(text, valid):
    assert names.is_room_name(text) is valid
    assert names.is_event_name(text) is valid  # one rule for both


@pytest.mark.parametrize(("scope", "parsed"), [
    ("event:sotu", ("event", "sotu")), ("room:bio-101", ("room", "bio-101")),
    ("event:", None), ("event:Sotu", None), ("room:", None), ("room:-x", None),
    ("room:Bio.101_x", None), ("sotu", None), ("event:a:b", None), ("room:a/b", None),
    ("chart:sotu", None), (None, None), (b"event:sotu", None),
])
def test_scopes(scope, parsed):
    assert names.parse_scope(scope) == parsed
    assert names.is_scope(scope) is (parsed is not None)


def test_scope_builders_round_trip():
    assert names.parse_scope(names.event_scope("debate-2026")) == ("event", "debate-2026")
    assert names.parse_scope(names.room_scope("bio-101")) == ("room", "bio-101")


@pytest.mark.parametrize(("room", "event"), [
    ("sotu-2026", "sotu"), ("bio-sotu", "sotu"), ("stateoftheunion-watch", "sotu"),
    ("bio-101", ""), ("state-of-the-union", ""),  # the marker is one word
])
def test_sotu_named_rooms_are_in_the_sotu_event_by_default(room, event):
    assert names.default_event(room) == event
    assert names.event_from_setting(room, None) == event


@pytest.mark.parametrize(("setting", "event"), [
    ("sotu", "sotu"), ("", ""), ("off", ""), ("OFF", ""), (" Debate-2026 ", "debate-2026"),
    ("bad name!", ""), ("x" * 41, ""), (7, ""), (True, ""), (["sotu"], ""),
])
def test_event_from_a_setting(setting, event):
    assert names.event_from_setting("sotu-x", setting) == event
