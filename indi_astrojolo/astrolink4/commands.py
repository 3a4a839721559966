"""The requests the parts send the AstroLink: one command line out and its reply back, commands that are only
acknowledged, and the settings blocks, read and written the way the protocol requires.

A settings write is always read-modify-write from a fresh read (never from a cached copy, which the hand controller
or the vendor panel may have made stale), keeps every field it does not change, and is confirmed by reading the block
back. The blocks last read are kept for showing (`blocks`).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..link.errors import LinkError
from ..link.framing import Line, LineFramer
from ..link.session import RequestSession
from . import protocol as p


class Commands:
    def __init__(self) -> None:
        self.session: RequestSession[Line] | None = None  # set by the driver while the link is open
        self.blocks: dict[str, p.SettingsBlock] = {}

    async def command(self, text: str) -> str:
        """One transaction: a command line out, its reply line back."""
        if self.session is None:
            raise LinkError("not connected")
        framer = self.session.framer
        assert isinstance(framer, LineFramer)  # the driver opens the session with one: the AstroLink talks in lines
        reply = await self.session.request(framer.encode(text), p.reply_matcher(text))
        return reply.text

    async def expect_ack(self, text: str) -> None:
        reply = await self.command(text)
        if not reply.startswith(text[0]):
            raise p.ProtocolError(f"{text!r} was answered with {reply[:20]!r}")

    async def read_settings(self, letter: str) -> p.SettingsBlock:
        block = p.parse_settings(await self.command(p.read_settings(letter)), letter)
        self.blocks[letter] = block
        return block

    async def write_settings(self, letter: str, changes: Mapping[int, int | float]) -> p.SettingsBlock:
        current = await self.read_settings(letter)
        wanted = current.with_values(changes)
        command = wanted.write_command()
        reply = await self.command(command)
        if not reply.startswith(command[0]):
            raise p.ProtocolError(f"{command[0]!r} was answered with {reply[:20]!r}")
        confirmed = await self.read_settings(letter)
        for index, value in changes.items():
            if confirmed.number(index) != round(value):
                raise p.ProtocolError(
                    f"the device kept {letter}[{index}] = {confirmed.fields[index - 1]} instead of {round(value)}"
                )
        return confirmed
