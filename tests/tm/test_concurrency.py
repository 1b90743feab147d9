"""Posts racing for a room's next seq get consecutive numbers, never the same one."""

import threading

import pytest
from django.db import connections

from tm import actions
from tm.models import Event, Message, Participant, Room


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_take_consecutive_seqs(room, join):
    writers = [join(room["name"], f"p{i}") for i in range(4)]
    the_room = Room.objects.get(name=room["name"])
    people = list(Participant.objects.filter(room=the_room))
    errors = []

    def post_many(participant):
        try:
            for n in range(10):
                actions.post_message(the_room, participant, f"{participant.nickname} {n}")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post_many, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    seqs = sorted(Message.objects.filter(room=the_room).values_list("seq", flat=True))
    # seq 1 is the room's first event (its settings); the posts take 2, 3, ...
    assert seqs == list(range(2, 10 * len(writers) + 2))
    assert sorted(Event.objects.filter(room=the_room).values_list("seq", flat=True)) == [1, *seqs]
    the_room.refresh_from_db()
    assert the_room.seq == len(seqs) + 1
