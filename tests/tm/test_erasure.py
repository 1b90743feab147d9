"""A student's right to erasure, exercised without the operator: a student deletes a
post of theirs, or leaves the room with everything they wrote (posts deleted for
everyone by event, words wiped, nickname gone from their rows and the room's audit
log, reports and token gone); a teacher erases one student's posts."""

from tests.conftest import ApiClient
from tm.models import AuditEntry, Event, Message, Participant, Report

from .apicheck import assert_error, unchanged, use_csrf

ROOM = "/api/v1/rooms/bio-101"
MESSAGES = f"{ROOM}/messages"


def texts(client: ApiClient) -> list[str]:
    return [m["text"] for m in client.get(MESSAGES).json()["messages"]]


def test_a_student_deletes_their_own_post_and_no_one_elses(room, join, api):
    ann, bo = join("bio-101", "Ann"), join("bio-101", "Bo")
    mine = ann.post(MESSAGES, {"text": "oops, wrong room"}).json()["id"]
    theirs = bo.post(MESSAGES, {"text": "hello"}).json()["id"]
    bo.post(f"{MESSAGES}/{mine}/report")
    with unchanged():
        assert_error(ann.delete(f"{MESSAGES}/{theirs}"), 403, "not_yours")
        assert_error(api.delete(f"{MESSAGES}/{mine}"), 401, "sign_in")
    assert ann.delete(f"{MESSAGES}/{mine}").status_code == 204
    assert texts(api) == ["hello"]
    assert Message.objects.get(pk=mine).text == ""
    assert not Report.objects.exists()
    assert Event.objects.filter(type="message.deleted").get().envelope["data"] == {"id": mine}
    assert_error(ann.delete(f"{MESSAGES}/{mine}"), 404, "not_found")


def test_a_cookie_student_needs_the_csrf_token(room, join):
    ann = join("bio-101", "Ann")
    mine = ann.post(MESSAGES, {"text": "x"}).json()["id"]
    browser = ApiClient()
    browser.client.cookies["tm_p_bio-101"] = ann.token
    with unchanged():
        assert_error(browser.delete(f"{MESSAGES}/{mine}"), 403, "csrf_failed")
    assert browser.delete(f"{MESSAGES}/{mine}", headers=use_csrf(browser)).status_code == 204


def test_a_student_leaves_with_everything_they_wrote(make_room, join, api):
    _, owner_key = make_room("bio-101", moderated=False)
    teacher = ApiClient()
    teacher.token = owner_key
    ann, bo = join("bio-101", "Ann"), join("bio-101", "Bo")
    first = ann.post(MESSAGES, {"text": "first"}).json()["id"]
    ann.post(MESSAGES, {"text": "second"})
    bo.post(MESSAGES, {"text": "stays"})
    gone = ann.post(MESSAGES, {"text": "deleted by the teacher"}).json()["id"]
    assert teacher.delete(f"{MESSAGES}/{gone}").status_code == 204
    ann.post(f"{MESSAGES}/{bo.get(MESSAGES).json()['messages'][2]['id']}/report")
    ann_id = Participant.objects.get(nickname="Ann").pk
    assert teacher.post(f"{ROOM}/participants/{ann_id}/mute", {"muted": True}).status_code == 200

    answer = ann.delete(f"{ROOM}/participants/me")
    assert answer.status_code == 200 and answer.json() == {"left": True, "posts_deleted": 2}
    assert texts(api) == ["stays"]
    assert not Participant.objects.filter(nickname="Ann").exists()
    assert not Message.objects.filter(nickname="Ann").exists()
    assert set(Message.objects.exclude(nickname="Bo").values_list("text", flat=True)) == {""}
    assert not Report.objects.exists()
    deleted = {e.envelope["data"]["id"] for e in Event.objects.filter(type="message.deleted")}
    assert first in deleted and len(deleted) == 3
    # The log keeps what was done, not to whom.
    assert "Ann" not in str(list(AuditEntry.objects.values_list("detail", flat=True)))
    assert AuditEntry.objects.filter(action="participant.left").get().actor == "a student"
    # Nor do the room's events (its outbox): her words and nickname are gone there too.
    assert "first" not in str(list(Event.objects.values_list("envelope", flat=True)))
    assert "Ann" not in str(list(Event.objects.values_list("envelope", flat=True)))
    # Her token is gone with her.
    assert_error(ann.post(MESSAGES, {"text": "back?"}), 403, "bad_token")
    assert_error(ann.delete(f"{ROOM}/participants/me"), 403, "bad_token")


def test_a_teacher_erases_a_students_posts(room, moderator, join, api):
    ann, bo = join("bio-101", "Ann"), join("bio-101", "Bo")
    for text in ("one", "two"):
        ann.post(MESSAGES, {"text": text})
    bo.post(MESSAGES, {"text": "mine"})
    ann_id = Participant.objects.get(nickname="Ann").pk
    with unchanged():
        assert_error(bo.post(f"{ROOM}/participants/{ann_id}/erase"), 403, "not_moderator")
        assert_error(moderator.post(f"{ROOM}/participants/987654/erase"), 404, "not_found")
    answer = moderator.post(f"{ROOM}/participants/{ann_id}/erase")
    assert answer.json() == {"posts_deleted": 2}
    assert texts(api) == ["mine"]
    assert ann.post(MESSAGES, {"text": "still here"}).status_code == 201
    entry = AuditEntry.objects.get(action="participant.erased")
    assert entry.detail == {"participant": ann_id, "nickname": "Ann", "posts": 2}


def test_the_moderation_page_erases_a_students_posts(room, join, api):
    ann = join("bio-101", "Ann")
    ann.post(MESSAGES, {"text": "one"})
    ann_id = Participant.objects.get(nickname="Ann").pk
    page = ApiClient()
    page.client.cookies["tm_o_bio-101"] = room["owner_key"]
    html = page.client.get("/bio-101/moderate").content.decode()
    assert 'aria-label="Erase posts Ann"' in html
    response = page.client.post("/bio-101/moderate/action",
                                {"action": "erase", "participant": ann_id}, **use_csrf(page))
    assert response.status_code == 302
    assert texts(api) == []
    assert "Erased 1 post." in page.client.get("/bio-101/moderate").content.decode()


def event_words(message_id: int) -> list[tuple[str, str, str]]:
    return [(e.type, e.envelope["data"]["text"], e.envelope["data"]["html"])
            for e in Event.objects.filter(envelope__data__id=message_id,
                                          type__in=["message.created", "message.pending"])
            .order_by("seq")]


def test_a_removed_posts_words_leave_the_event_log(make_room, join):
    """The events that showed a post keep its words until the room goes, unless its
    removal wipes them: deleted by its author or a teacher, rejected, erased."""
    _, owner_key = make_room("bio-101")
    teacher = ApiClient()
    teacher.token = owner_key
    ann, bo = join("bio-101", "Ann"), join("bio-101", "Bo")
    own = ann.post(MESSAGES, {"text": "my secret"}).json()["id"]
    by_teacher = ann.post(MESSAGES, {"text": "a rude one"}).json()["id"]
    held = ann.post(MESSAGES, {"text": "you are all idiots"}).json()["id"]  # the abuse check
    erased = bo.post(MESSAGES, {"text": "bo's post"}).json()["id"]
    kept = bo.post(MESSAGES, {"text": "bo keeps this"}).json()["id"]
    assert event_words(own) == [("message.created", "my secret", "my secret")]
    assert ann.delete(f"{MESSAGES}/{own}").status_code == 204
    assert teacher.delete(f"{MESSAGES}/{by_teacher}").status_code == 204
    assert teacher.post(f"{MESSAGES}/{held}/reject").status_code == 204
    bo_id = Participant.objects.get(nickname="Bo").pk
    assert teacher.post(f"{ROOM}/participants/{bo_id}/erase").status_code == 200
    assert event_words(own) == [("message.created", "", "")]
    assert event_words(by_teacher) == [("message.created", "", "")]
    assert event_words(held) == [("message.pending", "", "")]
    assert event_words(erased) == event_words(kept) == [("message.created", "", "")]
    everything = str(list(Event.objects.values_list("envelope", flat=True)))
    for words in ("secret", "rude", "idiots", "bo's post", "keeps"):
        assert words not in everything
    assert "Bo" in everything  # a teacher's erasure leaves the student (and nickname)
