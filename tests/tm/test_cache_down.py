"""memcached is a cache, not a dependency (tm/memcache.py): with it down or hung, rooms
are created, joined, posted to and read, answered from the database, and the rate
limits let requests through."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from testkit.ports import free_port


@pytest.fixture
def hung_memcached():
    """A port that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    listener.close()
    for conn in accepted:
        conn.close()


def _cache_at(settings, location: str) -> None:
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": location}}


def _lesson(api_client_factory) -> None:
    teacher = api_client_factory()
    created = teacher.post("/api/v1/rooms", {"name": "no-cache-1"})
    assert created.status_code == 201, created.content
    student = api_client_factory()
    joined = student.post("/api/v1/rooms/no-cache-1/join", {"nickname": "ann"})
    assert joined.status_code == 201, joined.content
    student.token = joined.json()["token"]
    for n in range(3):
        posted = student.post("/api/v1/rooms/no-cache-1/messages", {"text": f"still here {n}"})
        assert posted.status_code == 201, posted.content
    history = student.get("/api/v1/rooms/no-cache-1/messages")
    assert [m["text"] for m in history.json()["messages"]] == [
        "still here 0", "still here 1", "still here 2"]


@pytest.mark.django_db
def test_a_lesson_goes_on_with_memcached_down(settings):
    from tests.conftest import ApiClient

    _cache_at(settings, f"127.0.0.1:{free_port()}")  # nothing listens there
    _lesson(ApiClient)


@pytest.mark.django_db
def test_a_hung_memcached_costs_a_bounded_wait_then_is_skipped(settings, hung_memcached):
    from tests.conftest import ApiClient

    _cache_at(settings, hung_memcached)
    began = time.monotonic()
    _lesson(ApiClient)
    # One timeout (0.5 s) marks the server dead for 5 s; without that, each of the ~15
    # cache calls above would wait out its own timeout.
    assert time.monotonic() - began < 5
