"""The privacy notice: a short one at every join form (what is kept, for how long, who
sees it, who runs the service), the whole one at /privacy, with the controller the
operator configures."""

from django.test import Client


def test_the_join_forms_say_what_is_kept_and_who_runs_it(room, settings):
    settings.TM_PRIVACY_CONTROLLER = "Lincoln High School"
    for path in ("/bio-101", "/bio-101/embed"):
        html = Client().get(path).content.decode()
        assert 'id="join-privacy"' in html, path
        assert "your nickname" in html and "until the room ends" in html
        assert "Run by Lincoln High School" in html
        assert 'href="/privacy"' in html


def test_an_accountable_room_says_who_sees_the_real_name(make_room):
    make_room("acc-1", accountable=True)
    html = Client().get("/acc-1").content.decode()
    assert "your real name (only your teacher sees it)" in html


def test_the_whole_notice_names_the_controller_and_its_contact(db, settings):
    settings.TM_PRIVACY_CONTROLLER = "Springfield District <b>"
    settings.TM_PRIVACY_CONTACT = "dpo@springfield.example"
    html = Client().get("/privacy").content.decode()
    assert "Springfield District &lt;b&gt;" in html  # escaped like any text
    assert 'href="mailto:dpo@springfield.example"' in html
    settings.TM_PRIVACY_CONTACT = "javascript:alert(1)"
    html = Client().get("/privacy").content.decode()
    assert 'href="javascript' not in html and "javascript:alert(1)" in html
    settings.TM_AUDIT_RETENTION_DAYS = 30
    assert "at most 30 days" in Client().get("/privacy").content.decode()


def test_without_a_configured_controller_the_notice_says_so(room, settings):
    settings.TM_PRIVACY_CONTROLLER = ""
    assert "Your school runs it." in Client().get("/bio-101").content.decode()
    assert "has not named itself here yet" in Client().get("/privacy").content.decode()
