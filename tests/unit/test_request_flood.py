"""A flood of client requests: the driver's queue stays bounded (the reader stops reading, so the flood waits in the
sender), and an abort or a disconnect sent after the flood overtakes it and withdraws what was queued before it.
A flood of getProperties that the peer does not read the answers to: the answers waiting for stdout stay bounded too,
and the heap they took is given back once they are written.

The whole driver runtime (stdin reader, dispatcher, writer) runs in this process on a socket pair, the AstroLink 4
driver simulating its device with the real emulator. The clock is trio's real one, since the socket is real I/O; the
checks are on the order of the driver's replies, never on how long anything took.
"""

from __future__ import annotations

import socket

import pytest
import trio

from indi_astrojolo.astrolink4.driver import AstroLink4Driver
from indi_astrojolo.astrolink4.main import SPEC
from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.runtime import OUTPUT_BACKLOG_LIMIT, REQUEST_QUEUE_LIMIT, Runtime
from indi_astrojolo.indi.spec import prepare_properties
from indi_astrojolo.indi.xmlstream import OtherMessage, XmlStream

DEVICE = "AstroLink 4 USB"
FLOOD = 3_000  # requests (~400 kB): far more than the queue and a 64 kB read hold together
GENEROUS = 120.0  # seconds: only a hang reaches this, even on a loaded machine
ONE_ANSWER_AT_MOST = 256 * 1024  # bytes: every property of the connected AstroLink is about 40 kB
GET_FLOOD = 200  # getProperties: their answers (~8 MB) are several times what may wait for stdout


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def switch(name: str, member: str) -> bytes:
    return (
        f'<newSwitchVector device="{DEVICE}" name="{name}"><oneSwitch name="{member}">On</oneSwitch>'
        "</newSwitchVector>\n"
    ).encode()


def number(name: str, member: str, value: float) -> bytes:
    return (
        f'<newNumberVector device="{DEVICE}" name="{name}"><oneNumber name="{member}">{value}</oneNumber>'
        "</newNumberVector>\n"
    ).encode()


class Peer:
    """indiserver's end of the driver's stdin/stdout: sends bytes, keeps every reply in arrival order."""

    def __init__(self, sock: socket.socket) -> None:
        self.stream = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
        self.parser = XmlStream()
        self.replies: list[OtherMessage] = []
        self._arrived = trio.Event()
        self.reading = trio.Event()  # cleared: the peer reads nothing, as a stalled indiserver would
        self.reading.set()

    async def receive_forever(self) -> None:
        while await self.reading.wait() is None and (data := await self.stream.receive_some(1 << 16)):
            self.replies.extend(m for m in self.parser.feed(data) if isinstance(m, OtherMessage))
            self._arrived.set()
            self._arrived = trio.Event()

    async def wait_for(self, found, what: str, start: int = 0) -> int:
        """The index of the first reply from `start` on that `found` is true of, waiting for it to come."""
        with trio.fail_after(GENEROUS):
            while (index := self.index_of(found, start)) is None:
                start = len(self.replies)  # looked at already
                await self._arrived.wait()
        return index

    def index_of(self, found, start: int = 0) -> int | None:
        return next((i for i in range(start, len(self.replies)) if found(self.replies[i])), None)


def is_set(name: str, state: str | None = None):
    def found(reply: OtherMessage) -> bool:
        return (
            reply.tag.startswith("set")
            and reply.attrib.get("name") == name
            and (state is None or reply.attrib.get("state") == state)
        )

    return found


class HeapReleases:
    """In place of the C library's malloc_trim: the bytes still waiting for stdout at each call (there must be none)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.unsent_at_calls: list[int] = []

    def __call__(self) -> None:
        self.unsent_at_calls.append(self.outbox.unsent)


async def connected_driver(nursery: trio.Nursery):
    driver_end, peer_end = socket.socketpair()
    driver = AstroLink4Driver(SPEC, prepare_properties(SPEC), Outbox())
    runtime = Runtime(
        driver,
        XmlStream(),
        [],
        stdin=driver_end.fileno(),
        stdout=driver_end.fileno(),
        release_heap=HeapReleases(driver.outbox),
    )
    peer = Peer(peer_end)

    async def run_driver() -> None:
        try:
            await runtime.run()
        finally:
            driver_end.close()

    nursery.start_soon(run_driver)
    nursery.start_soon(peer.receive_forever)
    await peer.stream.send_all(switch("SIMULATION", "ENABLE") + switch("CONNECTION", "CONNECT"))
    await peer.wait_for(is_set("CONNECTION", "Ok"), "connected")
    await peer.wait_for(lambda r: r.tag == "defNumberVector" and r.attrib.get("name") == "FOCUS_MAX", "focuser")
    return driver, runtime, peer


def backlash_flood(count: int) -> bytes:
    return b"".join(number("FOCUS_BACKLASH_STEPS", "FOCUS_BACKLASH_VALUE", i % 100) for i in range(count))


async def test_an_abort_after_a_flood_overtakes_it_and_the_queue_stays_bounded() -> None:
    async with trio.open_nursery() as nursery:
        driver, runtime, peer = await connected_driver(nursery)
        await peer.stream.send_all(number("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", 20000))  # ~90 s away
        await peer.wait_for(is_set("ABS_FOCUS_POSITION", "Busy"), "the move")
        # a move queued just before the abort: served after it, the focuser would set off again
        further = number("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", 24000)
        await peer.stream.send_all(backlash_flood(FLOOD) + further + switch("FOCUS_ABORT_MOTION", "ABORT"))

        aborted = await peer.wait_for(is_set("FOCUS_ABORT_MOTION", "Ok"), "the abort")
        served_before_abort = sum(map(is_set("FOCUS_BACKLASH_STEPS", "Ok"), peer.replies[:aborted]))
        assert served_before_abort < FLOOD - 10, "the abort waited for the flood"
        withdrawn = peer.index_of(lambda r: "withdrawn" in (r.attrib.get("message") or ""))
        assert withdrawn is not None and withdrawn < aborted
        assert "FOCUS_ABORT_MOTION arrived after it" in peer.replies[withdrawn].attrib["message"]
        assert peer.index_of(is_set("ABS_FOCUS_POSITION", "Alert")) is not None  # the move before the abort: refused

        # the reader stopped reading while the queue was full, instead of holding the flood in memory
        assert runtime.requests.times_full > 0
        assert runtime.requests.most_held <= REQUEST_QUEUE_LIMIT

        # a request behind everything sent: once it is answered, the queue is empty
        await peer.stream.send_all(switch("DEBUG", "DISABLE"))
        settled = await peer.wait_for(is_set("DEBUG", "Ok"), "the request after the abort")
        assert not any(map(is_set("FOCUS_BACKLASH_STEPS", "Ok"), peer.replies[aborted:settled]))
        assert not any(map(is_set("ABS_FOCUS_POSITION", "Busy"), peer.replies[aborted:settled]))
        assert driver.focuser.target is None
        emulator = driver.simulator
        assert emulator is not None and emulator.target == round(emulator.position) < 20000  # halted on the way
        nursery.cancel_scope.cancel()


async def test_a_disconnect_after_a_flood_overtakes_it_and_withdraws_a_connect_sent_before_it() -> None:
    async with trio.open_nursery() as nursery:
        driver, runtime, peer = await connected_driver(nursery)
        await peer.stream.send_all(backlash_flood(FLOOD) + switch("CONNECTION", "DISCONNECT"))
        disconnected = await peer.wait_for(is_set("CONNECTION", "Idle"), "the disconnect")
        served_before = sum(map(is_set("FOCUS_BACKLASH_STEPS", "Ok"), peer.replies[:disconnected]))
        assert served_before < FLOOD - 10, "the disconnect waited for the flood"

        # connect, then disconnect: the disconnect overtakes the connect, which must then not connect after it
        mark = len(peer.replies)
        polling_flood = b"".join(number("POLLING_PERIOD", "PERIOD_MS", 1000 + i % 10) for i in range(FLOOD))
        await peer.stream.send_all(
            polling_flood + switch("CONNECTION", "CONNECT") + switch("CONNECTION", "DISCONNECT") + switch("DEBUG", "DISABLE")
        )
        settled = await peer.wait_for(is_set("DEBUG", "Ok"), "the end", start=mark)
        connection = [r for r in peer.replies[mark:settled] if is_set("CONNECTION")(r)]
        assert connection and "withdrawn" in connection[0].attrib.get("message", "")
        assert connection[-1].attrib["state"] == "Idle"
        assert not any(r.attrib.get("state") in ("Ok", "Busy") for r in connection)
        assert not driver.connected
        assert runtime.requests.most_held <= REQUEST_QUEUE_LIMIT
        nursery.cancel_scope.cancel()


async def flood_while_stdout_lags(peer: Peer, runtime: Runtime, driver) -> None:
    """Stop reading the driver's output, ask for every property GET_FLOOD times, and wait until the driver puts a
    getProperties aside (or its backlog passes the bound, which the callers' checks then catch)."""
    peer.reading = trio.Event()
    await peer.stream.send_all(b'<getProperties version="1.7"/>\n' * GET_FLOOD)
    with trio.fail_after(GENEROUS):
        bound = OUTPUT_BACKLOG_LIMIT + ONE_ANSWER_AT_MOST
        while not runtime.get_properties_put_aside and driver.outbox.unsent <= bound:
            await trio.sleep(0.05)


async def test_a_get_properties_flood_waits_for_stdout_and_identical_requests_are_answered_once() -> None:
    async with trio.open_nursery() as nursery:
        driver, runtime, peer = await connected_driver(nursery)
        releases = runtime.release_heap
        assert releases.unsent_at_calls == []  # connecting writes some 40 kB: not worth giving heap back
        mark = len(peer.replies)
        await flood_while_stdout_lags(peer, runtime, driver)
        assert driver.outbox.unsent <= OUTPUT_BACKLOG_LIMIT + ONE_ANSWER_AT_MOST
        assert runtime.most_unanswered == 1  # the same request, put aside once however often it came

        peer.reading.set()  # the peer catches up: the answers put aside go out, then a request sent after them
        await peer.stream.send_all(switch("DEBUG", "DISABLE"))
        settled = await peer.wait_for(is_set("DEBUG", "Ok"), "the request after the flood", start=mark)
        with trio.fail_after(GENEROUS):
            while runtime.unanswered or driver.outbox.unsent:
                await trio.sleep(0.05)
        await peer.stream.send_all(switch("DEBUG", "DISABLE"))
        await peer.wait_for(is_set("DEBUG", "Ok"), "a request after every answer", start=settled + 1)
        answers = sum(map(is_defined("CONNECTION"), peer.replies[mark:]))
        assert 1 <= answers < GET_FLOOD
        assert runtime.unanswered == 0
        assert driver.outbox.most_unsent <= OUTPUT_BACKLOG_LIMIT + ONE_ANSWER_AT_MOST
        # the megabyte that waited is given back to the system once written, and only then
        assert releases.unsent_at_calls and set(releases.unsent_at_calls) == {0}
        nursery.cancel_scope.cancel()


async def test_an_abort_is_not_held_up_by_answers_waiting_for_stdout() -> None:
    async with trio.open_nursery() as nursery:
        driver, runtime, peer = await connected_driver(nursery)
        await peer.stream.send_all(number("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", 20000))  # ~90 s away
        await peer.wait_for(is_set("ABS_FOCUS_POSITION", "Busy"), "the move")
        await flood_while_stdout_lags(peer, runtime, driver)
        assert runtime.get_properties_put_aside

        await peer.stream.send_all(switch("FOCUS_ABORT_MOTION", "ABORT"))  # the peer still reads nothing
        emulator = driver.simulator
        assert emulator is not None
        with trio.fail_after(GENEROUS):
            while driver.focuser.target is not None or emulator.target != round(emulator.position):
                await trio.sleep(0.05)
        assert emulator.position < 20000  # halted on the way, while its answers still waited for stdout
        peer.reading.set()
        await peer.wait_for(is_set("FOCUS_ABORT_MOTION", "Ok"), "the abort's answer")
        nursery.cancel_scope.cancel()


def is_defined(name: str):
    return lambda reply: reply.tag.startswith("def") and reply.attrib.get("name") == name

