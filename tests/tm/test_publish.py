"""Publishing after commit, the neighbour fallback, and the outbox relay.

The receiver here is a plain HTTP server that checks signatures the way reflektor's
targets do; the real reflektor and ekg are exercised in tests/integration.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from contract import events, signing
from testkit.ports import free_port
from tm import actions
from tm.models import Event, Participant, Room, RoomDeletion, hash_token
from tm.publish import BACKGROUND, publish_failures, relay_unannounced_deletions, relay_unpublished


class Receiver:
    def __init__(self):
        self.events: list[dict] = []
        self.deletions: list[str] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                reason = signing.verify(django_settings.TM_INTERNAL_SECRET,
                                        self.headers.get(signing.HEADER), "POST", self.path, body)
                if reason:
                    receiver.bad_signatures += 1
                    self.send_response(401)
                else:
                    receiver.events.append(json.loads(body))
                    self.send_response(202)
                self.end_headers()

            def do_DELETE(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reason = signing.verify(django_settings.TM_INTERNAL_SECRET,
                                        self.headers.get(signing.HEADER), "DELETE", self.path,
                                        body)
                if reason:
                    receiver.bad_signatures += 1
                    self.send_response(401)
                else:
                    receiver.deletions.append((self.path, json.loads(body)))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _dead_url():
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def ann(transactional_db, room, join):
    join(room["name"], "ann")
    # The room's first event (its settings, seq 1) went nowhere: these tests set the
    # reflektors up after. Out of the outbox, so each test sees only its own events.
    Event.objects.filter(seq=1).update(published_at=timezone.now())
    return Room.objects.get(name=room["name"]), Participant.objects.get(nickname="ann")


def test_a_post_is_published_signed_after_commit_via_the_first_live_reflektor(
        ann, receiver, settings):
    settings.TM_REFLEKTOR_URLS = [_dead_url(), receiver.url]
    room, person = ann
    message = actions.post_message(room, person, "hello")
    assert receiver.bad_signatures == 0
    assert [(e["type"], e["seq"], e["data"]["id"]) for e in receiver.events] == [
        ("message.created", 2, message.pk)]
    assert Event.objects.get(seq=2).published_at is not None


def test_a_rolled_back_write_publishes_nothing(ann, receiver, settings):
    settings.TM_REFLEKTOR_URLS = [receiver.url]
    room, person = ann
    with pytest.raises(RuntimeError), transaction.atomic():
        actions.post_message(room, person, "never happened")
        raise RuntimeError("roll back")
    assert receiver.events == []
    assert not Event.objects.filter(type="message.created").exists()


def test_when_every_reflektor_is_down_the_post_still_succeeds_and_the_relay_delivers(
        ann, receiver, settings):
    settings.TM_REFLEKTOR_URLS = [_dead_url()]
    room, person = ann
    before = publish_failures()
    for n in range(3):
        actions.post_message(room, person, f"m{n}")
    assert publish_failures() == before + 3
    assert Event.objects.filter(published_at__isnull=True).count() == 3

    settings.TM_REFLEKTOR_URLS = [receiver.url]
    assert relay_unpublished(older_than=timedelta(0)) == 3
    assert [e["seq"] for e in receiver.events] == [2, 3, 4]
    assert not Event.objects.filter(published_at__isnull=True).exists()
    assert relay_unpublished(older_than=timedelta(0)) == 0


def _post_as_a_wsgi_server_does(room: Room, person: Participant, text: str):
    """POST a message through Django's WSGI handler, as gunicorn calls it: returns the
    statuses given to start_response and the response, not yet closed."""
    import io

    from django.core.handlers.wsgi import WSGIHandler

    token = f"test-token-{person.pk}"  # a known token for the Bearer header
    Participant.objects.filter(pk=person.pk).update(token_hash=hash_token(token))
    body = json.dumps({"text": text}).encode()
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": f"/api/v1/rooms/{room.name}/messages",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Bearer {token}", "REMOTE_ADDR": "127.0.0.1",
    }
    statuses: list[str] = []
    response = WSGIHandler()(environ, lambda status, headers: statuses.append(status))
    return statuses, response


def test_in_a_request_the_event_goes_out_once_the_answer_has_been_written(
        ann, receiver, settings):
    """PublishAfterResponse: the poster's answer does not wait for reflektor. The WSGI
    server writes the response, then closes it; only then is the event published."""
    settings.TM_REFLEKTOR_URLS = [receiver.url]
    room, person = ann
    statuses, response = _post_as_a_wsgi_server_does(room, person, "after the answer")
    answer = json.loads(b"".join(response))
    assert statuses == ["201 Created"]
    assert receiver.events == []  # written, not yet closed: nothing published
    assert Event.objects.get(seq=answer["seq"]).published_at is None
    response.close()
    # Handed to the publish thread: the worker is free for its next request already.
    assert BACKGROUND.wait_idle()
    assert [e["data"]["text"] for e in receiver.events] == ["after the answer"]
    assert Event.objects.get(seq=answer["seq"]).published_at is not None
    # Outside a request again: an action publishes at once.
    actions.post_message(room, person, "from a command")
    assert [e["data"]["text"] for e in receiver.events][-1] == "from a command"


def test_deleting_a_room_tells_the_push_nodes_and_the_collector_signed(
        ann, receiver, settings):
    settings.TM_REFLEKTOR_URLS = [_dead_url(), receiver.url]
    room, _ = ann
    actions.delete_room(room)
    deletion = RoomDeletion.objects.get(name=room.name)
    assert receiver.deletions == [(f"/internal/rooms/{room.name}",
                                   {"deleted_at": events.iso_utc(deletion.deleted_at)})]
    assert receiver.bad_signatures == 0
    assert deletion.announced_at is not None


def test_a_name_taken_again_after_expiry_announces_the_old_rooms_deletion(
        ann, receiver, settings):
    settings.TM_REFLEKTOR_URLS = [receiver.url]
    room, _ = ann
    Room.objects.filter(pk=room.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    new_room, _ = actions.create_room(name=room.name, lifetime=3600)
    deletion = RoomDeletion.objects.get(name=room.name)
    assert receiver.deletions == [(f"/internal/rooms/{room.name}",
                                   {"deleted_at": events.iso_utc(deletion.deleted_at)})]
    # Announced as deleted before the new room was made: nodes keep the new one.
    assert deletion.deleted_at <= new_room.created_at
    assert not Participant.objects.filter(room_id=room.pk).exists()


def test_a_deletion_no_reflektor_took_is_announced_by_the_relay(ann, receiver, settings):
    settings.TM_REFLEKTOR_URLS = [_dead_url()]
    room, _ = ann
    actions.delete_room(room)
    assert RoomDeletion.objects.get(name=room.name).announced_at is None
    assert relay_unannounced_deletions(older_than=timedelta(0)) == 0  # still down
    settings.TM_REFLEKTOR_URLS = [receiver.url]
    assert relay_unannounced_deletions(older_than=timedelta(0)) == 1
    assert [path for path, _ in receiver.deletions] == [f"/internal/rooms/{room.name}"]
    assert RoomDeletion.objects.get(name=room.name).announced_at is not None
    assert relay_unannounced_deletions(older_than=timedelta(0)) == 0
    # Announced a day ago: the row goes.
    RoomDeletion.objects.update(announced_at=timezone.now() - timedelta(days=2))
    relay_unannounced_deletions()
    assert not RoomDeletion.objects.exists()


def test_a_room_deleted_in_a_rolled_back_transaction_is_not_announced(ann, receiver, settings):
    settings.TM_REFLEKTOR_URLS = [receiver.url]
    room, _ = ann
    with pytest.raises(RuntimeError), transaction.atomic():
        actions.delete_room(room)
        raise RuntimeError("roll back")
    assert receiver.deletions == []
    assert Room.objects.filter(pk=room.pk).exists()


class HungReflektor:
    """A reflektor that takes connections and never answers (the issue's failure)."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        with contextlib.suppress(OSError):
            while True:
                self.accepted.append(self.listener.accept()[0])

    def close(self):
        self.listener.close()
        for conn in self.accepted:
            conn.close()


def test_a_hung_reflektor_never_holds_the_request_worker(ann, receiver, settings):
    """The worker hands its events to the publish thread and is free at once; the hung
    call runs out there; the relay delivers once a reflektor answers again."""
    hung = HungReflektor()
    settings.TM_REFLEKTOR_URLS = [hung.url]
    room, person = ann
    try:
        for n in range(3):
            _, response = _post_as_a_wsgi_server_does(room, person, f"while hung {n}")
            b"".join(response)
            response.close()  # what the server does after writing: returns at once
        # The first send hangs on the publish thread; the worker went on meanwhile.
        deadline = time.monotonic() + 5
        while not hung.accepted:
            assert time.monotonic() < deadline, "the publish thread never tried"
            time.sleep(0.01)
        assert not BACKGROUND.wait_idle(timeout=0)
        assert Event.objects.filter(published_at__isnull=True).count() == 3
        # The hung call times out; the reflektor is skipped for a moment: the other
        # two do not wait on it at all.
        assert BACKGROUND.wait_idle(timeout=5)
        assert len(hung.accepted) == 1
    finally:
        hung.close()
    settings.TM_REFLEKTOR_URLS = [receiver.url]
    assert relay_unpublished(older_than=timedelta(0)) == 3
    assert [e["data"]["text"] for e in receiver.events] == [
        f"while hung {n}" for n in range(3)]
