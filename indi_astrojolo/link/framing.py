"""Sans-I/O framing for the two serial protocols we speak.

Both framers take raw bytes exactly as they came off the wire (split at any
boundary the OS felt like) and turn them into events.  They never block, never
touch a clock and never raise on bad input: a noisy serial line is normal, so
corruption is reported as a ``FramingError`` event and framing carries on.

* ``LineFramer`` handles LF-terminated ASCII lines (AstroLink 4 USB).
* ``AuxFramer`` handles Celestron AUX bus packets (``3B LEN SRC DST CMD DATA CK``),
  including removal of the echo of our own transmissions, which a shared
  half-duplex AUX bus reflects back to us.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AUX_PREAMBLE",
    "AuxFramer",
    "AuxPacket",
    "FramingError",
    "Line",
    "LineFramer",
]

# Error payloads are for logging; keeping them short stops a babbling device
# from filling the log or holding large buffers alive.
_ERROR_SNIPPET = 64


@dataclass(frozen=True, slots=True)
class Line:
    """One received line: ASCII-decoded, terminator (LF and trailing CR) removed."""

    text: str


@dataclass(frozen=True, slots=True)
class FramingError:
    """Input that could not be framed and was dropped.

    ``kind`` is one of ``"line_too_long"``, ``"garbage"``, ``"bad_checksum"``,
    ``"bad_length"``.  ``data`` holds the dropped bytes, possibly only the
    first 64 of a long run.
    """

    kind: str
    data: bytes


# ---------------------------------------------------------------------------
# LF-terminated ASCII lines
# ---------------------------------------------------------------------------


class LineFramer:
    """ASCII lines terminated by LF. CR before LF is stripped (also a stray CR at the end).

    Lines are limited to ``max_line`` bytes (not counting the terminator) so a
    device that never sends LF cannot make us buffer without bound.  An
    overlong line is reported once and discarded up to and including its LF.
    """

    def __init__(self, max_line: int = 512) -> None:
        if max_line < 1:
            raise ValueError("max_line must be at least 1")
        self._max_line = max_line
        self._buf = bytearray()
        # True while skipping the rest of an overlong line that was already
        # reported; cleared by the next LF.
        self._discarding = False

    def reset(self) -> None:
        """Drop any partial line (e.g. after reopening the port)."""
        self._buf.clear()
        self._discarding = False

    def encode(self, text: str) -> bytes:
        """Frame ``text`` for sending: ASCII plus a single LF."""
        if "\n" in text or "\r" in text:
            raise ValueError(f"line must not contain CR or LF: {text!r}")
        try:
            payload = text.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError(f"line must be ASCII: {text!r}") from None
        return payload + b"\n"

    def feed(self, data: bytes) -> list[Line | FramingError]:
        """Consume received bytes; return the complete lines and errors found."""
        events: list[Line | FramingError] = []
        if not data:
            return events

        if self._discarding:
            lf = data.find(b"\n")
            if lf < 0:
                return events
            data = data[lf + 1 :]
            self._discarding = False

        search_from = len(self._buf)
        self._buf += data
        if self._buf.find(b"\n", search_from) >= 0:
            # split() does the scanning in C, which matters for bulk input.
            *complete, tail = self._buf.split(b"\n")
            for raw in complete:
                self._emit_line(raw, events)
            self._buf = bytearray(tail)

        self._check_partial_overflow(events)
        return events

    def _emit_line(self, raw: bytearray, events: list[Line | FramingError]) -> None:
        body = raw.rstrip(b"\r")
        if not body:
            return  # blank lines carry no information
        if len(body) > self._max_line:
            events.append(FramingError("line_too_long", bytes(body[:_ERROR_SNIPPET])))
            return
        events.append(Line(body.decode("ascii", errors="replace")))

    def _check_partial_overflow(self, events: list[Line | FramingError]) -> None:
        buf = self._buf
        if len(buf) <= self._max_line:
            return
        # A max-length line may already have its CR buffered while the LF is
        # still in flight; that must not count against the limit.
        if len(buf.rstrip(b"\r")) <= self._max_line:
            return
        events.append(FramingError("line_too_long", bytes(buf[:_ERROR_SNIPPET])))
        buf.clear()
        self._discarding = True


# ---------------------------------------------------------------------------
# Celestron AUX bus packets
# ---------------------------------------------------------------------------

AUX_PREAMBLE = 0x3B

# LEN counts SRC, DST and CMD plus the data bytes.
_AUX_HEADER_LEN = 3
# A frame on the wire is preamble + LEN byte + LEN bytes + checksum.
_AUX_OVERHEAD = 3

# Compact the receive buffer only once this much consumed input has piled
# up, so that frames are not re-sliced one at a time.
_COMPACT_THRESHOLD = 4096


@dataclass(frozen=True, slots=True)
class AuxPacket:
    """One AUX bus packet, independent of its wire encoding."""

    src: int
    dst: int
    cmd: int
    data: bytes = b""

    def encode(self) -> bytes:
        """Wire form: ``3B LEN SRC DST CMD DATA CK``."""
        length = _AUX_HEADER_LEN + len(self.data)
        if length > 0xFF:
            raise ValueError(f"AUX data too long: {len(self.data)} bytes")
        body = bytes((length, self.src, self.dst, self.cmd)) + bytes(self.data)
        return bytes((AUX_PREAMBLE,)) + body + bytes((AuxPacket.checksum(body),))

    @staticmethod
    def checksum(body: bytes) -> int:
        """Checksum of ``body`` (LEN through the last data byte).

        Chosen so that the body plus checksum sums to zero modulo 256.
        """
        return (-sum(body)) & 0xFF


class AuxFramer:
    """Recover AUX packets from a byte stream, resynchronising after noise.

    The preamble 0x3B may legitimately appear inside a packet, so after any
    failed candidate the scan restarts just after that candidate's preamble
    rather than after the whole candidate: the real frame may start inside it.
    """

    def __init__(self, max_data: int = 16) -> None:
        if max_data < 0 or _AUX_HEADER_LEN + max_data > 0xFF:
            raise ValueError(f"max_data out of range: {max_data}")
        self._max_len = _AUX_HEADER_LEN + max_data
        self._buf = bytearray()
        self._pos = 0  # start of unconsumed input within _buf
        self._pending_echo: bytes | None = None
        self.echoes_removed = 0

    def reset(self) -> None:
        """Drop partial input and any pending echo."""
        self._buf.clear()
        self._pos = 0
        self._pending_echo = None

    def expect_echo(self, frame: bytes) -> None:
        """Swallow the next received frame that is byte-identical to ``frame``.

        Call this when transmitting on a bus that reflects our own bytes.
        Replaces any echo still pending from an earlier transmission.
        """
        self._pending_echo = bytes(frame)

    def feed(self, data: bytes) -> list[AuxPacket | FramingError]:
        """Consume received bytes; return decoded packets and framing errors."""
        events: list[AuxPacket | FramingError] = []
        buf = self._buf
        buf += data
        pos = self._pos
        end_of_input = len(buf)
        max_len = self._max_len

        # Hot loop: locals and inline index arithmetic keep the per-frame
        # Python work small enough for the throughput target.
        while True:
            start = buf.find(AUX_PREAMBLE, pos)
            if start < 0:
                if pos < end_of_input:
                    events.append(_garbage(buf, pos, end_of_input))
                pos = end_of_input
                break
            if start > pos:
                events.append(_garbage(buf, pos, start))
                pos = start

            if end_of_input - start < 2:
                break  # need the LEN byte
            length = buf[start + 1]
            if length < _AUX_HEADER_LEN or length > max_len:
                events.append(FramingError("bad_length", bytes(buf[start : start + 2])))
                pos = start + 1
                continue

            frame_end = start + length + _AUX_OVERHEAD
            if frame_end > end_of_input:
                break  # frame still arriving; keep the tail

            if sum(buf[start + 1 : frame_end]) & 0xFF:
                events.append(FramingError("bad_checksum", bytes(buf[start:frame_end])))
                pos = start + 1
                continue

            pos = frame_end
            echo = self._pending_echo
            if echo is not None and buf[start:frame_end] == echo:
                self._pending_echo = None
                self.echoes_removed += 1
                continue
            events.append(
                AuxPacket(
                    buf[start + 2],
                    buf[start + 3],
                    buf[start + 4],
                    bytes(buf[start + 5 : frame_end - 1]),
                )
            )

        self._pos = pos
        self._compact()
        return events

    def _compact(self) -> None:
        # Emptying is free; otherwise only shift the partial tail once enough
        # consumed bytes have accumulated to be worth the copy.
        if self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        elif self._pos >= _COMPACT_THRESHOLD:
            del self._buf[: self._pos]
            self._pos = 0


def _garbage(buf: bytearray, start: int, end: int) -> FramingError:
    return FramingError("garbage", bytes(buf[start : min(end, start + _ERROR_SNIPPET)]))
