"""INDI policy for a NexStar mount driven straight over the AUX bus."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, AsyncIterator

import trio

from ..indi.device import Device
from ..indi.properties import State
from ..link.framing import AuxFramer, AuxPacket
from ..link.session import LinkError, LinkTimeout, RequestSession, open_session
from ..link.transports import Transport, memory_pair
from . import aux
from .aux import Command

if TYPE_CHECKING:
    from .emulator import NexStarEmulator

REPLY_TIMEOUT = 0.8
RETRIES = 2
SCAN_TIMEOUT = 0.25  # an absent device never answers; do not wait long for it


class ConnectError(LinkError):
    pass


class NexStarDriver(Device):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session: RequestSession[AuxPacket] | None = None
        self.framer = AuxFramer()
        self.simulator: "NexStarEmulator | None" = None
        self.echo = True
        self.versions: dict[int, aux.Version] = {}
        self.positions: dict[int, int] = {}

    async def open_simulator(self) -> Transport:
        from .emulator import NexStarEmulator, serve  # only a simulating driver needs it

        if self.simulator is None:
            self.simulator = NexStarEmulator(now=trio.current_time())
        transport, device_side = memory_pair("simulated NexStar mount")
        assert self.connection_nursery is not None
        self.connection_nursery.start_soon(serve, self.simulator, device_side)
        return transport

    async def transact(self, dst: int, cmd: int, data: bytes = b"", *, timeout: float | None = None, retries: int | None = None) -> AuxPacket:
        """One AUX transaction: the reply from `dst` to our request (its echo is taken out by the framer)."""
        assert self.session is not None
        packet = aux.request(dst, cmd, data)
        frame = packet.encode()
        expect_echo = self.framer.expect_echo if self.echo else None
        return await self.session.request(
            frame, aux.reply_matcher(packet), timeout=timeout, retries=retries, before_send=expect_echo
        )

    @asynccontextmanager
    async def open_device(self) -> AsyncIterator[None]:
        self.framer = AuxFramer()
        async with open_session(
            self.framer, self.open_transport, timeout=REPLY_TIMEOUT, retries=RETRIES, name=self.name, render=aux.render
        ) as session:
            self.session = session
            try:
                await self._scan_bus()
                yield
            finally:
                self.session = None

    async def _scan_bus(self) -> None:
        self.versions.clear()
        for motor in (aux.Device.AZM, aux.Device.ALT):
            try:
                reply = await self.transact(motor, Command.GET_VERSION)
            except LinkTimeout:
                raise ConnectError(
                    f"the {aux.DEVICE_NAMES[motor]} controller (0x{motor:02X}) does not answer: "
                    "cannot work without both motor controllers"
                ) from None
            self.versions[motor] = aux.decode_version(reply.data)
        number, model = aux.decode_model((await self.transact(aux.Device.AZM, Command.GET_MODEL)).data)
        others = []
        for device in aux.SCAN_ORDER[2:]:
            try:
                reply = await self.transact(device, Command.GET_VERSION, timeout=SCAN_TIMEOUT, retries=0)
            except LinkError:
                continue
            self.versions[device] = aux.decode_version(reply.data)
            others.append(f"{aux.DEVICE_NAMES[device]} {self.versions[device]}")
        info = self.props.text("MOUNT_INFO")
        info["MODEL"].value = model
        info["AZM_VERSION"].value = str(self.versions[aux.Device.AZM])
        info["ALT_VERSION"].value = str(self.versions[aux.Device.ALT])
        info["BUS_DEVICES"].value = ", ".join(others) or "none"
        info.state = State.OK
        self.message(
            f"Found {model} (model {number}); motor controllers {self.versions[aux.Device.AZM]} / "
            f"{self.versions[aux.Device.ALT]}; other devices: {info['BUS_DEVICES'].value}"
        )

    async def poll(self) -> None:
        for motor in (aux.Device.AZM, aux.Device.ALT):
            reply = await self.transact(motor, Command.GET_POSITION)
            self.positions[motor] = aux.decode_position(reply.data, signed=motor == aux.Device.ALT)
