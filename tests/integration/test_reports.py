"""Students' reports on the real-time path: a post that reaches the room's threshold
leaves every student's screen at once (by push), and the push node's buffer (a page
that was away meanwhile, replayed from the ring, never gets its words); the teacher's
page gets it in the queue, and every report live. Kept, it is back on every screen.
"""

from __future__ import annotations

import asyncio

import aiohttp

from tests.support.stack import Stack

from .helpers import Api, converged, eventually, follow, stop_all


def run(coro):
    return asyncio.run(coro)


async def classroom(session: aiohttp.ClientSession, stack: Stack, room_name: str,
                    students: tuple[str, ...], **settings):
    """A room with students, three pages and a teacher's following it, a first post
    ("fine") by the second student, and two pages whose network is away while what
    follows comes and goes: restored, they are replayed what they missed from the
    node's ring. Returns (api, owner key, tokens, pages, away pages)."""
    api = Api(session, stack)
    owner = await api.create_room(room_name, **settings)
    tokens = [await api.join(room_name, name) for name in students]
    pages = await follow(stack, room_name, ws=2, sse=1, moderators=1, periodic_check=False)
    await api.posted(room_name, tokens[1], "fine")
    away = await follow(stack, room_name, ws=1, sse=1, periodic_check=False)
    await asyncio.gather(*(page.cut_off() for page in away))
    return api, owner, tokens, pages, away


def test_a_post_hidden_by_reports_leaves_every_screen_and_comes_back_when_kept(
        stack: Stack, room_name: str):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            api, owner, tokens, pages, away = await classroom(
                session, stack, room_name, ("ann", "bo", "cy"), report_threshold=2)
            students = [p for p in pages if p.ticket_role != "moderator"]
            (teacher,) = [p for p in pages if p.ticket_role == "moderator"]
            post = await api.posted(room_name, tokens[0], "something hurtful")
            await converged(api, room_name, pages)
            assert all("something hurtful" in [m[2] for m in p.visible()] for p in pages)

            for token in tokens[1:]:
                status, body = await api.call(
                    "POST", f"/rooms/{room_name}/messages/{post['id']}/report", token)
                assert (status, body) == (200, {"reported": True})
            # Gone from every screen, the teacher's stream included; in the queue.
            await converged(api, room_name, pages)
            assert all([m[2] for m in p.visible()] == ["fine"] for p in pages)
            await eventually(lambda: post["id"] in teacher.pending)
            assert all(p.pending == {} for p in students)
            reports = [e for e in teacher.received if e["type"] == "message.reported"]
            assert [e["data"] for e in reports] == [{"id": post["id"], "reports": 1},
                                                   {"id": post["id"], "reports": 2}]
            for page in students:  # students saw only the seq go by, not the report
                assert "message.reported" not in {e["type"] for e in page.received}
            # Back from the ring's replay, the pages that were away never had its words.
            await asyncio.gather(*(page.restore() for page in away))
            await converged(api, room_name, away)
            for page in away:
                assert "something hurtful" not in page.seen_texts, page.name
                assert page.stats["history_reads"] == 1, page.name  # a replay, no fill

            status, _ = await api.call("POST", f"/rooms/{room_name}/messages/"
                                       f"{post['id']}/keep", owner)
            assert status == 200
            everyone = [*pages, *away]
            await converged(api, room_name, everyone)
            assert all([m[2] for m in p.visible()] == ["fine", "something hurtful"]
                       for p in everyone)
            await eventually(lambda: teacher.pending == {})
            await stop_all(everyone)

    run(scenario())


def test_a_post_a_teacher_holds_leaves_every_screen_and_buffer_and_rejected_stays_gone(
        stack: Stack, room_name: str):
    """The teacher's Hold on the real-time path: like a hide by reports, the post leaves
    every student's screen and the node's replay; rejected, it never comes back."""
    async def scenario():
        async with aiohttp.ClientSession() as session:
            api, owner, tokens, pages, away = await classroom(session, stack, room_name,
                                                              ("ann", "bo"))
            (teacher,) = [p for p in pages if p.ticket_role == "moderator"]
            post = await api.posted(room_name, tokens[0], "a second thought")
            await converged(api, room_name, pages)
            status, body = await api.call(
                "POST", f"/rooms/{room_name}/messages/{post['id']}/hold", owner)
            assert status == 200 and body["held_for"] == "teacher", body
            await converged(api, room_name, pages)
            assert all([m[2] for m in p.visible()] == ["fine"] for p in pages)
            await eventually(lambda: post["id"] in teacher.pending)
            status, _ = await api.call(
                "POST", f"/rooms/{room_name}/messages/{post['id']}/reject", owner)
            assert status == 204
            await eventually(lambda: teacher.pending == {})
            await asyncio.gather(*(page.restore() for page in away))
            everyone = [*pages, *away]
            await converged(api, room_name, everyone)
            for page in away:
                assert "a second thought" not in page.seen_texts, page.name
            assert all([m[2] for m in p.visible()] == ["fine"] for p in everyone)
            await stop_all(everyone)

    run(scenario())
