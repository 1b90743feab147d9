"""The event envelope is defined once (contract/events.py); these pin its contract."""

from datetime import UTC, datetime

import pytest

from contract import events


def _created(**overrides):
    data = {"id": 7, "nickname": "ann", "text": "hi", "html": "hi",
            "created": "2026-11-23T10:00:00.000Z"}
    data.update(overrides)
    return data


def test_make_builds_the_architecture_envelope():
    ts = datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=UTC)
    envelope = events.make(events.MESSAGE_CREATED, "bio-101", 42, _created(), ts)
    assert envelope == {"v": 1, "type": "message.created", "room": "bio-101", "seq": 42,
                        "ts": "2026-11-23T10:00:00.123Z", "data": _created()}


@pytest.mark.parametrize("bad", [
    {"v": 2}, {"type": "message.exploded"}, {"seq": 0}, {"seq": True}, {"seq": "3"},
    {"room": ""}, {"data": []}, {"extra": 1},
])
def test_check_refuses_malformed_envelopes(bad):
    envelope = {"v": 1, "type": "message.created", "room": "r", "seq": 1, "ts": "x",
                "data": _created()}
    envelope.update(bad)
    with pytest.raises(events.InvalidEvent):
        events.check(envelope)


def test_check_refuses_extra_or_missing_data_keys():
    with pytest.raises(events.InvalidEvent):
        events.make(events.MESSAGE_DELETED, "r", 1, {"id": 1, "text": "leak"}, datetime.now(UTC))
    with pytest.raises(events.InvalidEvent):
        events.make(events.MESSAGE_CREATED, "r", 1, {"id": 1}, datetime.now(UTC))
