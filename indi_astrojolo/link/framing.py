"""Sans-I/O framing for the two serial protocols we speak.

Both framers take raw bytes exactly as they came off the wire (split at any
boundary the OS felt like) and turn them into events.  They never block, never
touch a clock and never raise on bad input: a noisy serial line is normal, so
corruption is reported as a ``FramingError`` event and framing carries on.

* ``LineFramer`` handles LF-terminated ASCII lines (AstroLink 4 USB).
* ``AuxFramer`` handles Celestron AUX bus packets (``3B LEN SRC DST CMD DATA CK``),
  including removal of the echo of our own transmissions, which a shared
  half-duplex AUX bus reflects back to us.
* ``PassthroughFramer`` handles the replies of a NexStar hand controller to its
  ``P`` passthrough frames (``r`` data bytes then ``#``), turning each into a
  synthetic ``AuxPacket`` so that AUX reply matching works unchanged.
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
    "PassthroughFramer",
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
    ``"bad_length"``, ``"no_answer"`` (hand-controller passthrough only).
    ``data`` holds the dropped bytes, possibly only the first 64 of a long run.
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

    def feed(self, data: bytes | bytearray) -> list[Line | FramingError]:
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
NOT_SUPPORTED_CMD = 0xF0  # an AUX reply with this command and the request's command as data: no such answer

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

    def feed(self, data: bytes | bytearray) -> list[AuxPacket | FramingError]:
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


# ---------------------------------------------------------------------------
# Hand-controller passthrough replies
# ---------------------------------------------------------------------------

PASSTHROUGH_TERMINATOR = 0x23  # '#'

# The source the synthetic replies are addressed to: the AUX id an application uses.
_APP_ID = 0x20


@dataclass(frozen=True, slots=True)
class _Expectation:
    dst: int
    cmd: int
    response_bytes: int


class PassthroughFramer:
    """Replies of a NexStar hand controller to ``P`` passthrough frames.

    The reply carries no header and no checksum: it is exactly the requested
    number of data bytes followed by ``#``, so it can only be framed knowing
    what was asked.  Call ``expect(dst, cmd, response_bytes)`` before each
    request.  A reply of the expected length becomes the ``AuxPacket`` the
    addressed device would have sent on the bus (from ``dst`` to the
    application, same command), so reply matching works as on a raw AUX link.

    The HC signals "the device did not answer" by sending one byte more than
    asked for before ``#``; that is reported as ``FramingError("no_answer")``.
    Data bytes may themselves be 0x23, so only a ``#`` at or after the expected
    data length ends a reply.  The HC does not echo.
    """

    def __init__(self, max_extra: int = 16, reply_to: int = _APP_ID) -> None:
        if max_extra < 1:
            raise ValueError("max_extra must be at least 1 (the no-answer byte)")
        self._max_extra = max_extra
        self._reply_to = reply_to
        self._expected: _Expectation | None = None
        self._buf = bytearray()
        # Bytes of an abandoned reply, reported with the next feed() because
        # expect() has no way to return events.
        self._stale: list[FramingError] = []

    def reset(self) -> None:
        """Forget the expectation and any partial reply (e.g. after reopening the port)."""
        self._expected = None
        self._buf.clear()
        self._stale.clear()

    def expect(self, dst: int, cmd: int, response_bytes: int) -> None:
        """Frame the next reply as ``response_bytes`` data bytes from ``dst`` answering ``cmd``.

        A partial reply to an earlier request still buffered cannot belong to
        this one; it is dropped and reported by the next ``feed``.
        """
        if not 0 <= response_bytes <= 0xFF:
            raise ValueError(f"response_bytes out of range: {response_bytes}")
        if self._buf:
            self._stale.append(FramingError("garbage", bytes(self._buf[:_ERROR_SNIPPET])))
            self._buf.clear()
        self._expected = _Expectation(dst, cmd, response_bytes)

    def feed(self, data: bytes) -> list[AuxPacket | FramingError]:
        """Consume received bytes; return the framed reply, errors, or nothing yet."""
        events: list[AuxPacket | FramingError] = list(self._stale)
        self._stale.clear()
        pos = 0
        while pos < len(data):
            expected = self._expected
            if expected is None:
                # Nothing was asked, so nothing can be framed: a late reply or noise.
                events.append(FramingError("garbage", bytes(data[pos : pos + _ERROR_SNIPPET])))
                break
            pos = self._collect(expected, data, pos, events)
        return events

    def _collect(self, expected: _Expectation, data: bytes, pos: int, events: list[AuxPacket | FramingError]) -> int:
        """Take bytes of the expected reply from ``data[pos:]``; return where consumption stopped."""
        buf = self._buf
        # Bytes before position response_bytes are data whatever their value;
        # take them without looking for the terminator.
        need = expected.response_bytes - len(buf)
        if need > 0:
            taken = data[pos : pos + need]
            buf += taken
            pos += len(taken)
            if len(buf) < expected.response_bytes:
                return pos
        hash_at = data.find(PASSTHROUGH_TERMINATOR, pos)
        limit = expected.response_bytes + self._max_extra
        if hash_at < 0:
            buf += data[pos:]
            if len(buf) > limit:
                # No HC sends this much: we have lost step with the replies.
                events.append(FramingError("garbage", bytes(buf[:_ERROR_SNIPPET])))
                self._finish()
            return len(data)
        buf += data[pos:hash_at]
        if len(buf) == expected.response_bytes:
            events.append(AuxPacket(expected.dst, self._reply_to, expected.cmd, bytes(buf)))
        elif len(buf) <= limit:
            events.append(FramingError("no_answer", bytes(buf[:_ERROR_SNIPPET])))
            # Also the AUX bus's own "not supported" reply (F0 <cmd>), so whoever waits for this reply learns at
            # once that none is coming, as it would from the device itself.
            events.append(AuxPacket(expected.dst, self._reply_to, NOT_SUPPORTED_CMD, bytes([expected.cmd])))
        else:
            events.append(FramingError("garbage", bytes(buf[:_ERROR_SNIPPET])))
        self._finish()
        return hash_at + 1

    def _finish(self) -> None:
        # One reply per request: anything after it is unexpected until the next expect().
        self._expected = None
        self._buf.clear()
