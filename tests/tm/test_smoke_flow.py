"""The whole API path once: create, join, post, read, moderate."""

from tm.models import Event, Message


def test_create_join_post_read_delete(room, join, moderator, api):
    ann = join(room["name"], "Ann")
    posted = ann.post("/api/v1/rooms/bio-101/messages", {"text": "hello <b>class</b> https://example.org"})
    assert posted.status_code == 201, posted.content
    message = posted.json()
    assert message["nickname"] == "Ann"
    assert message["seq"] == 2  # after the room's first event: its settings
    assert "&lt;b&gt;" in message["html"]
    assert 'href="https://example.org"' in message["html"]

    history = api.get("/api/v1/rooms/bio-101/messages?after=0").json()
    assert [m["id"] for m in history["messages"]] == [message["id"]]

    assert moderator.delete(f"/api/v1/rooms/bio-101/messages/{message['id']}").status_code == 204
    history = api.get("/api/v1/rooms/bio-101/messages?after=0").json()
    assert history["messages"] == []
    assert history["deleted"] == [message["id"]]
    assert history["seq"] == 3
    assert list(Event.objects.order_by("seq").values_list("type", flat=True)) == [
        "room.updated", "message.created", "message.deleted"]
    assert Message.objects.get().text == ""
