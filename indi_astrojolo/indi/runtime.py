"""The trio main loop of a driver process.

stdin and stdout are one Unix socket under indiserver, so both are driven through non-blocking trio streams: a
blocking write to stdout would raise once stdin is made non-blocking. Requests are handled one at a time in arrival
order (a client sends ON_COORD_SET before the coordinates it applies to); getProperties is answered at once by the
reader, so a long connect never delays a client's view. When stdin closes, the device link is closed and the
process exits.
"""

from __future__ import annotations

import logging
import math
import os
import signal

import trio

from .device import Device
from .xmlstream import EnableBLOB, GetProperties, MalformedMessage, Message, NewVector, XmlStream

log = logging.getLogger(__name__)

DRAIN_TIMEOUT = 10.0  # seconds the requests queued before stdin closed may take to finish


class Runtime:
    def __init__(self, device: Device, stream: XmlStream, pending: list[Message], *, stdin: int = 0, stdout: int = 1):
        self.device = device
        self.stream = stream
        self.pending = pending
        self.stdin_fd = stdin
        self.stdout_fd = stdout
        self.requests_send, self.requests_receive = trio.open_memory_channel[NewVector | MalformedMessage](math.inf)
        self._output_ready = trio.Event()
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
                nursery.start_soon(self._write_loop, writer)
                nursery.start_soon(self._dispatch_loop)
                nursery.start_soon(self._signal_loop, nursery.cancel_scope)
                for message in self.pending:
                    self._route(message)
                await self._read_loop(reader)
                log.info("stdin closed: shutting down")
                self.requests_send.close()
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
            for message in self.stream.feed(data):
                self._route(message)

    def _route(self, message: Message | MalformedMessage) -> None:
        if isinstance(message, GetProperties):
            self.device.answer_get_properties(message)
        elif isinstance(message, NewVector):
            self.requests_send.send_nowait(message)
        elif isinstance(message, MalformedMessage):
            if message.request is not None:
                self.requests_send.send_nowait(message)  # answered in turn, as the request it was meant to be
            else:
                self.device.report_malformed(message)
        elif isinstance(message, EnableBLOB):
            pass  # indiserver applies BLOB policy per client; a driver has nothing to do
        else:
            log.debug("ignored <%s>", getattr(message, "tag", type(message).__name__))

    async def _dispatch_loop(self) -> None:
        async for request in self.requests_receive:
            if isinstance(request, MalformedMessage):
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
            while self.device.outbox:
                data = self.device.outbox.take()
                try:
                    await writer.send_all(data)
                except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    log.info("stdout failed: %s", exc)
                    return

    async def _signal_loop(self, scope: trio.CancelScope) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for signum in signals:
                log.info("signal %s: shutting down", signal.Signals(signum).name)
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await self.device.shutdown()
                scope.cancel()
                return
