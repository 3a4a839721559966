"""INDI policy for the AstroLink 4: what each request means for the device."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

import trio

from ..indi.device import Device
from ..indi.properties import State
from ..link.framing import Line, LineFramer
from ..link.session import LinkTimeout, RequestSession, open_session
from ..link.transports import Transport, memory_pair
from . import protocol as p
from .emulator import AstroLink4Emulator, serve

REPLY_TIMEOUT = 1.0
RETRIES = 2
HANDSHAKE_RETRY_DELAY = 2.0  # a unit that resets when the port opens may miss the first '#'


class AstroLink4Driver(Device):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session: RequestSession[Line] | None = None
        self.layout: p.Layout | None = None
        self.identity = ""
        self.simulator: AstroLink4Emulator | None = None
        self.status: p.Status | None = None

    # --- link ------------------------------------------------------------------------------------------------

    async def open_simulator(self) -> Transport:
        if self.simulator is None:
            self.simulator = AstroLink4Emulator(now=trio.current_time())
        transport, device_side = memory_pair("simulated AstroLink 4")
        assert self.connection_nursery is not None
        self.connection_nursery.start_soon(serve, self.simulator, device_side)
        return transport

    async def command(self, text: str) -> str:
        """One transaction: send a command line, return the reply line."""
        assert self.session is not None
        reply = await self.session.request(self.session.framer.encode(text), p.reply_matcher(text))
        return reply.text

    @asynccontextmanager
    async def open_device(self) -> AsyncIterator[None]:
        async with open_session(
            LineFramer(max_line=256),
            self.open_transport,
            timeout=REPLY_TIMEOUT,
            retries=RETRIES,
            name=self.name,
        ) as session:
            self.session = session
            try:
                await self._identify()
                yield
            finally:
                self.session = None

    async def _identify(self) -> None:
        assert self.session is not None
        try:
            reply = await self.session.request(b"#\n", p.reply_matcher("#"), retries=0)
        except LinkTimeout:
            await trio.sleep(HANDSHAKE_RETRY_DELAY)
            reply = await self.session.request(b"#\n", p.reply_matcher("#"), retries=0)
        self.identity = p.parse_identity(reply.text)
        self.layout = p.detect_layout(await self.command(p.status()))
        info = self.props.text("DEVICE_INFO")
        info["MODEL"].value = self.layout.model
        info["IDENTITY"].value = self.identity
        info["STATUS_FIELDS"].value = str(self.layout.value)
        info.state = State.OK
        self.message(f"Found {self.layout.model} ({self.identity})")

    # --- polling ---------------------------------------------------------------------------------------------

    async def poll(self) -> None:
        assert self.layout is not None
        self.status = p.parse_status(await self.command(p.status()), self.layout)
