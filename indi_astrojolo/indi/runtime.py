"""The trio main loop of a driver process.

stdin and stdout are one Unix socket under indiserver, so both are driven through non-blocking trio streams: a
blocking write to stdout would raise once stdin is made non-blocking. Requests are handled one at a time in arrival
order (a client sends ON_COORD_SET before the coordinates it applies to); getProperties is answered at once by the
reader, so a long connect never delays a client's view. When stdin closes, the device link is closed and the
process exits.

The queue between the reader and the dispatcher is bounded: while it is full the reader stops reading, so a flood of
requests waits in indiserver (which holds it as bytes) rather than in this process. An abort or a disconnect
(`Device.overtakes`) does not wait in that queue: it goes to an urgent lane the dispatcher reads first, and the
requests for the device queued before it are withdrawn with a refusal, so nothing a client asked for before an abort
can start after it (abort always wins). It still waits for the one request being served, as every request does.

Output is bounded too: while more than OUTPUT_BACKLOG_LIMIT bytes wait for stdout (indiserver reading slower than the
driver writes, on a loaded machine), a getProperties is not answered at once but put aside, and answered when stdout
has caught up. Requests put aside for the same device and property are answered once: indiserver sends a driver's
definitions to every client of the device, so one answer serves them all. The reader goes on reading meanwhile, so
an abort is never held up behind the answers. When stdout has caught up after a backlog of more than
HEAP_RELEASE_BACKLOG bytes, the heap's free pages are given back (heap.py), so one slow minute does not leave the
driver larger for the rest of the night.
"""

from __future__ import annotations

import logging
import os
import signal
from collections import deque
from collections.abc import Callable
from typing import TypeGuard

import trio

from .device import Device
from .heap import release_free_heap
from .part import WiringError
from .xmlstream import (
    EnableBLOB,
    GetProperties,
    MalformedMessage,
    Message,
    NewVector,
    OtherMessage,
    SnoopedVector,
    XmlStream,
    snooped_vector,
)

log = logging.getLogger(__name__)

DRAIN_TIMEOUT = 10.0  # seconds the requests queued before stdin closed may take to finish
REQUEST_QUEUE_LIMIT = 256  # requests read ahead of the dispatcher, per lane: a few tens of ms of work, a few hundred kB
OUTPUT_BACKLOG_LIMIT = 1 << 20  # bytes waiting for stdout before getProperties waits: some twenty definition sets
HEAP_RELEASE_BACKLOG = 1 << 18  # bytes: a backlog this large, once written, is worth a malloc_trim (under 5 ms)

# Another device's def/set/del this driver snoops waits in the same queue: it is served in arrival order with the
# requests (a GPS's site applied between two gotos, never during one).
Request = NewVector | MalformedMessage | SnoopedVector


class RequestQueue:
    """Requests between the stdin reader and the dispatcher, in two bounded lanes: urgent ones are taken first.

    A full lane makes `put` wait until it is half empty, so a reader held up by a flood wakes once per half a queue,
    not once per request served."""

    def __init__(self, limit: int = REQUEST_QUEUE_LIMIT) -> None:
        self.limit = limit
        self.ordinary: deque[Request] = deque()
        self.urgent: deque[Request] = deque()
        self.closed = False
        self.most_held = 0  # the longest the ordinary lane has been
        self.times_full = 0  # how often a put had to wait for room (the reader stopped reading meanwhile)
        self._arrived = trio.Event()  # set when a request is put or the queue closes
        self._room = trio.Event()  # set when a lane is down to half its limit

    def __len__(self) -> int:
        return len(self.ordinary) + len(self.urgent)

    async def put(self, request: Request, *, urgent: bool = False) -> None:
        lane = self.urgent if urgent else self.ordinary
        if len(lane) >= self.limit:
            self.times_full += 1
            while len(lane) > self.limit // 2:
                self._room = trio.Event()
                await self._room.wait()
        lane.append(request)
        self.most_held = max(self.most_held, len(self.ordinary))
        self._arrived.set()

    async def get(self) -> Request | None:
        """The next request, urgent ones first; None once the queue is closed and empty."""
        await trio.lowlevel.checkpoint()  # a request served without any I/O must still let the reader and writer run
        while True:
            for lane in (self.urgent, self.ordinary):
                if lane:
                    request = lane.popleft()
                    if len(lane) <= self.limit // 2:
                        self._room.set()
                    return request
            if self.closed:
                return None
            self._arrived = trio.Event()
            await self._arrived.wait()

    def withdraw(self, wanted: Callable[[Request], TypeGuard[NewVector]]) -> list[NewVector]:
        """Take the ordinary requests `wanted(request)` is true of out of the queue, in arrival order."""
        withdrawn = [request for request in self.ordinary if wanted(request)]
        if withdrawn:
            self.ordinary = deque(request for request in self.ordinary if not wanted(request))
            self._room.set()
        return withdrawn

    def close(self) -> None:
        self.closed = True
        self._arrived.set()


class Runtime:
    def __init__(
        self,
        device: Device,
        stream: XmlStream,
        pending: list[Message | MalformedMessage],
        *,
        stdin: int = 0,
        stdout: int = 1,
        release_heap: Callable[[], object] = release_free_heap,
    ):
        if not device.wired():
            raise WiringError(f"{type(device).__name__} has no request dispatch: its constructor must end with wire()")
        self.device = device
        self.stream = stream
        self.pending = pending
        self.stdin_fd = stdin
        self.stdout_fd = stdout
        self.release_heap = release_heap
        self.requests = RequestQueue()
        self._output_ready = trio.Event()
        self._output_written = trio.Event()  # set after a write to stdout while getProperties wait to be answered
        # getProperties put aside while stdout lags, one per (device, name), in arrival order
        self._unanswered: dict[tuple[str | None, str | None], GetProperties] = {}
        self.get_properties_put_aside = 0  # how many getProperties waited for stdout to catch up
        self.most_unanswered = 0
        self._requests_done = trio.Event()
        self._write_lock = trio.Lock()  # the writer task and the last flush at shutdown share stdout

    async def run(self) -> None:
        device = self.device
        reader = trio.lowlevel.FdStream(os.dup(self.stdin_fd))
        writer = trio.lowlevel.FdStream(os.dup(self.stdout_fd))
        try:
            async with trio.open_nursery() as nursery:
                device.runtime_nursery = nursery
                device.outbox.notify = self._output_ready.set
                if device.outbox:
                    self._output_ready.set()  # what the device said while it was built (snoop subscriptions)
                nursery.start_soon(self._write_loop, writer)
                nursery.start_soon(self._answer_put_aside_loop)
                nursery.start_soon(self._dispatch_loop)
                nursery.start_soon(self._signal_loop, nursery.cancel_scope)
                await self._route_all(self.pending)
                await self._read_loop(reader)
                log.info("stdin closed: shutting down")
                self.requests.close()
                with trio.move_on_after(DRAIN_TIMEOUT):
                    await self._requests_done.wait()  # requests that arrived before the end are still answered
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await device.shutdown()
                    await self._flush(writer)
                nursery.cancel_scope.cancel()
        finally:
            device.outbox.notify = None
            for stream in (reader, writer):
                with trio.CancelScope(shield=True):
                    await stream.aclose()
            for fd in (self.stdin_fd, self.stdout_fd):
                try:
                    os.set_blocking(fd, True)  # leave a shared terminal usable
                except OSError:
                    pass

    async def _read_loop(self, reader: trio.lowlevel.FdStream) -> None:
        while True:
            try:
                data = await reader.receive_some(65536)
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                log.info("stdin failed: %s", exc)
                return
            if not data:
                return
            await self._route_all(self.stream.feed(data))

    async def _route_all(self, messages: list[Message | MalformedMessage]) -> None:
        """Route one read's messages in order; an abort or disconnect among them withdraws what came before it."""
        last_overtaking = max((i for i, m in enumerate(messages) if self._overtakes(m)), default=-1)
        held_back: list[NewVector] = []  # requests an abort later in this read withdraws: never queued
        for index, message in enumerate(messages):
            if self._overtakes(message):
                assert isinstance(message, NewVector)
                withdrawn = self.requests.withdraw(self._withdrawable) + held_back
                held_back = []
                self.device.withdraw(withdrawn, message)
                await self.requests.put(message, urgent=True)
            elif index < last_overtaking and self._withdrawable(message):
                held_back.append(message)
            else:
                await self._route(message)

    def _overtakes(self, message: Message | MalformedMessage) -> bool:
        return isinstance(message, NewVector) and self.device.overtakes(message)

    def _withdrawable(self, message: Message | MalformedMessage | SnoopedVector) -> TypeGuard[NewVector]:
        return isinstance(message, NewVector) and message.device == self.device.name

    @property
    def unanswered(self) -> int:
        """getProperties put aside until stdout catches up."""
        return len(self._unanswered)

    def _answer_or_put_aside(self, request: GetProperties) -> None:
        if not self._unanswered and self.device.outbox.unsent <= OUTPUT_BACKLOG_LIMIT:
            self.device.answer_get_properties(request)
            return
        self.get_properties_put_aside += 1
        self._unanswered.setdefault((request.device, request.name), request)
        self.most_unanswered = max(self.most_unanswered, len(self._unanswered))

    async def _answer_put_aside_loop(self) -> None:
        while True:
            self._output_written = trio.Event()
            await self._output_written.wait()
            while self._unanswered and self.device.outbox.unsent <= OUTPUT_BACKLOG_LIMIT:
                key = next(iter(self._unanswered))
                self.device.answer_get_properties(self._unanswered.pop(key))

    async def _route(self, message: Message | MalformedMessage) -> None:
        if isinstance(message, GetProperties):
            self._answer_or_put_aside(message)
        elif isinstance(message, NewVector):
            await self.requests.put(message)
        elif isinstance(message, MalformedMessage):
            if message.request is not None:
                await self.requests.put(message)  # answered in turn, as the request it was meant to be
            else:
                self.device.report_malformed(message)
        elif isinstance(message, EnableBLOB):
            pass  # indiserver applies BLOB policy per client; a driver has nothing to do
        elif isinstance(message, OtherMessage) and (snooped := self._snooped(message)) is not None:
            await self.requests.put(snooped)
        else:
            log.debug("ignored <%s>", getattr(message, "tag", type(message).__name__))

    def _snooped(self, message: OtherMessage) -> SnoopedVector | None:
        """Another device's def/set/del that this driver follows (indi/snoop.py), or None."""
        snooper = self.device.snooper
        vector = snooped_vector(message)
        if snooper is None or vector is None or not snooper.wants(vector):
            return None
        return vector

    async def _dispatch_loop(self) -> None:
        while (request := await self.requests.get()) is not None:
            if isinstance(request, SnoopedVector):
                await self.device.handle_snooped(request)
            elif isinstance(request, MalformedMessage):
                self.device.report_malformed(request)
            else:
                await self.device.handle_request(request)
        self._requests_done.set()

    async def _write_loop(self, writer: trio.lowlevel.FdStream) -> None:
        while True:
            await self._output_ready.wait()
            self._output_ready = trio.Event()
            self.device.outbox.notify = self._output_ready.set
            await self._flush(writer)

    async def _flush(self, writer: trio.lowlevel.FdStream) -> None:
        async with self._write_lock:
            outbox = self.device.outbox
            while outbox:
                data = outbox.take()
                try:
                    await writer.send_all(data)
                except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    log.info("stdout failed: %s", exc)
                    outbox.written()  # never will be: a reader waiting for room must not wait for it
                    self._output_written.set()
                    return
                outbox.written()
                if self._unanswered:  # only then is anyone waiting (no wake-up for every write)
                    self._output_written.set()
            if outbox.caught_up() > HEAP_RELEASE_BACKLOG:
                self.release_heap()

    async def _signal_loop(self, scope: trio.CancelScope) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for signum in signals:
                log.info("signal %s: shutting down", signal.Signals(signum).name)
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await self.device.shutdown()
                scope.cancel()
                return
