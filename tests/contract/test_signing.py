"""Internal-call signatures: what both ends of tm -> reflektor -> ekg/sotu compute."""

from datetime import UTC, datetime

import pytest

from contract import signing
from contract.events import iso_utc

SECRET = "s3cret"
BODY = b'{"v":1}'
NOW = 1_800_000_000


def test_a_signed_request_verifies():
    header = signing.sign(SECRET, "POST", "/internal/rooms/r/events", BODY, now=NOW)
    assert header.startswith(f"t={NOW},v1=")
    assert signing.verify(SECRET, header, "POST", "/internal/rooms/r/events", BODY, now=NOW) is None


@pytest.mark.parametrize("change, reason", [
    ({"header": None}, "missing signature"),
    ({"header": "garbage"}, "malformed signature"),
    ({"secret": "other"}, "wrong signature"),
    ({"body": b'{"v":2}'}, "wrong signature"),
    ({"path": "/internal/rooms/other/events"}, "wrong signature"),
    ({"method": "PUT"}, "wrong signature"),
    ({"now": NOW + 61}, "stale signature"),
    ({"now": NOW - 61}, "stale signature"),
])
def test_tampering_is_refused(change, reason):
    args = {"secret": SECRET, "header": signing.sign(SECRET, "POST", "/internal/rooms/r/events",
                                                     BODY, now=NOW),
            "method": "POST", "path": "/internal/rooms/r/events", "body": BODY, "now": NOW}
    args.update(change)
    assert signing.verify(args["secret"], args["header"], args["method"], args["path"],
                          args["body"], now=args["now"]) == reason


def test_no_secret_means_no_signing():
    with pytest.raises(ValueError):
        signing.sign("", "POST", "/", b"")
    assert signing.verify("", "t=1,v1=x", "POST", "/", b"") is not None


CREATED = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)


def test_follow_tickets_carry_room_incarnation_role_and_expiry():
    incarnation = signing.incarnation_ms(CREATED)
    ticket = signing.follow_ticket(SECRET, "bio-101", incarnation, "moderator", now=NOW,
                                   ttl=60)
    found, why = signing.check_follow_ticket(SECRET, ticket, "bio-101", now=NOW + 59)
    assert why == "" and found == signing.Ticket("bio-101", incarnation, "moderator",
                                                 int(NOW) + 60)
    assert found.moderator
    # As tm writes timestamps (events.iso_utc), to compare with events' ts.
    assert found.incarnation == iso_utc(CREATED) == "2026-11-23T10:00:00.123Z"
    student, _ = signing.check_follow_ticket(
        SECRET, signing.follow_ticket(SECRET, "bio-101", incarnation, "student"), "bio-101")
    assert student is not None and not student.moderator


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda t: t, ""),
    (lambda t: None, "missing ticket"),
    (lambda t: "", "missing ticket"),
    (lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"), "forged ticket"),
    (lambda t: t.replace(".student.", ".moderator."), "forged ticket"),
    (lambda t: t.replace("ft1.", "ft2."), "malformed ticket"),
    (lambda t: t.replace(".student.", ".teacher."), "malformed ticket"),
    (lambda t: t + "x" * 200, "malformed ticket"),
    (lambda t: "ft1.bio-101.1.student.9" + "9" * 300 + ".ab", "malformed ticket"),
    (lambda t: "ft1.bio-101.\u0661.student.1.ab", "malformed ticket"),
    (lambda t: "bio-101.x.y", "malformed ticket"),
])
def test_a_follow_ticket_is_checked_whole(mutate, reason):
    ticket = signing.follow_ticket(SECRET, "bio-101", 1, "student", now=NOW)
    found, why = signing.check_follow_ticket(SECRET, mutate(ticket), "bio-101", now=NOW)
    assert why == reason
    assert (found is None) == bool(reason)


def test_a_follow_ticket_is_for_one_room_secret_and_time():
    ticket = signing.follow_ticket(SECRET, "bio-101", 1, "viewer", now=NOW, ttl=60)
    assert signing.check_follow_ticket(SECRET, ticket, "chem-1", now=NOW)[1] == (
        "ticket for another room")
    assert signing.check_follow_ticket("other", ticket, "bio-101", now=NOW)[1] == (
        "forged ticket")
    assert signing.check_follow_ticket(SECRET, ticket, "bio-101", now=NOW + 61)[1].startswith(
        "expired ticket")
    with pytest.raises(ValueError):
        signing.follow_ticket(SECRET, "bio-101", 1, "admin")
    with pytest.raises(ValueError):
        signing.follow_ticket("", "bio-101", 1, "viewer")


@pytest.mark.parametrize("header", [
    "t=" + "9" * 400 + ",v1=ab", "t=-5,v1=ab", "t=1e9,v1=ab", "t=\u0661\u0662,v1=ab",
    "t=1,v1=\u00e9", "x" * 10_000, "t=,v1=", "=,=,=",
])
def test_a_malformed_signature_header_is_refused_not_raised(header):
    assert signing.verify(SECRET, header, "POST", "/", b"", now=NOW) == "malformed signature"
