"""The collector as it runs: `python -m sotu.collector` against two real flatdb processes.

Events arrive as reflektor replays them (signed POSTs). Messages carry a `ts` some
seconds in the past, so their word bucket is closed and written within a flush
interval; the shutdown tests use the current time (an open bucket) instead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from contract import events, signing

from .support import (
    SECRET,
    UNIT,
    bucket_of,
    deleted,
    message,
    past_moment,
    post,
    room_updated,
    scan,
    second_of,
    start_collector,
    start_flatdb,
    stored,
    wait_until,
)


def _eventually_stored(base: str, key: str, expected, timeout: float = 5) -> None:
    try:
        wait_until(lambda: stored(base, key) == expected, timeout=timeout)
    except AssertionError:
        raise AssertionError(f"{key} never became {expected!r}; "
                             f"it is {stored(base, key)!r}") from None


def _accepted(response: requests.Response) -> dict:
    assert response.status_code == 202, response.text
    return response.json()


# -- counting --------------------------------------------------------------------------
def test_a_sotu_room_counts_words_and_ticks_for_the_sotu_event(collector, stores, name):
    room = f"sotu-watch-{name}"
    # Its first event, as tm sends it: the settings of a room made with the defaults.
    _accepted(post(collector.url, room_updated(room, 1)))
    moment = past_moment(30)
    texts = ["Taxes are too high, @bob!", "Lower TAXES now: great https://ex.com/taxes",
             "the taxed economy is good", "fuck taxes"]
    for seq, text in enumerate(texts, start=2):
        assert _accepted(post(collector.url, message(room, seq, text, moment))) == {
            "ok": True, "outcome": "counted"}
    words_key = f"event:sotu:{bucket_of(moment)}"
    _eventually_stored(stores.clouddb.url, words_key,
                       {"taxes": 4, "high": 1, "lower": 1, "great": 1, "economy": 1,
                        "good": 1})
    # AFINN-165: great +3, good +3, fuck -4; mean over 4 messages.
    _eventually_stored(stores.tickdb.url, f"event:sotu:{second_of(moment)}", {
        "n": 4, "sentiment": 0.5})
    assert scan(stores.clouddb.url, f"room:{room}:") == {}  # analytics is off by default


def test_rooms_follow_their_analytics_and_event_settings(collector, stores, name):
    room = f"civics-{name}"
    _accepted(post(collector.url, room_updated(room, 1, analytics=True,
                                               event_scope=f"debate-{name}")))
    moment = past_moment(25)
    _accepted(post(collector.url, message(room, 2, "Healthcare healthcare!", moment)))
    for scope in (f"room:{room}", f"event:debate-{name}"):
        _eventually_stored(stores.clouddb.url, f"{scope}:{bucket_of(moment)}",
                           {"healthcare": 1})
        _eventually_stored(stores.tickdb.url, f"{scope}:{second_of(moment)}", {
            "n": 1, "sentiment": 0.0})


def test_room_updated_turns_scopes_on_and_off(collector, stores, name):
    room = f"hist-{name}"  # its room.updated was lost: a room it knows nothing of
    moment = past_moment(20)
    assert _accepted(post(collector.url, message(room, 1, "colonies", moment)))[
        "outcome"] == "not_in_scope"
    assert _accepted(post(collector.url, room_updated(room, 2, analytics=True)))[
        "outcome"] == "room_updated"
    _accepted(post(collector.url, message(room, 3, "revolution", moment)))
    _eventually_stored(stores.clouddb.url, f"room:{room}:{bucket_of(moment)}", {"revolution": 1})

    sotu_room = f"stateoftheunion-{name}"
    _accepted(post(collector.url, room_updated(sotu_room, 1, event_scope="off")))
    assert _accepted(post(collector.url, message(sotu_room, 2, "opted out", moment)))[
        "outcome"] == "not_in_scope"


def test_a_room_known_from_no_event_counts_nowhere_not_even_by_its_name(collector, stores,
                                                                     name):
    # A sotu-named room may be private (tm takes those out of the event): without its
    # settings the collector cannot tell, so it counts the room in no chart at all.
    room = f"sotu-secret-{name}"
    moment = past_moment(20)
    assert _accepted(post(collector.url, message(room, 2, f"{name}whispers", moment)))[
        "outcome"] == "not_in_scope"
    time.sleep(0.3 * UNIT)
    assert all(f"{name}whisper" not in value for value in scan(stores.clouddb.url,
                                                                "event:").values())
    assert requests.get(f"{collector.url}/healthz", timeout=5).json()["rooms_unknown"] >= 1


def test_a_redelivered_event_counts_once_and_late_messages_merge(collector, stores, name):
    room = f"dup-{name}"
    fake_event = f"dup-{name}"
    _accepted(post(collector.url, room_updated(room, 1, event_scope=fake_event)))
    moment = past_moment(15)
    first = message(room, 2, "borders", moment)
    assert _accepted(post(collector.url, first))["outcome"] == "counted"
    assert _accepted(post(collector.url, first))["outcome"] == "duplicate"
    key = f"event:{fake_event}:{bucket_of(moment)}"
    _eventually_stored(stores.clouddb.url, key, {"borders": 1})
    # A late message for a bucket already written: the bucket is written again, merged.
    # "borders" and "border" are one stem; on a tie the shorter form is shown.
    _accepted(post(collector.url, message(room, 3, "border security", moment)))
    _eventually_stored(stores.clouddb.url, key, {"border": 2, "security": 1})
    _eventually_stored(stores.tickdb.url, f"event:{fake_event}:{second_of(moment)}", {
        "n": 2, "sentiment": 0.0})


# -- refusals --------------------------------------------------------------------------
def test_unsigned_stale_wrong_and_tampered_requests_are_refused(collector, stores, name):
    room = f"sotu-sig-{name}"
    event = message(room, 1, "sneaky words", past_moment(30))
    assert post(collector.url, event, signature=None).status_code == 401
    assert post(collector.url, event, now=time.time() - 120).status_code == 401
    assert post(collector.url, event, signature="t=1,v1=00").status_code == 401
    tampered = post(collector.url, event, sign_body=b'{"other": "body"}')
    assert tampered.status_code == 401
    assert tampered.json()["error"]["code"] == "bad_signature"
    bad = post(collector.url, room=room, body=b"{not json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_event"
    elsewhere = post(collector.url, event, room=f"other-{name}")
    assert elsewhere.status_code == 400
    assert elsewhere.json()["error"]["code"] == "room_mismatch"
    time.sleep(0.3 * UNIT)  # several flush intervals: nothing may have been counted
    assert all("sneaky" not in value for value in scan(stores.clouddb.url, "event:").values())


def _delete_room(base: str, room: str, secret: str = SECRET,
                 deleted_at: datetime | None = None) -> requests.Response:
    path = f"/internal/rooms/{room}"
    body = json.dumps({"deleted_at": events.iso_utc(deleted_at or datetime.now(UTC))}).encode()
    headers = {signing.HEADER: signing.sign(secret, "DELETE", path, body)}
    return requests.delete(base + path, data=body, headers=headers, timeout=10)


def test_a_deleted_room_takes_its_own_counts_with_it(collector, stores, name):
    """tm deleted the room: its room scope goes from memory and both flatdbs, its facts
    too; what it added to a shared event stays; a new room of that name starts from
    nothing."""
    room = f"gone-{name}"
    _accepted(post(collector.url, room_updated(room, 1, analytics=True,
                                               event_scope=f"shared-{name}")))
    moment = past_moment(25)
    _accepted(post(collector.url, message(room, 2, "photosynthesis", moment)))
    room_key = f"room:{room}:{bucket_of(moment)}"
    _eventually_stored(stores.clouddb.url, room_key, {"photosynthesis": 1})
    # A message in an open bucket too: held in memory, not written yet.
    _accepted(post(collector.url, message(room, 3, "chlorophyll", datetime.now(UTC))))
    _eventually_stored(stores.clouddb.url, f"facts:{room}",
                       {"event": f"shared-{name}", "analytics": True})

    assert _delete_room(collector.url, room, secret="wrong").status_code == 401
    # Announced late, after a new room took the name: only what is older goes.
    answer = _delete_room(collector.url, room, deleted_at=moment - timedelta(seconds=60))
    assert answer.status_code == 200, answer.text
    assert stored(stores.clouddb.url, room_key) == {"photosynthesis": 1}
    answer = _delete_room(collector.url, room)
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is True
    assert scan(stores.clouddb.url, f"room:{room}:") == {}
    assert scan(stores.tickdb.url, f"room:{room}:") == {}
    assert stored(stores.clouddb.url, f"facts:{room}") is None
    assert stored(stores.clouddb.url, f"event:shared-{name}:{bucket_of(moment)}") == {
        "photosynthesis": 1}
    time.sleep(2.5 * UNIT)  # flushes come and go: nothing of the room is written again
    assert scan(stores.clouddb.url, f"room:{room}:") == {}
    assert _delete_room(collector.url, room).status_code == 200  # again: nothing to do


def test_a_deleted_post_leaves_counts_already_written(collector, stores, name):
    """A student's erasure reaches the charts: a post deleted after its bucket was
    written is taken out of the stored counts, in every scope, and its trace goes."""
    room = f"erase-{name}"
    _accepted(post(collector.url, room_updated(room, 1, analytics=True,
                                               event_scope=f"shared-{name}")))
    moment = past_moment(25)
    _accepted(post(collector.url, message(room, 2, "mitochondria energy", moment,
                                          message_id=21)))
    _accepted(post(collector.url, message(room, 3, "energy", moment, message_id=22)))
    keys = [f"room:{room}:{bucket_of(moment)}", f"event:shared-{name}:{bucket_of(moment)}"]
    for key in keys:
        _eventually_stored(stores.clouddb.url, key, {"energy": 2, "mitochondria": 1})
    _eventually_stored(stores.clouddb.url, f"trace:{room}:21", {
        "scopes": [f"event:shared-{name}", f"room:{room}"],
        "start": int(datetime.fromisoformat(bucket_of(moment)).timestamp()),
        "stems": ["mitochondria", "energi"]})
    assert _accepted(post(collector.url, deleted(room, 4, 21)))["outcome"] == "uncounted"
    for key in keys:
        _eventually_stored(stores.clouddb.url, key, {"energy": 1})
    wait_until(lambda: stored(stores.clouddb.url, f"trace:{room}:21") is None, timeout=5)
    assert stored(stores.clouddb.url, f"trace:{room}:22") is not None


def test_a_restarted_collector_uncounts_from_the_kept_trace(own_stores, tmp_path, name):
    room = f"later-{name}"
    first = start_collector(tmp_path, own_stores.clouddb.url, own_stores.tickdb.url,
                            name="collector-1")
    _accepted(post(first.url, room_updated(room, 1, analytics=True)))
    moment = past_moment(20)
    _accepted(post(first.url, message(room, 2, "osmosis diffusion", moment, message_id=7)))
    _accepted(post(first.url, message(room, 3, "diffusion", moment, message_id=8)))
    key = f"room:{room}:{bucket_of(moment)}"
    _eventually_stored(own_stores.clouddb.url, key, {"diffusion": 2, "osmosis": 1})
    first.signal(signal.SIGTERM)
    assert first.wait() == 0, first.log_tail()
    assert stored(own_stores.clouddb.url, f"trace:{room}:7") is not None

    second = start_collector(tmp_path, own_stores.clouddb.url, own_stores.tickdb.url,
                             name="collector-2")
    try:
        # Nothing of the post is in this process's memory: the trace in clouddb is all.
        assert _accepted(post(second.url, deleted(room, 4, 7)))["outcome"] == "uncounting"
        _eventually_stored(own_stores.clouddb.url, key, {"diffusion": 1})
        wait_until(lambda: stored(own_stores.clouddb.url, f"trace:{room}:7") is None,
                   timeout=5)
        health = requests.get(second.url + "/healthz", timeout=5).json()
        assert health["deleted_later"] == 1
        # The room's deletion takes the traces left with it.
        assert _delete_room(second.url, room).status_code == 200
        assert scan(own_stores.clouddb.url, f"trace:{room}:") == {}
    finally:
        second.stop()


def test_every_other_path_and_method_is_404(collector):
    for method, path in [("GET", "/"), ("POST", "/internal/rooms/r/other"),
                         ("DELETE", "/internal/rooms/r/events"),
                         ("GET", "/internal/rooms/r/events"), ("PUT", "/internal/x"),
                         ("POST", "/internal/rooms/r/events/extra")]:
        body = b"{}"
        headers = {signing.HEADER: signing.sign("sotu-test-secret", method, path, body)}
        response = requests.request(method, collector.url + path, data=body,
                                    headers=headers, timeout=5)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found"


# -- stopping and failures ---------------------------------------------------------------
def _fresh_bucket_moment() -> datetime:
    """Now, early enough in its bucket that the bucket stays open for the test."""
    while time.time() % 10 > 8:  # 3 s left before it is written: ample
        time.sleep(0.1)
    return datetime.now(UTC)


def test_sigterm_writes_open_buckets_and_deletes_take_unwritten_words_back(
        own_stores, tmp_path, name):
    service = start_collector(tmp_path, own_stores.clouddb.url, own_stores.tickdb.url)
    room = f"sotu-stop-{name}"
    _accepted(post(service.url, room_updated(room, 1)))
    moment = _fresh_bucket_moment()
    _accepted(post(service.url, message(room, 2, "inflation inflation", moment,
                                        message_id=11)))
    _accepted(post(service.url, message(room, 3, "inflation wages", moment, message_id=12)))
    _accepted(post(service.url, message(room, 4, "idiots wages", moment, message_id=13)))
    assert _accepted(post(service.url, deleted(room, 5, 13)))["outcome"] == "uncounted"
    service.signal(signal.SIGTERM)
    assert service.wait() == 0, service.log_tail()
    assert stored(own_stores.clouddb.url, f"event:sotu:{bucket_of(moment)}") == {
        "inflation": 2, "wages": 1}
    # Ticks are not taken back: three messages were posted in that second.
    assert stored(own_stores.tickdb.url, f"event:sotu:{second_of(moment)}")["n"] == 3


def test_counts_wait_for_a_flatdb_that_is_down_and_merge_across_restarts(
        own_stores, tmp_path, name):
    room = f"sotu-down-{name}"
    moment = past_moment(20)
    key = f"event:sotu:{bucket_of(moment)}"
    first = start_collector(tmp_path, own_stores.clouddb.url, own_stores.tickdb.url,
                            "--retry-max", str(0.2 * UNIT), name="collector-1")
    clouddb_port = own_stores.clouddb.port
    own_stores.clouddb.stop()
    # The room's settings come while clouddb is down: kept, and written when it is back.
    _accepted(post(first.url, room_updated(room, 1)))
    _accepted(post(first.url, message(room, 2, "climate", moment)))
    wait_until(lambda: requests.get(first.url + "/healthz", timeout=5).json()[
        "flush_failures"] >= 2, message="no failed flush while clouddb was down")
    # tickdb is up: its half of the counts is written meanwhile.
    _eventually_stored(own_stores.tickdb.url, f"event:sotu:{second_of(moment)}", {
        "n": 1, "sentiment": 0.0})
    own_stores.clouddb = start_flatdb("clouddb-again", tmp_path / "clouddb", tmp_path,
                                      port=clouddb_port)
    _eventually_stored(own_stores.clouddb.url, key, {"climate": 1})
    first.signal(signal.SIGTERM)
    assert first.wait() == 0, first.log_tail()

    # A new collector adds to what the first one wrote instead of overwriting it, and
    # knows the room from the facts the first one kept in clouddb.
    second = start_collector(tmp_path, own_stores.clouddb.url, own_stores.tickdb.url,
                             name="collector-2")
    try:
        assert _accepted(post(second.url, message(room, 3, "climate change", moment)))[
            "outcome"] == "counted"
        _eventually_stored(own_stores.clouddb.url, key, {"climate": 2, "change": 1})
        _eventually_stored(own_stores.tickdb.url, f"event:sotu:{second_of(moment)}",
                           {"n": 2, "sentiment": 0.0})
    finally:
        second.stop()


def test_shared_events_counts_expire_and_rooms_own_stay(own_stores, tmp_path, name):
    """A shared event's counts are deleted `--event-days` after their time (the
    operator's retention; docs/retention.md); a room's own counts go with the room."""
    room = f"expire-{name}"
    event = f"old-{name}"
    service = start_collector(tmp_path, own_stores.clouddb.url, own_stores.tickdb.url,
                              "--event-days", str(20 / 86400),
                              "--sweep-interval", str(0.3 * UNIT))
    try:
        _accepted(post(service.url, room_updated(room, 1, event_scope=event, analytics=True)))
        old = past_moment(40)
        _accepted(post(service.url, message(room, 2, "archive", old)))
        _eventually_stored(own_stores.clouddb.url, f"room:{room}:{bucket_of(old)}",
                           {"archive": 1})
        wait_until(lambda: scan(own_stores.clouddb.url, f"event:{event}:") == {}
                   and scan(own_stores.tickdb.url, f"event:{event}:") == {}, timeout=10,
                   message="the event's old counts were never deleted")
        assert stored(own_stores.clouddb.url, f"room:{room}:{bucket_of(old)}") == {
            "archive": 1}
        health = requests.get(service.url + "/healthz", timeout=5).json()
        assert health["event_keys_expired"] >= 2
    finally:
        service.stop()


@pytest.mark.parametrize("flag", ["--event-days", "--sweep-interval"])
def test_retention_flags_must_be_positive(flag):
    env = {**os.environ, "TM_INTERNAL_SECRET": SECRET}
    result = subprocess.run([sys.executable, "-m", "sotu.collector", flag, "0"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "must be positive" in result.stderr
