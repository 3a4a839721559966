"""Serialised messages waiting for stdout, and how many bytes of them are not written yet."""

from __future__ import annotations

from collections.abc import Callable


class Outbox:
    """Serialised messages waiting for the writer; filled synchronously, drained by whoever owns stdout.

    `unsent` counts what is queued plus what the writer has taken and not yet finished writing, so the runtime can
    stop answering requests for more output while stdout lags (a client asking for every property ten times a second
    through a loaded indiserver must not pile up answers in this process)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._queued = 0
        self._writing = 0
        self.most_unsent = 0  # the largest backlog seen, in bytes
        self._peak_since_caught_up = 0
        self.notify: Callable[[], None] | None = None

    @property
    def unsent(self) -> int:
        return self._queued + self._writing

    def send(self, data: bytes) -> None:
        self._chunks.append(data)
        self._queued += len(data)
        self.most_unsent = max(self.most_unsent, self.unsent)
        self._peak_since_caught_up = max(self._peak_since_caught_up, self.unsent)
        if self.notify is not None:
            self.notify()

    def take(self) -> bytes:
        """Everything queued, as one piece; it counts as unsent until `written()`."""
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._queued = 0
        self._writing += len(data)
        return data

    def written(self) -> None:
        """What was taken has been written (or never will be: stdout is gone)."""
        self._writing = 0

    def caught_up(self) -> int:
        """The writer has written everything: the largest backlog since it last caught up, in bytes."""
        peak, self._peak_since_caught_up = self._peak_since_caught_up, 0
        return peak

    def __bool__(self) -> bool:
        return bool(self._chunks)
