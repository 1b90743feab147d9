"""Hostile text in every place users can put it, on every page that shows it.

Each string of the corpus goes in as a message body, and as a nickname where the
nickname rules take it. Pages are loaded twice: with the Content-Security-Policy
enforced (an injection would show as a policy violation) and with it bypassed (an
injection would really run): either way nothing may run and every string must show
as the literal text it is. The server renders the first page; room.js inserts what
arrives later, so both paths are tried.
"""

from __future__ import annotations

import unicodedata

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tm import validation

from .conftest import DESKTOP, POLL_WAIT_MS, ApiSession, TmServer

pytestmark = pytest.mark.browser

CORPUS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    '"><svg onload=alert(1)>',
    '<a href="javascript:alert(1)">x</a>',
    "'';!--\"<XSS>=&{()}",
    "<iframe src=javascript:alert(1)>",
    "see http://example.org/?q=<script>",
    "\u202eright-to-left override gnp.exe",
    "zero\u200bwidth\u200c join\u200der\ufeff here",
    "</textarea></title><script>alert(1)</script>",
    "<style>body{display:none}</style>",
    "&lt;b&gt;already escaped&lt;/b&gt; &amp; {{ 7*7 }} ${7*7}",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
]
# Short payloads for nicknames (24 characters at most), beside the corpus ones that fit.
NICKNAME_EXTRAS = [
    "<svg/onload=alert(1)>",
    "<script>alert(1)<!--",
    "</span><b>x</b>",
    "<b onclick=alert(1)>b</b>",
]
# Browser-side joins in the live test (distinct from NICKNAMES, which join by the API).
STUDENT_NICK = '"><svg onload=alert(2)>'
EMBED_NICK = "<svg/onload=alert('e')>"
TOPIC = '<script>alert("topic")</script><img src=x onerror=alert(2)>'


def as_shown(text: str) -> str:
    """The text as the server keeps it: NFC, runs of whitespace as one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def allowed_nicknames() -> list[str]:
    nicknames = []
    for candidate in CORPUS + NICKNAME_EXTRAS:
        try:
            validation.nickname(candidate)
        except validation.Invalid:
            continue  # too long, or bidi controls: the join form refuses it anyway
        nicknames.append(candidate)
    return nicknames


NICKNAMES = allowed_nicknames()

# Installed before any page script: records what an injection would call.
WATCH_SCRIPT = """
window.__xss = [];
(function () {
  function record(name) {
    return function () {
      window.__xss.push(name + "(" + Array.prototype.join.call(arguments, ",") + ")");
    };
  }
  window.alert = record("alert");
  window.confirm = record("confirm");
  window.prompt = record("prompt");
  document.addEventListener("securitypolicyviolation", function (event) {
    window.__xss.push("csp " + event.violatedDirective + " " + event.blockedURI + " " +
                      (event.sample || ""));
  }, true);
})();
"""

# Everything in the document that user text could have smuggled in.
DOM_AUDIT = """
() => {
  const problems = [];
  const path = (url) => new URL(url, location.href);
  for (const s of document.scripts) {
    const ours = (s.type === "application/json" && s.id === "tm-page") ||
      (s.src && path(s.src).origin === location.origin &&
       ["/static/tm/room.js", "/static/tm/live.js", "/static/tm/feed.js",
        "/static/tm/moderate.js"]
         .includes(path(s.src).pathname));
    if (!ours) problems.push("script " + s.outerHTML.slice(0, 150));
  }
  const foreign = "iframe, frame, object, embed, svg, math, style, base, xss, b, " +
    "meta[http-equiv], link:not([rel=stylesheet]):not([rel=icon]), " +
    "textarea:not(#compose-text):not(#share-embed):not(#set-origins)";
  for (const el of document.querySelectorAll(foreign)) {
    problems.push(el.tagName.toLowerCase() + " " + el.outerHTML.slice(0, 150));
  }
  for (const img of document.images) {
    const url = path(img.getAttribute("src") || "");
    if (url.origin !== location.origin || !url.pathname.endsWith("/qr.svg")) {
      problems.push("img " + img.outerHTML.slice(0, 150));
    }
  }
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name)) problems.push("handler " + el.tagName + " " + attr.name);
      if (/^(href|src|action|formaction|xlink:href)$/i.test(attr.name) &&
          /^\\s*(javascript|data|vbscript):/i.test(attr.value)) {
        problems.push("url " + el.tagName + " " + attr.value);
      }
    }
  }
  for (const a of document.querySelectorAll("a[href]")) {
    if (!/^https?:$/.test(path(a.getAttribute("href")).protocol)) problems.push("link " + a.href);
  }
  return problems;
}
"""


def watched_page(context: BrowserContext, dialogs: list[str]) -> Page:
    page = context.new_page()

    def on_dialog(dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return page


def assert_nothing_ran(page: Page, dialogs: list[str]) -> None:
    calls = page.evaluate("window.__xss")
    assert not calls, f"script ran (or the CSP blocked it) on {page.url}: {calls}"
    assert not dialogs, f"dialogs opened on {page.url}: {dialogs}"
    foreign = page.evaluate(DOM_AUDIT)
    assert not foreign, f"user text became markup on {page.url}: {foreign}"


def assert_literal(page: Page, selector: str, texts: list[str]) -> None:
    shown = page.locator(selector).first.text_content() or ""
    missing = [text for text in texts if as_shown(text) not in shown]
    assert not missing, f"{page.url} {selector} does not show these as text: {missing!r}"


def assert_csp(response) -> None:
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy, f"{response.url} has no strict CSP: {policy!r}"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, policy
    assert "object-src 'none'" in policy, policy


def fill_room(tm_server: TmServer, room: str) -> list[ApiSession]:
    """Every nickname joins; the corpus is posted round-robin (well under 10 per person)."""
    people = [tm_server.join(room, nickname) for nickname in NICKNAMES]
    for index, text in enumerate(CORPUS):
        tm_server.post(people[index % len(people)], room, text)
    return people


def report_and_mute_everyone(tm_server: TmServer, room: str, people: list[ApiSession],
                             owner: ApiSession) -> None:
    """Every post reported once (by the next person: nobody reports their own), and
    every person muted: the moderation page's reports card and activity log then show
    the whole corpus and every nickname."""
    api = f"{tm_server.url}/api/v1/rooms/{room}"
    posts = owner.get(f"{api}/messages?limit=500").json()["messages"]
    for index, post in enumerate(posts):
        reporter = people[(index + 1) % len(people)]
        answer = reporter.post(f"{api}/messages/{post['id']}/report")
        assert answer.status_code == 200, answer.text
    for person in owner.get(f"{api}/participants").json()["participants"]:
        answer = owner.post(f"{api}/participants/{person['id']}/mute", json={"muted": True})
        assert answer.status_code == 200, answer.text
    for name in MODERATOR_NAMES:  # the "Who moderates" card shows the owner's names
        answer = owner.post(f"{api}/moderators", json={"name": name})
        assert answer.status_code == 201, answer.text


# Corpus entries a moderator link may be named (one line, 60 characters at most).
MODERATOR_NAMES = [t for t in CORPUS if t.strip() and t == " ".join(t.split())
                   and len(t) <= 60][:20]


@pytest.fixture(scope="module")
def hostile_rooms(tm_server: TmServer) -> dict:
    """An open room and a held (moderated) room, both full of the corpus."""
    open_room, open_owner = tm_server.create_room("xss-open", topic=TOPIC)
    held_room, held_owner = tm_server.create_room("xss-held", topic=TOPIC, moderated=True)
    open_people = fill_room(tm_server, "xss-open")
    report_and_mute_everyone(tm_server, "xss-open", open_people, open_owner)
    fill_room(tm_server, "xss-held")
    return {
        "open_owner_key": open_owner.token,
        "held_owner_key": held_owner.token,
        "open_student_token": open_people[0].token,
    }


@pytest.fixture(params=["csp-enforced", "csp-bypassed"])
def hostile_context(request, new_context, tm_server: TmServer) -> BrowserContext:
    context = new_context(viewport=DESKTOP, bypass_csp=request.param == "csp-bypassed")
    context.add_init_script(WATCH_SCRIPT)
    return context


def test_server_rendered_pages_show_hostile_text_as_text(
        tm_server: TmServer, hostile_rooms: dict, hostile_context: BrowserContext, shot):
    context = hostile_context
    context.add_cookies([
        {"name": "tm_o_xss-open", "value": hostile_rooms["open_owner_key"], "url": tm_server.url},
        {"name": "tm_o_xss-held", "value": hostile_rooms["held_owner_key"], "url": tm_server.url},
    ])
    dialogs: list[str] = []
    page = watched_page(context, dialogs)

    # (path, where the messages are, where the nicknames are)
    views = [
        ("/xss-open", "#stream", "#stream"),  # as the owner: with delete buttons
        ("/xss-open/projector", "#stream", "#stream"),
        ("/xss-open/read", "#stream", "#stream"),
        ("/xss-open/embed", "#stream", "#stream"),
        ("/xss-open/transcript", "table.transcript", "table.transcript"),
        ("/xss-open/moderate", ".stream-compact", ".people"),
        ("/xss-open/moderate", "#reports", "#audit"),
        ("/xss-held/moderate", "#queue", "#queue"),
    ]
    for path, messages_at, nicknames_at in views:
        response = page.goto(path)
        assert response.status == 200, path
        assert_csp(response)
        expect(page.locator(messages_at)).to_be_visible()
        page.wait_for_load_state("load")
        assert_nothing_ran(page, dialogs)
        assert_literal(page, messages_at, CORPUS)
        assert_literal(page, nicknames_at, NICKNAMES)
        if "/moderate" not in path:
            assert_literal(page, ".room-topic", [TOPIC])
        if path.endswith("/projector"):  # the wall opens on the newest message
            expect(page.locator("#stream li.msg").last).to_be_in_viewport()

    page.goto("/xss-open/moderate")
    assert_nothing_ran(page, dialogs)
    assert_literal(page, "#moderators", MODERATOR_NAMES)
    page.goto("/xss-held/moderate")
    expect(page.locator("#queue-title .count")).to_have_text(str(len(CORPUS)))
    expect(page.locator("#set-topic")).to_have_value(TOPIC)
    shot(page, "xss-01-moderate-held-queue")

    # The student's own room page (participant cookie): the compose box is there too.
    context.clear_cookies()
    context.add_cookies([{"name": "tm_p_xss-open", "value": hostile_rooms["open_student_token"],
                          "url": tm_server.url}])
    response = page.goto("/xss-open")
    assert_csp(response)
    expect(page.locator("#compose-text")).to_be_visible()
    assert_nothing_ran(page, dialogs)
    assert_literal(page, "#stream", CORPUS)
    assert_literal(page, ".compose-label", [NICKNAMES[0]])
    shot(page, "xss-02-room-server-rendered")


def test_messages_added_by_polling_stay_text(tm_server: TmServer, new_context, shot):
    room, owner = tm_server.create_room("xss-live")
    # bypass_csp: the page's own code must be safe without the policy's help.
    context = new_context(viewport=DESKTOP, bypass_csp=True)
    context.add_init_script(WATCH_SCRIPT)
    context.add_cookies([{"name": "tm_o_xss-live", "value": owner.token, "url": tm_server.url}])
    dialogs: list[str] = []

    # A student in the browser joins with a hostile nickname and posts by the form.
    student = watched_page(context, dialogs)
    student.goto("/xss-live")
    student.fill("#join-nickname", STUDENT_NICK)
    # This context holds the owner's cookie, so the room offers the teacher's card.
    student.get_by_role("button", name="Start posting").click()
    expect(student.locator("#compose-text")).to_be_visible()
    pages = {"room": student}
    for view in ("projector", "read", "embed"):
        pages[view] = watched_page(context, dialogs)
        pages[view].goto(f"/xss-live/{view}")
    embed = pages["embed"]
    embed.fill("#embed-nickname", EMBED_NICK)
    embed.get_by_role("button", name="Join").click()
    expect(embed.locator("#compose-nick")).to_have_text(EMBED_NICK)
    for current in pages.values():
        expect(current.locator("#empty-state")).to_be_visible()

    # Everything below arrives after the pages loaded: room.js inserts it.
    browser_posts = ["<img src=x onerror=alert('form')>", "<script>alert('form')</script>"]
    for text in browser_posts:
        student.fill("#compose-text", text)
        student.locator("#compose-text").press("Enter")
        expect(student.locator("#compose-text")).to_have_value("")
    embed.fill("#compose-text", "<iframe src=javascript:alert('embed')>")
    embed.locator("#compose-text").press("Enter")
    fill_room(tm_server, "xss-live")
    patched = owner.patch(f"{tm_server.url}/api/v1/rooms/xss-live", json={"topic": TOPIC})
    assert patched.status_code == 200, patched.text

    expected = CORPUS + browser_posts + ["<iframe src=javascript:alert('embed')>"]
    for current in pages.values():
        delivered = current.locator("#stream li.msg:not(.pending)")
        expect(delivered).to_have_count(len(expected), timeout=POLL_WAIT_MS)
        expect(current.locator("#room-topic")).to_have_text(TOPIC, timeout=POLL_WAIT_MS)
        assert_nothing_ran(current, dialogs)
        assert_literal(current, "#stream", expected)
        assert_literal(current, "#stream", NICKNAMES + [STUDENT_NICK, EMBED_NICK])
    # The owner's delete buttons are named after hostile nicknames: still only text.
    delete_button = student.get_by_role("button", name=f"Delete message from {EMBED_NICK}",
                                        exact=True)
    expect(delete_button).to_have_count(1)
    shot(student, "xss-03-room-live")
    shot(pages["projector"], "xss-04-projector-live")
    shot(embed, "xss-05-embed-live")
