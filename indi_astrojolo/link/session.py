"""Request/response over a framed byte stream.

One request is in flight at a time. Before each request, stale input is flushed, so a late reply to an earlier
request can never be taken for the answer to this one; the reply is recognised by a matcher the protocol supplies
(AUX: same command with source and destination swapped; AstroLink: the command's letter). Timeouts are retried a
bounded number of times, a broken transport is reopened at most once per `reconnect_interval`, and every fault is
counted.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, Generic, Protocol, TypeVar

import trio

from .errors import LinkDown, LinkTimeout, NotSentInTime, ReplyRejected, TransportError, Verdict
from .framing import FramingError
from .transports import Transport

Item = TypeVar("Item")


class Framer(Protocol[Item]):
    def feed(self, data: bytes) -> list[Item | FramingError]: ...

    def reset(self) -> None: ...


@dataclass
class LinkCounters:
    requests: int = 0
    replies: int = 0
    timeouts: int = 0
    retries: int = 0
    rejected: int = 0
    ignored: int = 0
    framing_errors: int = 0
    link_failures: int = 0
    reconnects: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def summary(self, ignored: str = "stray replies") -> str:
        """The counters in words, as LINK_STATISTICS shows them; `ignored` names what the link set aside (stray
        replies on a point-to-point line, other devices' packets on a bus)."""
        return (
            f"{self.requests} requests, {self.timeouts} timeouts, {self.retries} retries, "
            f"{self.framing_errors} framing errors, {self.ignored} {ignored}, {self.reconnects} reconnects"
        )


Opener = Callable[[], Awaitable[Transport]]
INBOX_LIMIT = 256


class RequestSession(Generic[Item]):
    def __init__(
        self,
        framer: Framer[Item],
        opener: Opener,
        *,
        timeout: float,
        retries: int,
        name: str,
        render: Callable[[bytes], str] = repr,
        reconnect_interval: float = 2.0,
    ) -> None:
        self.framer = framer
        self.opener = opener
        self.timeout = timeout
        self.retries = retries
        self.name = name
        self.render = render
        self.reconnect_interval = reconnect_interval
        self.counters = LinkCounters()
        self.transport: Transport | None = None
        self.down_reason: str | None = "not connected"
        self.on_unsolicited: Callable[[Item], None] | None = None
        self.wire_log = logging.getLogger("indi_astrojolo.wire")
        self._inbox: deque[Item] = deque(maxlen=INBOX_LIMIT)
        self._arrived = trio.Event()
        self._lock = trio.Lock()
        self._nursery: trio.Nursery | None = None
        self._reader_scope: trio.CancelScope | None = None
        self._last_open_attempt = -float("inf")

    # --- lifetime ---------------------------------------------------------------------------------------------

    async def _open(self) -> None:
        self._last_open_attempt = trio.current_time()
        try:
            transport = await self.opener()
        except TransportError as exc:
            self.down_reason = exc.strerror or str(exc)
            raise LinkDown(self.down_reason) from None
        self.framer.reset()
        self._inbox.clear()
        self.transport = transport
        self.down_reason = None
        assert self._nursery is not None
        await self._nursery.start(self._read_loop, transport)

    async def _read_loop(self, transport: Transport, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        with trio.CancelScope() as scope:
            self._reader_scope = scope
            task_status.started()
            try:
                while True:
                    data = await transport.receive_some(4096)
                    if not data:
                        self._mark_down(f"{transport.description}: end of stream")
                        return
                    self._received(data)
            except TransportError as exc:
                self._mark_down(str(exc))

    def _received(self, data: bytes) -> None:
        if self.wire_log.isEnabledFor(logging.DEBUG):
            self.wire_log.debug("%s <- %s", self.name, self.render(data))
        for item in self.framer.feed(data):
            if isinstance(item, FramingError):
                self.counters.framing_errors += 1
                self.wire_log.debug("%s framing error %s: %r", self.name, item.kind, item.data[:32])
                continue
            self._inbox.append(item)
        if self._inbox:
            self._arrived.set()

    def _mark_down(self, reason: str) -> None:
        if self.down_reason is None:
            self.counters.link_failures += 1
            logging.getLogger(__name__).warning("%s: link lost: %s", self.name, reason)
        self.down_reason = reason
        self._arrived.set()  # wake a waiting request so it fails now rather than at its timeout

    async def _close_transport(self) -> None:
        if self._reader_scope is not None:
            self._reader_scope.cancel()
            self._reader_scope = None
        if self.transport is not None:
            transport, self.transport = self.transport, None
            await transport.aclose()

    async def reconnect(self) -> None:
        """Close whatever is open and open the transport again."""
        await self._close_transport()
        self.counters.reconnects += 1
        await self._open()

    async def _ensure_up(self) -> Transport:
        if self.transport is not None and self.down_reason is None:
            return self.transport
        if trio.current_time() - self._last_open_attempt < self.reconnect_interval:
            raise LinkDown(f"{self.name}: {self.down_reason}")
        await self.reconnect()
        assert self.transport is not None
        return self.transport

    @property
    def is_up(self) -> bool:
        return self.transport is not None and self.down_reason is None

    # --- requests ---------------------------------------------------------------------------------------------

    async def _next_item(self) -> Item:
        while not self._inbox:
            if self.down_reason is not None:
                raise LinkDown(f"{self.name}: {self.down_reason}")
            self._arrived = trio.Event()
            await self._arrived.wait()
        return self._inbox.popleft()

    def _flush(self, transport: Transport) -> None:
        stale = len(self._inbox)
        if stale:
            for item in self._inbox:
                if self.on_unsolicited is not None:
                    self.on_unsolicited(item)
            self.wire_log.debug("%s: flushed %d stale item(s)", self.name, stale)
        self._inbox.clear()
        transport.discard_input()

    async def request(
        self,
        payload: bytes,
        matcher: Callable[[Item], Verdict],
        *,
        timeout: float | None = None,
        retries: int | None = None,
        before_send: Callable[[bytes], None] | None = None,
        send_by: float | None = None,
    ) -> Item:
        """Send `payload` and return the first item the matcher accepts; retry on timeout or rejection.

        With `send_by` (a trio time), a request that cannot go out by then, because the link is busy with other
        requests or failing, is given up instead of sent late (a guide pulse seconds late is a wrong pulse)."""
        timeout = self.timeout if timeout is None else timeout
        retries = self.retries if retries is None else retries
        async with self._lock:
            self.counters.requests += 1
            last_problem = "no reply"
            for attempt in range(retries + 1):
                if send_by is not None and trio.current_time() > send_by:
                    late = trio.current_time() - send_by
                    raise NotSentInTime(
                        f"{self.name}: given up, it could not be sent in time (the link stayed busy or failing "
                        f"{late:.1f} s past its deadline)"
                    )
                if attempt:
                    self.counters.retries += 1
                transport = await self._ensure_up()
                await trio.lowlevel.checkpoint()  # let the reader take in bytes that already arrived
                self._flush(transport)
                if before_send is not None:
                    before_send(payload)
                if self.wire_log.isEnabledFor(logging.DEBUG):
                    self.wire_log.debug("%s -> %s", self.name, self.render(payload))
                try:
                    await transport.send_all(payload)
                except TransportError as exc:
                    self._mark_down(str(exc))
                    raise LinkDown(f"{self.name}: {exc}") from None
                with trio.move_on_after(timeout):
                    while True:
                        item = await self._next_item()
                        verdict = matcher(item)
                        if verdict is Verdict.ACCEPT:
                            self.counters.replies += 1
                            return item
                        if verdict is Verdict.REJECT:
                            self.counters.rejected += 1
                            last_problem = f"error reply {item!r}"
                            break
                        self.counters.ignored += 1
                        if self.on_unsolicited is not None:
                            self.on_unsolicited(item)
                    continue
                self.counters.timeouts += 1
                last_problem = f"no reply within {timeout:g} s"
            error = ReplyRejected if last_problem.startswith("error") else LinkTimeout
            raise error(f"{self.name}: {last_problem} after {retries + 1} attempt(s)")


@asynccontextmanager
async def open_session(framer: Framer[Item], opener: Opener, **options: Any) -> AsyncIterator[RequestSession[Item]]:
    """Open the transport and run its reader until the block ends; the transport is always closed afterwards.

    `options` are RequestSession's keyword arguments (timeout, retries, name, render, reconnect_interval)."""
    session: RequestSession[Item] = RequestSession(framer, opener, **options)
    async with trio.open_nursery() as nursery:
        session._nursery = nursery
        try:
            await session._open()
            yield session
        finally:
            with trio.CancelScope(shield=True):
                await session._close_transport()
            nursery.cancel_scope.cancel()
