"""Internal-call signatures: what both ends of tm -> reflektor -> ekg/sotu compute."""

import pytest

from tm import signing

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


def test_moderator_tokens_are_per_room_and_expire():
    token = signing.moderator_token(SECRET, "bio-101", now=NOW, ttl=60)
    assert signing.check_moderator_token(SECRET, token, "bio-101", now=NOW + 59)
    assert not signing.check_moderator_token(SECRET, token, "bio-101", now=NOW + 61)
    assert not signing.check_moderator_token(SECRET, token, "chem-1", now=NOW)
    assert not signing.check_moderator_token("other", token, "bio-101", now=NOW)
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert not signing.check_moderator_token(SECRET, forged, "bio-101", now=NOW)
    for junk in (None, "", "bio-101", "bio-101.x.y", "a.b"):
        assert not signing.check_moderator_token(SECRET, junk, "bio-101", now=NOW)
