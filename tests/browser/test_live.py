"""The pages follow their room by push: two Chromium pages, tm with a push node.

This module starts its own stack (tests/support/stack.py: ekg, reflektor, tm with
TM_PUSH_URLS, the outbox relay), subprocesses only: Playwright's sync API owns this
thread's event loop. With push URLs configured the room page does not poll at all
(room.js follows the node and only checks the room's seq every 30 s), so a change
that shows on the other page within a second or so came by push; the WebSocket
frames each page received are recorded to show it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, WebSocket, expect

from testkit.timing import TIME_SCALE
from tests.support.stack import Stack, running_stack

from .conftest import DESKTOP, PHONE, UNIT_MS
from .test_flow import create_room_from_home, join_room, send, stream_message

pytestmark = pytest.mark.browser

# Well under room.js's 2 s poll interval (which it does not even use with push).
PUSH_WAIT_MS = 1500 * TIME_SCALE


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("live-stack")) as stack:
        yield stack
    log = stack.tm.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


@pytest.fixture
def live_context(browser: Browser, live_stack: Stack) -> Iterator[Callable[[], BrowserContext]]:
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(base_url=live_stack.tm_url, viewport=DESKTOP)
        context.set_default_timeout(5 * UNIT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


class Frames:
    """The WebSocket URLs a page opened and the text frames it received on them."""

    def __init__(self, page: Page):
        self.urls: list[str] = []
        self.received: list[str] = []
        page.on("websocket", self._opened)

    def _opened(self, socket: WebSocket) -> None:
        self.urls.append(socket.url)
        socket.on("framereceived", lambda payload: self.received.append(str(payload)))

    def saw(self, text: str) -> bool:
        return any(text in frame for frame in self.received)


def test_a_post_a_deletion_and_a_pause_reach_the_other_page_by_push(
        live_stack: Stack, live_context, shot):
    teacher_context = live_context()
    teacher = teacher_context.new_page()
    teacher_frames = Frames(teacher)
    create_room_from_home(teacher, "live-101", "Pushed, not polled", moderated=False)
    student = live_context().new_page()
    student_frames = Frames(student)
    join_room(student, "live-101", "Ann")

    # Both pages hold a WebSocket to the push node.
    push = live_stack.ekg_url.replace("http://", "ws://") + "/ws/live-101?ticket="
    deadline = time.monotonic() + 5 * TIME_SCALE
    while not all(any(url.startswith(push) for url in frames.urls)
                  for frames in (teacher_frames, student_frames)):
        assert time.monotonic() < deadline, (teacher_frames.urls, student_frames.urls)
        teacher.wait_for_timeout(20)  # lets Playwright deliver the page events

    # A post on one page shows on the other at once.
    started = time.monotonic()
    send(student, "Does the membrane move?")
    expect(stream_message(teacher, "Does the membrane move?")).to_be_visible(
        timeout=PUSH_WAIT_MS)
    arrived = time.monotonic() - started
    assert arrived < PUSH_WAIT_MS / 1000, arrived
    assert teacher_frames.saw("Does the membrane move?")
    send(student, "It does, sideways.")
    expect(stream_message(teacher, "It does, sideways.")).to_be_visible(timeout=PUSH_WAIT_MS)

    # The teacher deletes it: gone from both pages.
    doomed = stream_message(teacher, "Does the membrane move?")
    doomed.get_by_role("button", name="Delete message from Ann").click()
    expect(doomed).to_have_count(0, timeout=PUSH_WAIT_MS)
    expect(stream_message(student, "Does the membrane move?")).to_have_count(
        0, timeout=PUSH_WAIT_MS)
    assert student_frames.saw('"message.deleted"')
    expect(stream_message(student, "It does, sideways.")).to_be_visible()

    # Pause from the moderation page (another tab of the teacher's): the student's
    # open page shows the banner and locks the post box at once.
    moderate = teacher_context.new_page()
    moderate.goto("/live-101/moderate")
    moderate.select_option("#pause-minutes", "0")
    moderate.get_by_role("button", name="Pause", exact=True).click()
    expect(moderate.locator(".notice")).to_contain_text("Room paused")
    banner = student.locator("#state-banner")
    expect(banner).to_contain_text("paused", timeout=PUSH_WAIT_MS)
    expect(student.locator("#compose-text")).to_be_disabled(timeout=PUSH_WAIT_MS)
    expect(teacher.locator("#state-banner")).to_contain_text("paused", timeout=PUSH_WAIT_MS)
    assert student_frames.saw('"room.updated"')
    shot(student, "live-01-student-paused-by-push")
    shot(teacher, "live-02-teacher-after-delete-and-pause")


def test_the_moderation_queue_fills_and_empties_by_push(live_stack: Stack, live_context, shot):
    """Held posts appear on the open moderation page as they are held, and leave it
    when approved here or rejected elsewhere; the settings form keeps what was typed."""
    teacher_context = live_context()
    teacher = teacher_context.new_page()
    create_room_from_home(teacher, "live-mod", "Held for approval", moderated=True)
    moderate = teacher_context.new_page()
    moderate_frames = Frames(moderate)
    moderate.goto("/live-mod/moderate")
    expect(moderate.locator("#queue-empty")).to_be_visible()
    moderate.fill("#set-topic", "half-typed topic")
    push = live_stack.ekg_url.replace("http://", "ws://") + "/ws/live-mod?ticket="
    deadline = time.monotonic() + 5 * TIME_SCALE
    while not any(url.startswith(push) for url in moderate_frames.urls):
        assert time.monotonic() < deadline, moderate_frames.urls
        moderate.wait_for_timeout(20)

    student = live_context().new_page()
    join_room(student, "live-mod", "Ann")
    # Her page connecting changes the presence count: the People card is read again.
    expect(moderate.locator("#people li", has_text="Ann")).to_be_visible(
        timeout=PUSH_WAIT_MS + 1000)  # + the card's one-second debounce
    expect(moderate.get_by_role("button", name="Mute Ann")).to_be_visible()
    expect(moderate.locator("#people-count")).to_have_text("1")
    send(student, "Is <b>this</b> on the test?")
    send(student, "Second question")
    queue = moderate.locator("#queue li.queue-item")
    expect(queue).to_have_count(2, timeout=PUSH_WAIT_MS)
    expect(queue.first).to_contain_text("Is <b>this</b> on the test?")  # shown as text
    expect(moderate.locator("#queue-count")).to_have_text("2")
    expect(moderate.locator("#queue-empty")).to_be_hidden()
    expect(moderate.locator("#set-topic")).to_have_value("half-typed topic")
    shot(moderate, "live-03-moderation-queue-by-push")

    # Rejected from the teacher's other tab (the room page's API): gone here too.
    second_id = queue.nth(1).get_attribute("data-id")
    answer = teacher.request.delete(f"/api/v1/rooms/live-mod/messages/{second_id}",
                                    headers={"X-CSRFToken": _csrf(teacher)})
    assert answer.status == 204, answer.text()
    expect(queue).to_have_count(1, timeout=PUSH_WAIT_MS)

    # Approved from the cloned form: the class sees it, the queue is empty.
    queue.first.get_by_role("button", name="Approve Ann").click()
    expect(moderate.locator(".notice")).to_be_visible()
    expect(moderate.locator("#queue-empty")).to_be_visible()
    expect(stream_message(student, "Is <b>this</b> on the test?")).to_be_visible(
        timeout=PUSH_WAIT_MS)
    expect(stream_message(student, "Second question")).to_have_count(0)


def test_students_report_a_post_and_it_leaves_their_screens(live_stack: Stack, live_context,
                                                             shot):
    """Two classmates press Report under a post (the room hides it at two): the teacher's
    moderation page lists the reports live, with the posts around it; the post leaves
    every student's screen and waits in the queue; kept, it is back for everyone."""
    teacher_context = live_context()
    teacher = teacher_context.new_page()
    create_room_from_home(teacher, "live-report", "Reported", moderated=False)
    teacher.goto("/live-report/moderate")
    teacher.fill("#set-reports", "2")
    teacher.get_by_role("button", name="Save settings").click()
    expect(teacher.locator(".notice")).to_have_text("Settings saved.")
    expect(teacher.locator("#reports-empty")).to_contain_text("at 2 reports")
    students = [live_context().new_page() for _ in range(3)]
    for page, name in zip(students, ("Ann", "Bo", "Cy"), strict=True):
        join_room(page, "live-report", name)
    send(students[2], "Before it")
    send(students[0], "Nobody likes your project")
    ann, bo, cy = students
    hurtful = stream_message(bo, "Nobody likes your project")
    expect(hurtful).to_be_visible(timeout=PUSH_WAIT_MS)
    # Nobody reports their own post, and the button names whose post it reports.
    own = stream_message(ann, "Nobody likes your project")
    expect(own.get_by_role("button", name="Report message from Ann")).to_have_count(0)
    expect(own.get_by_role("button", name="Delete my message")).to_be_visible()
    hurtful.get_by_role("button", name="Report message from Ann").click()
    expect(hurtful.get_by_role("button", name="Reported: your teacher will look at it")
           ).to_be_disabled()
    expect(bo.locator("#compose-error")).to_contain_text("nobody sees who reported it")
    shot(bo, "report-01-student-reported")

    reported = teacher.locator("#reports li.report-item")
    expect(reported).to_have_count(1, timeout=PUSH_WAIT_MS + 1000)  # + the debounce
    expect(reported.locator(".report-count")).to_have_text("1 report")
    expect(reported.locator(".report-hidden")).to_be_hidden()
    expect(reported.locator(".report-post")).to_contain_text("Nobody likes your project")
    expect(reported.locator(".report-context")).to_contain_text("Before it")
    expect(reported).not_to_contain_text("Bo")  # who reported (Bo): never shown
    # The school's incident process gets a file: the post, its context, the trail.
    with teacher.expect_download() as download:
        reported.get_by_role("link", name="Save incident file").click()
    assert download.value.suggested_filename.endswith("-incident.txt")
    saved = download.value.path().read_text(encoding="utf-8")
    assert "Nobody likes your project" in saved and "Before it" in saved

    # Cy's page was rendered with the post: the server's form, sent through the API.
    # ...and with the keyboard alone, on a phone-sized screen.
    cy.set_viewport_size(PHONE)
    cy.reload()
    stream_message(cy, "Nobody likes your project").get_by_role(
        "button", name="Report message from Ann").focus()
    cy.keyboard.press("Enter")
    expect(cy.locator("#compose-error")).to_contain_text("nobody sees who reported it")
    shot(cy, "report-03-student-phone", full_page=False)
    for page in students:
        expect(stream_message(page, "Nobody likes your project")).to_have_count(
            0, timeout=PUSH_WAIT_MS)
    expect(reported.locator(".report-count")).to_have_text("2 reports",
                                                           timeout=PUSH_WAIT_MS + 1000)
    expect(reported.locator(".report-hidden")).to_be_visible()
    queue = teacher.locator("#queue li.queue-item", has_text="Nobody likes your project")
    expect(queue).to_contain_text("reported by students")
    teacher.locator("#reports-title").scroll_into_view_if_needed()
    shot(teacher, "report-02-teacher-sees-reports", full_page=False)
    teacher.set_viewport_size(PHONE)
    teacher.locator("#reports-title").scroll_into_view_if_needed()
    shot(teacher, "report-04-teacher-phone", full_page=False)
    teacher.set_viewport_size(DESKTOP)

    reported.get_by_role("button", name="Keep Ann").click()
    expect(teacher.locator(".notice")).to_have_text("Post kept: its reports are dismissed.")
    expect(teacher.locator("#reports-empty")).to_be_visible()
    for page in students:
        expect(stream_message(page, "Nobody likes your project")).to_be_visible(
            timeout=PUSH_WAIT_MS)
    expect(teacher.locator("#audit")).to_contain_text("kept a post by Ann")
    expect(teacher.locator("#audit")).to_contain_text("tm hid a post by Ann")


def test_a_student_takes_back_a_post_then_leaves_with_everything(live_stack: Stack,
                                                                 live_context, shot):
    """Erasure without the operator: Ann deletes a post of hers (her classmate's page
    drops it by push), then leaves the room: her other posts go from every screen, and
    her page offers to join again, as anyone new."""
    teacher = live_context().new_page()
    create_room_from_home(teacher, "live-leave", "Erasure", moderated=False)
    ann, bo = live_context().new_page(), live_context().new_page()
    join_room(ann, "live-leave", "Ann")
    join_room(bo, "live-leave", "Bo")
    send(ann, "Wrong room, sorry")
    send(ann, "My phone number is 555-0100")
    send(bo, "Hi Ann")
    for text in ("Wrong room, sorry", "My phone number is 555-0100", "Hi Ann"):
        expect(stream_message(bo, text)).to_be_visible(timeout=PUSH_WAIT_MS)
    # Her own posts have Delete, not Report; classmates' posts the other way round.
    mine = stream_message(ann, "Wrong room, sorry")
    expect(mine.get_by_role("button", name="Report message from Ann")).to_have_count(0)
    expect(stream_message(ann, "Hi Ann").get_by_role("button", name="Delete my message")
           ).to_have_count(0)
    mine.get_by_role("button", name="Delete my message").click()
    expect(mine).to_have_count(0)
    expect(stream_message(bo, "Wrong room, sorry")).to_have_count(0, timeout=PUSH_WAIT_MS)

    ann.get_by_text("Leave this room").click()
    shot(ann, "erase-01-leave-offered", full_page=False)
    ann.get_by_role("button", name="Leave and delete my posts").click()
    expect(ann.locator(".notice")).to_contain_text("You left live-leave")
    expect(ann.get_by_role("button", name="Join")).to_be_visible()
    expect(stream_message(ann, "My phone number is 555-0100")).to_have_count(0)
    expect(stream_message(bo, "My phone number is 555-0100")).to_have_count(
        0, timeout=PUSH_WAIT_MS)
    expect(stream_message(bo, "Hi Ann")).to_be_visible()
    shot(ann, "erase-02-left")


def _csrf(page: Page) -> str:
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return cookies["csrftoken"]


def test_a_page_whose_network_blocks_websockets_follows_by_server_sent_events(
        live_stack: Stack, live_context, shot):
    """A school proxy that refuses WebSockets: the page's `new WebSocket` fails, live.js
    falls back to EventSource, and the node's SSE stream (HTTP/1.1 chunks written in its
    flush rounds) carries posts and deletions to it as WebSocket frames do."""
    teacher = live_context().new_page()
    create_room_from_home(teacher, "live-sse", "Behind a proxy", moderated=False)
    student_context = live_context()
    student_context.add_init_script(
        "window.WebSocket = function () { throw new Error('blocked by the proxy'); };")
    student = student_context.new_page()
    streams: list[str] = []
    student.on("request", lambda request: streams.append(request.url)
               if request.resource_type == "eventsource" else None)
    join_room(student, "live-sse", "Ann")
    sse = f"{live_stack.ekg_url}/sse/live-sse?ticket="
    deadline = time.monotonic() + 5 * TIME_SCALE
    while not any(url.startswith(sse) for url in streams):
        assert time.monotonic() < deadline, streams
        student.wait_for_timeout(20)  # lets Playwright deliver the page events

    teacher.get_by_role("button", name="Start posting").click()
    send(teacher, "Can everyone see this?")
    expect(stream_message(student, "Can everyone see this?")).to_be_visible(
        timeout=PUSH_WAIT_MS)
    send(student, "Yes, over SSE.")
    expect(stream_message(teacher, "Yes, over SSE.")).to_be_visible(timeout=PUSH_WAIT_MS)
    doomed = stream_message(teacher, "Can everyone see this?")
    doomed.get_by_role("button", name="Delete message from Teacher").click()
    expect(stream_message(student, "Can everyone see this?")).to_have_count(
        0, timeout=PUSH_WAIT_MS)
    expect(stream_message(student, "Yes, over SSE.")).to_be_visible()
    # The teacher's page reloaded after the delete (a form post), so the count went to 1
    # and back: presence reaches the SSE page too, within the one-second throttle.
    expect(student.locator("#presence")).to_have_text("2 people here",
                                                      timeout=PUSH_WAIT_MS + 1000)
    shot(student, "live-04-student-on-sse")


@pytest.fixture(scope="module")
def two_node_stack(tmp_path_factory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("two-node-stack"), ekg_nodes=2) as stack:
        yield stack


def test_a_page_whose_push_node_dies_moves_to_the_other_one(two_node_stack: Stack, browser):
    """tm gives the page both nodes' URLs; it follows the room on one of them (picked at
    random). kill -9 that node: the page's reconnect to it fails, it moves to the other
    node and goes on showing posts, with nothing missed in between."""
    stack = two_node_stack
    context = browser.new_context(base_url=stack.tm_url, viewport=DESKTOP)
    context.set_default_timeout(5 * UNIT_MS)
    try:
        teacher = context.new_page()
        create_room_from_home(teacher, "live-nodes", "Two push nodes", moderated=False)
        student = browser.new_context(base_url=stack.tm_url, viewport=DESKTOP).new_page()
        frames = Frames(student)
        join_room(student, "live-nodes", "Ann")
        teacher.get_by_role("button", name="Start posting").click()
        send(teacher, "Before the node went down")
        expect(stream_message(student, "Before the node went down")).to_be_visible(
            timeout=PUSH_WAIT_MS)
        # The node the page follows the room on now (joining reloaded the page, and
        # each load picks a node afresh): the last WebSocket it opened.
        first = next(node for node in stack.ekgs
                     if frames.urls[-1].startswith(node.url.replace("http://", "ws://")))
        other = next(node for node in stack.ekgs if node is not first)
        opened_before = len(frames.urls)

        first.kill()
        send(teacher, "While it was down")
        send(teacher, "After the move")
        expect(stream_message(student, "After the move")).to_be_visible(
            timeout=PUSH_WAIT_MS + 5000)
        expect(stream_message(student, "While it was down")).to_be_visible()
        moved = other.url.replace("http://", "ws://") + "/ws/live-nodes?ticket="
        assert any(url.startswith(moved) for url in frames.urls[opened_before:]), frames.urls
        texts = student.locator("#stream li.msg:not(.pending)").all_inner_texts()
        assert sum("While it was down" in text for text in texts) == 1, texts
    finally:
        context.close()
        for node in stack.ekgs:
            if node.process is None or node.process.poll() is not None:
                node.start()


def test_a_password_rooms_embed_follows_nothing_until_the_password_is_given(
        live_stack: Stack, live_context, shot):
    """The embed of a password room used to follow the room before anyone joined; the
    push node now needs a ticket, and the page gets one only with its join answer."""
    owner = live_stack.create_room("live-secret", password="hunter2")
    classmate = live_stack.tm.join("live-secret", "Bo", password="hunter2")
    live_stack.tm.post(classmate, "live-secret", "Before you joined")
    page = live_context().new_page()
    frames = Frames(page)
    streams: list[str] = []
    page.on("request", lambda request: streams.append(request.url)
            if "/ticket" in request.url or request.resource_type == "eventsource" else None)
    page.goto("/live-secret/embed")
    expect(page.locator("#embed-password")).to_be_visible()
    page.wait_for_timeout(1000 * TIME_SCALE)  # time enough for a page that would connect
    assert frames.urls == [] and streams == []
    assert "Before you joined" not in page.content()
    expect(page.locator("#empty-state")).to_contain_text("join to read")
    shot(page, "embed-password-before-join")

    page.fill("#embed-nickname", "Ann")
    page.fill("#embed-password", "wrong")
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#embed-join-error")).not_to_be_empty()
    assert frames.urls == []
    page.fill("#embed-password", "hunter2")
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#compose-text")).to_be_visible()
    # Joined: it reads what it did not show, and follows with the join answer's ticket.
    expect(stream_message(page, "Before you joined")).to_be_visible()
    push = live_stack.ekg_url.replace("http://", "ws://") + "/ws/live-secret?ticket=ft1."
    deadline = time.monotonic() + 5 * TIME_SCALE
    while not any(url.startswith(push) for url in frames.urls):
        assert time.monotonic() < deadline, frames.urls
        page.wait_for_timeout(20)
    live_stack.tm.post(classmate, "live-secret", "After you joined")
    expect(stream_message(page, "After you joined")).to_be_visible(timeout=PUSH_WAIT_MS)
    assert frames.saw("After you joined")
    shot(page, "embed-password-after-join")
    assert owner.token


def test_the_abuse_check_holds_and_a_teacher_holds_too(live_stack: Stack, live_context,
                                                       shot):
    """A post the abuse check flags waits in the teacher's queue, marked "abuse check",
    and its author is told; a post the class can see, the teacher takes back with Hold
    on the room page: gone from every student's screen, in the queue marked "held by a
    teacher", and back for everyone once approved."""
    teacher_context = live_context()
    teacher = teacher_context.new_page()
    teacher.goto("/")
    teacher.locator("summary", has_text="More options").click()
    expect(teacher.get_by_label("Abuse check")).to_have_value("standard")
    expect(teacher.get_by_label("Students write in")).to_have_value("en")
    shot(teacher, "screening-01-create-options")
    create_room_from_home(teacher, "live-screen", "Screened", moderated=False)
    moderate = teacher_context.new_page()
    moderate.goto("/live-screen/moderate")
    ann, bo = live_context().new_page(), live_context().new_page()
    join_room(ann, "live-screen", "Ann")
    join_room(bo, "live-screen", "Bo")
    send(ann, "You are all idiots")
    expect(ann.locator("#compose-error")).to_contain_text("once the teacher approves it")
    queue = moderate.locator("#queue li.queue-item", has_text="You are all idiots")
    expect(queue).to_contain_text("abuse check", timeout=PUSH_WAIT_MS)
    send(ann, "Plants need light to make sugar")
    for page in (bo, teacher):
        expect(stream_message(page, "Plants need light to make sugar")).to_be_visible(
            timeout=PUSH_WAIT_MS)
    expect(stream_message(bo, "You are all idiots")).to_have_count(0)

    shot(teacher, "screening-03-room-hold-and-delete", full_page=False)
    stream_message(teacher, "Plants need light to make sugar").get_by_role(
        "button", name="Hold message from Ann").click()
    for page in (ann, bo, teacher):
        expect(stream_message(page, "Plants need light to make sugar")).to_have_count(
            0, timeout=PUSH_WAIT_MS)
    held = moderate.locator("#queue li.queue-item", has_text="Plants need light")
    expect(held).to_contain_text("held by a teacher", timeout=PUSH_WAIT_MS)
    expect(held.locator(".screened")).to_be_hidden()
    moderate.locator("#queue-title").scroll_into_view_if_needed()
    shot(moderate, "screening-02-queue-abuse-check-and-teacher-hold", full_page=False)
    held.get_by_role("button", name="Approve Ann").click()
    for page in (ann, bo):
        expect(stream_message(page, "Plants need light to make sugar")).to_be_visible(
            timeout=PUSH_WAIT_MS)
    expect(moderate.locator("#audit")).to_contain_text("held a post")
