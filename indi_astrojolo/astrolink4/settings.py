"""The device's settings blocks, read and written the way the protocol requires.

A write is always read-modify-write from a fresh read (never from a cached copy, which the hand controller or the
vendor panel may have made stale), keeps every field it does not change, and is confirmed by reading the block back.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Mapping

from . import protocol as p

Command = Callable[[str], Awaitable[str]]


class SettingsCache:
    def __init__(self, command: Command) -> None:
        self.command = command
        self.blocks: dict[str, p.SettingsBlock] = {}

    async def read(self, letter: str) -> p.SettingsBlock:
        block = p.parse_settings(await self.command(p.read_settings(letter)), letter)
        self.blocks[letter] = block
        return block

    async def write(self, letter: str, changes: Mapping[int, int | float]) -> p.SettingsBlock:
        current = await self.read(letter)
        wanted = current.with_values(changes)
        command = wanted.write_command()
        reply = await self.command(command)
        if not reply.startswith(command[0]):
            raise p.ProtocolError(f"{command[0]!r} was answered with {reply[:20]!r}")
        confirmed = await self.read(letter)
        for index, value in changes.items():
            if confirmed.number(index) != round(value):
                raise p.ProtocolError(
                    f"the device kept {letter}[{index}] = {confirmed.fields[index - 1]} instead of {round(value)}"
                )
        return confirmed
