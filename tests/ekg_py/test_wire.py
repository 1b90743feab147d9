"""How the shell puts a message on the wire (ekg_py/wire.py): built once per message,
the same bytes for every connection."""

from __future__ import annotations

import json
import struct

from ekg_py import wire
from ekg_py.outgoing import Encoded

from .support import make_event


def test_sse_encoding_carries_the_seq_as_id_and_one_data_line():
    event = make_event("r", 42, text="two\nlines")
    chunk = wire.sse_event(Encoded(event)).decode()
    lines = chunk.split("\n")
    assert lines[0] == "id: 42"
    assert json.loads(lines[1].removeprefix("data: ")) == event
    assert chunk.endswith("\n\n") and len(lines) == 4


def test_a_reconnect_tells_eventsource_when_to_come_back_and_websockets_nothing_more():
    reconnect = wire.with_sse_retry(Encoded({"type": "reconnect", "delay_ms": 900}), 900)
    assert wire.sse_event(reconnect) == b'retry: 900\ndata: {"type":"reconnect","delay_ms":900}\n\n'
    assert wire.sse_chunk(reconnect) == b"%x\r\n%s\r\n" % (len(wire.sse_event(reconnect)),
                                                           wire.sse_event(reconnect))
    assert wire.ws_frame(reconnect)[2:] == reconnect.data


def test_websocket_frames_take_the_length_form_rfc_6455_gives_their_size():
    for size, head in [(10, b"\x81\x0a"), (125, b"\x81\x7d"),
                       (126, b"\x81\x7e" + struct.pack("!H", 126)),
                       (70_000, b"\x81\x7f" + struct.pack("!Q", 70_000))]:
        item = Encoded({"type": "x"})
        item.data = b"a" * size
        assert wire.ws_frame(item) == head + item.data


def test_each_wire_form_is_built_once_and_shared():
    item = Encoded(make_event("r", 1))
    assert wire.ws_frame(item) is wire.ws_frame(item)
    assert wire.sse_chunk(item) is wire.sse_chunk(item)
    batch = [item, Encoded(make_event("r", 2))]
    assert wire.ws_frames(batch) == wire.ws_frame(batch[0]) + wire.ws_frame(batch[1])
    assert wire.ws_frames(batch[:1]) is wire.ws_frame(item)
    assert wire.sse_bare(batch) == wire.sse_event(batch[0]) + wire.sse_event(batch[1])
