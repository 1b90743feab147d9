"""Room.get: the object-caching pattern against the real memcached."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tm.models import Room


def _room(name="chem-1"):
    return Room.objects.create(name=name, expires_at=timezone.now() + timedelta(hours=1))


@pytest.mark.django_db
def test_a_hit_skips_the_database():
    _room()
    cache.delete(Room.cache_key("chem-1"))  # the write guard has run out
    assert Room.get("chem-1").name == "chem-1"
    with CaptureQueriesContext(connection) as queries:
        assert Room.get("chem-1").name == "chem-1"
    assert len(queries) == 0


@pytest.mark.django_db
def test_a_miss_is_cached_and_creating_the_room_flushes_it():
    assert Room.get("chem-1") is None
    with CaptureQueriesContext(connection) as queries:
        assert Room.get("chem-1") is None
    assert len(queries) == 0
    _room()
    assert Room.get("chem-1") is not None


@pytest.mark.django_db
def test_save_and_delete_flush_the_key():
    room = _room()
    Room.get("chem-1")
    room.topic = "acids"
    room.save()
    assert Room.get("chem-1").topic == "acids"
    room.delete()
    assert Room.get("chem-1") is None


@pytest.mark.django_db
def test_after_a_write_readers_use_the_database_and_cache_nothing_for_a_while():
    room = _room()
    room.topic = "acids"
    room.save()
    with CaptureQueriesContext(connection) as queries:
        assert Room.get("chem-1").topic == "acids"
        assert Room.get("chem-1").topic == "acids"
    assert len(queries) == 2
    assert cache.get(Room.cache_key("chem-1")) == "__writing__"


@pytest.mark.django_db
def test_a_row_read_before_a_write_cannot_be_cached_over_its_guard():
    room = _room()
    cache.delete(Room.cache_key("chem-1"))
    read_before = Room.objects.get(name="chem-1")  # a reader that missed the cache...
    room.topic = "acids"
    room.save()  # ...a write commits before it caches what it read
    assert not cache.add(Room.cache_key("chem-1"), read_before)  # what Room.get does
    assert Room.get("chem-1").topic == "acids"


@pytest.mark.django_db
def test_the_cache_is_the_real_memcached_with_a_private_prefix(settings):
    assert settings.CACHES["default"]["BACKEND"] == "tm.memcache.MemcachedCache"
    assert settings.CACHES["default"]["KEY_PREFIX"] not in ("", "tm", "tm-dev")
    cache.set("probe", 1)
    assert cache.get("probe") == 1
