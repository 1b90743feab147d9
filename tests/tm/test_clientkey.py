"""Rate-limit client keys never hold, or let anyone recover, the address."""

from datetime import date

from django.test import RequestFactory

from tm.clientkey import client_key


def _request(address):
    return RequestFactory().get("/", REMOTE_ADDR=address)


def test_the_key_hides_the_address_and_rotates_daily(settings):
    day = date(2026, 11, 23)
    key = client_key(_request("203.0.113.7"), day)
    assert "203.0.113.7" not in key and "203" not in key[:3]
    assert key == client_key(_request("203.0.113.7"), day)
    assert key != client_key(_request("203.0.113.8"), day)
    assert key != client_key(_request("203.0.113.7"), date(2026, 11, 24))


def test_the_key_depends_on_the_server_secret(settings):
    day = date(2026, 11, 23)
    first = client_key(_request("203.0.113.7"), day)
    settings.TM_CLIENT_KEY_SECRET = "another secret"
    assert client_key(_request("203.0.113.7"), day) != first
