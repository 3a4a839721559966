"""The request session: one request in flight, stale input flushed, timeouts and bounded retries, reconnects.

All on trio's fake clock: a 1 s timeout costs no real time.
"""

from __future__ import annotations

from typing import Callable

import pytest
import trio
import trio.testing

from indi_astrojolo.link.errors import LinkDown, LinkTimeout, ReplyRejected, TransportError, Verdict
from indi_astrojolo.link.framing import AuxFramer, AuxPacket, Line, LineFramer
from indi_astrojolo.link.session import open_session
from indi_astrojolo.link.transports import StreamTransport


def letter_matcher(letter: str) -> Callable[[Line], Verdict]:
    def match(line: Line) -> Verdict:
        if line.text == "ERR":
            return Verdict.REJECT
        return Verdict.ACCEPT if line.text.startswith(letter + ":") else Verdict.IGNORE

    return match


class FakeDevice:
    """The far end of an in-memory link, answering each line with whatever `answer` returns."""

    def __init__(self, answer: Callable[[str], list[tuple[float, bytes]]]) -> None:
        self.answer = answer
        self.received: list[str] = []
        self.streams: list[trio.abc.Stream] = []
        self.openers = 0
        self.fail_opens = 0

    async def opener(self) -> StreamTransport:
        self.openers += 1
        if self.fail_opens:
            self.fail_opens -= 1
            raise TransportError(2, "no such device")
        driver_side, device_side = trio.testing.memory_stream_pair()
        self.streams.append(device_side)
        self.nursery.start_soon(self._serve, device_side)
        return StreamTransport(driver_side, "fake")

    async def _serve(self, stream: trio.abc.Stream) -> None:
        framer = LineFramer()
        try:
            while data := await stream.receive_some(1024):
                for line in framer.feed(data):
                    assert isinstance(line, Line)
                    self.received.append(line.text)
                    for delay, reply in self.answer(line.text):
                        if delay:
                            await trio.sleep(delay)
                        await stream.send_all(reply)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


async def run_with(device: FakeDevice, body, **kwargs) -> None:
    async with trio.open_nursery() as nursery:
        device.nursery = nursery
        options = dict(timeout=1.0, retries=2, name="test", reconnect_interval=2.0)
        options.update(kwargs)
        async with open_session(LineFramer(), device.opener, **options) as session:
            await body(session)
        nursery.cancel_scope.cancel()


async def test_request_gets_its_reply(autojump_clock) -> None:
    device = FakeDevice(lambda text: [(0, f"{text[0]}:ok\n".encode())])

    async def body(session) -> None:
        reply = await session.request(b"q\n", letter_matcher("q"))
        assert reply == Line("q:ok")
        assert session.counters.requests == 1 and session.counters.replies == 1

    await run_with(device, body)


async def test_silence_times_out_after_bounded_retries(autojump_clock) -> None:
    device = FakeDevice(lambda text: [])

    async def body(session) -> None:
        start = trio.current_time()
        with pytest.raises(LinkTimeout, match="no reply within 1 s after 3 attempt"):
            await session.request(b"q\n", letter_matcher("q"))
        assert trio.current_time() - start == pytest.approx(3.0, abs=0.01)
        assert device.received == ["q", "q", "q"]
        assert session.counters.timeouts == 3 and session.counters.retries == 2

    await run_with(device, body)


async def test_one_lost_reply_is_recovered_by_a_retry(autojump_clock) -> None:
    answers = iter([[], [(0, b"q:second\n")]])
    device = FakeDevice(lambda text: next(answers))

    async def body(session) -> None:
        assert (await session.request(b"q\n", letter_matcher("q"))).text == "q:second"
        assert session.counters.retries == 1

    await run_with(device, body)


async def test_late_reply_is_flushed_before_the_next_request(autojump_clock) -> None:
    # The first reply comes 1.5 s late, after the first request has given up; it must not answer the second one.
    replies = iter([[(1.5, b"q:late\n")], [(0, b"q:fresh\n")]])
    device = FakeDevice(lambda text: next(replies))

    async def body(session) -> None:
        with pytest.raises(LinkTimeout):
            await session.request(b"q\n", letter_matcher("q"), retries=0)
        await trio.sleep(1.0)  # the late reply arrives while nobody asks
        assert (await session.request(b"q\n", letter_matcher("q"), retries=0)).text == "q:fresh"

    await run_with(device, body)


async def test_other_traffic_is_ignored_and_counted(autojump_clock) -> None:
    device = FakeDevice(lambda text: [(0, b"x:noise\nu:other\n"), (0.2, b"q:mine\n")])
    seen: list[Line] = []

    async def body(session) -> None:
        session.on_unsolicited = seen.append
        assert (await session.request(b"q\n", letter_matcher("q"))).text == "q:mine"
        assert session.counters.ignored == 2
        assert [line.text for line in seen] == ["x:noise", "u:other"]

    await run_with(device, body)


async def test_error_reply_is_retried_then_reported(autojump_clock) -> None:
    device = FakeDevice(lambda text: [(0, b"ERR\n")])

    async def body(session) -> None:
        with pytest.raises(ReplyRejected, match="error reply"):
            await session.request(b"q\n", letter_matcher("q"))
        assert session.counters.rejected == 3
        assert trio.current_time() < 0.5  # rejections do not wait for the timeout

    await run_with(device, body)


async def test_requests_are_serialised(autojump_clock) -> None:
    device = FakeDevice(lambda text: [(0.1, f"{text[0]}:{text}\n".encode())])
    results: list[str] = []

    async def body(session) -> None:
        async def ask(letter: str) -> None:
            results.append((await session.request(f"{letter}\n".encode(), letter_matcher(letter))).text)

        async with trio.open_nursery() as nursery:
            for letter in "abcde":
                nursery.start_soon(ask, letter)
        assert sorted(results) == ["a:a", "b:b", "c:c", "d:d", "e:e"]
        assert device.received == sorted(device.received, key=lambda t: results.index(f"{t}:{t}"))

    await run_with(device, body)


async def test_link_loss_fails_at_once_then_reconnects(autojump_clock) -> None:
    device = FakeDevice(lambda text: [(0, f"{text[0]}:ok\n".encode())])

    async def body(session) -> None:
        await session.request(b"q\n", letter_matcher("q"))
        await device.streams[0].aclose()  # the cable is pulled
        await trio.sleep(0.01)
        assert not session.is_up
        started = trio.current_time()
        with pytest.raises(LinkDown):
            await session.request(b"q\n", letter_matcher("q"))
        assert trio.current_time() - started < 0.5  # no waiting for a timeout on a dead link
        await trio.sleep(2.0)  # the reconnect interval passes
        assert (await session.request(b"q\n", letter_matcher("q"))).text == "q:ok"
        assert session.counters.reconnects == 1 and session.counters.link_failures == 1
        assert device.openers == 2

    await run_with(device, body)


async def test_reconnect_attempts_are_throttled(autojump_clock) -> None:
    device = FakeDevice(lambda text: [(0, b"q:ok\n")])

    async def body(session) -> None:
        await device.streams[0].aclose()
        await trio.sleep(0.01)
        device.fail_opens = 1
        await trio.sleep(2.0)
        with pytest.raises(LinkDown, match="no such device"):
            await session.request(b"q\n", letter_matcher("q"))
        with pytest.raises(LinkDown):
            await session.request(b"q\n", letter_matcher("q"))  # too soon to try the port again
        assert device.openers == 2
        await trio.sleep(2.0)
        assert (await session.request(b"q\n", letter_matcher("q"))).text == "q:ok"

    await run_with(device, body)


async def test_open_failure_is_reported() -> None:
    device = FakeDevice(lambda text: [])
    device.fail_opens = 1
    with pytest.raises(BaseException) as info:
        await run_with(device, lambda session: trio.sleep(0))
    from indi_astrojolo.errors import first_error

    assert isinstance(first_error(info.value), LinkDown)


async def test_aux_echo_is_removed_and_reply_matched(autojump_clock) -> None:
    """An AUX bus hands our own packet back before the reply; the framer drops it."""
    framer = AuxFramer()
    request = AuxPacket(0x20, 0x10, 0x01)
    reply = AuxPacket(0x10, 0x20, 0x01, b"\x00\x10\x00")

    async def opener() -> StreamTransport:
        driver_side, device_side = trio.testing.memory_stream_pair()

        async def bus() -> None:
            await device_side.receive_some(64)
            await device_side.send_all(request.encode() + reply.encode())

        nursery.start_soon(bus)
        return StreamTransport(driver_side, "bus")

    def matcher(packet: AuxPacket) -> Verdict:
        return Verdict.ACCEPT if (packet.src, packet.dst, packet.cmd) == (0x10, 0x20, 0x01) else Verdict.IGNORE

    async with trio.open_nursery() as nursery:
        async with open_session(framer, opener, timeout=1.0, retries=0, name="aux") as session:
            got = await session.request(request.encode(), matcher, before_send=framer.expect_echo)
            assert got == reply
            assert framer.echoes_removed == 1
            assert session.counters.ignored == 0
        nursery.cancel_scope.cancel()


async def test_a_request_that_cannot_go_out_by_its_deadline_is_given_up(autojump_clock) -> None:
    device = FakeDevice(lambda text: [] if text == "slow" else [(0, f"{text[0]}:ok\n".encode())])

    async def unanswered(session) -> None:
        with pytest.raises(LinkTimeout, match="no reply"):
            await session.request(b"slow\n", letter_matcher("s"), retries=0)

    async def body(session) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(unanswered, session)
            await trio.sleep(0.1)  # the link is now busy for a second with a request nobody answers
            with pytest.raises(LinkTimeout, match="could not be sent in time"):
                await session.request(b"g\n", letter_matcher("g"), send_by=trio.current_time() + 0.5)
        assert device.received == ["slow"]  # the late one never went out
        assert (await session.request(b"g\n", letter_matcher("g"), send_by=trio.current_time() + 0.5)).text == "g:ok"

    await run_with(device, body)


async def test_no_retry_goes_out_after_the_deadline(autojump_clock) -> None:
    device = FakeDevice(lambda text: [])

    async def body(session) -> None:
        with pytest.raises(LinkTimeout, match="could not be sent in time"):
            await session.request(b"q\n", letter_matcher("q"), send_by=trio.current_time() + 1.5)
        assert device.received == ["q", "q"]  # at 0 s and at 1 s; the one due at 2 s would be late

    await run_with(device, body)
