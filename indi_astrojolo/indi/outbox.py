"""Serialised messages waiting for stdout."""

from __future__ import annotations

from typing import Callable


class Outbox:
    """Serialised messages waiting for the writer; filled synchronously, drained by whoever owns stdout."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.notify: Callable[[], None] | None = None

    def send(self, data: bytes) -> None:
        self._chunks.append(data)
        if self.notify is not None:
            self.notify()

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data

    def __bool__(self) -> bool:
        return bool(self._chunks)
