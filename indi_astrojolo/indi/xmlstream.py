"""Sans-I/O INDI XML (protocol 1.7): framing and parsing of what a driver reads on
stdin, and the helpers for what it writes on stdout.

The INDI stream is a sequence of top-level XML elements with no enclosing root and
no framing, split across reads at arbitrary bytes.  ``XmlStream`` finds element
boundaries with a small tag scanner (quote-, comment-, CDATA- and PI-aware) and hands
complete elements to a hardened lxml parser.  Nothing here does I/O, and nothing may
import trio: this module sits on the driver's start-up path.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

__all__ = [
    "EnableBLOB",
    "GetProperties",
    "MalformedMessage",
    "Message",
    "NewVector",
    "OtherMessage",
    "RequestTarget",
    "SnoopedVector",
    "XmlStream",
    "format_number_display",
    "format_number_wire",
    "parse_number",
    "sanitize_text",
    "serialize",
    "snooped_vector",
    "timestamp_now",
]


# ---------------------------------------------------------------------------
# Message types
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GetProperties:
    version: str | None
    device: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class NewVector:
    kind: str  # "Number" | "Switch" | "Text" | "BLOB"
    device: str | None
    name: str | None
    # (member name attribute, stripped text) in wire order; duplicates are kept
    # because deciding what a duplicate means is the property layer's job.
    members: tuple[tuple[str | None, str], ...]
    timestamp: str | None
    member_attrs: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class EnableBLOB:
    device: str | None
    name: str | None
    mode: str


@dataclass(frozen=True, slots=True)
class OtherMessage:
    tag: str
    attrib: dict[str, str]
    element: etree._Element  # for consumers that need the children


@dataclass(frozen=True, slots=True)
class RequestTarget:
    """What a malformed new*Vector asked for, read from its start tag (each attribute may be missing)."""

    kind: str  # "Number" | "Switch" | "Text" | "BLOB"
    device: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class MalformedMessage:
    reason: str
    excerpt: str
    # Set when the message began as a client request, so the driver can refuse the property it named instead of
    # leaving it Busy in the client.
    request: RequestTarget | None = None


Message = GetProperties | NewVector | EnableBLOB | OtherMessage


@dataclass(frozen=True, slots=True)
class SnoopedVector:
    """Another device's def*/set*Vector or delProperty, forwarded by indiserver because this driver asked for it
    (a getProperties naming that device: INDI's snooping). Values stay text; `number()` and `switch()` read them."""

    verb: str  # "def" | "set" | "del"
    kind: str  # "Number" | "Switch" | "Text" | "Light" | "BLOB"; "" for a delProperty
    device: str
    name: str  # "" for a delProperty of the whole device
    state: str | None  # "Idle" | "Ok" | "Busy" | "Alert"; None when the message carries none
    members: dict[str, str]  # member name -> stripped text
    member_states: dict[str, str]  # libindi's per-member states (not standard INDI; some drivers mark readings)

    def number(self, member: str) -> float | None:
        """A number member's value (decimal or sexagesimal), None if absent or unreadable."""
        text = self.members.get(member)
        if text is None:
            return None
        try:
            return parse_number(text)
        except ValueError:
            return None

    def switch(self, member: str) -> bool | None:
        text = self.members.get(member)
        return None if text is None else text.strip().lower() == "on"


_SNOOPED_TAG_RE = re.compile(r"(def|set)(Number|Switch|Text|Light|BLOB)Vector")


def snooped_vector(message: OtherMessage) -> SnoopedVector | None:
    """The def/set/del message of another device this is, or None for anything else (ping, message, ...)."""
    attrib = message.attrib
    device = attrib.get("device") or ""
    if message.tag == "delProperty":
        return SnoopedVector("del", "", device, attrib.get("name") or "", None, {}, {}) if device else None
    match = _SNOOPED_TAG_RE.fullmatch(message.tag)
    if match is None or not device or not attrib.get("name"):
        return None
    verb, kind = match.groups()
    members: dict[str, str] = {}
    member_states: dict[str, str] = {}
    for child in message.element:
        name = child.get("name") if isinstance(child.tag, str) else None
        if not name:
            continue
        members[name] = (child.text or "").strip()
        if child.get("state"):
            member_states[name] = child.get("state")
    return SnoopedVector(verb, kind, device, attrib["name"], attrib.get("state"), members, member_states)


_EXCERPT_BYTES = 120
_HEAD_BYTES = 4096  # how much of a malformed message is searched for the request's start tag

_NEW_VECTOR_KINDS: dict[str, tuple[str, str]] = {
    "newNumberVector": ("Number", "oneNumber"),
    "newSwitchVector": ("Switch", "oneSwitch"),
    "newTextVector": ("Text", "oneText"),
    "newBLOBVector": ("BLOB", "oneBLOB"),
}

# INDI command elements never nest.  When one of them starts inside another, the
# outer one was truncated (e.g. a writer died mid-message); cutting it off there lets
# the stream recover at once instead of swallowing input until the size limit.
_INDI_TOP_LEVEL = frozenset(
    [b"getProperties", b"message", b"delProperty", b"enableBLOB", b"pingRequest", b"pingReply"]
    + [
        f"{verb}{kind}Vector".encode()
        for verb in ("def", "set", "new")
        for kind in ("Text", "Number", "Switch", "Light", "BLOB")
    ]
)


def _excerpt(data: bytes | bytearray) -> str:
    return bytes(data[:_EXCERPT_BYTES]).decode("utf-8", errors="replace")


_REQUEST_HEAD_RE = re.compile(rb"\s*<new(Number|Switch|Text|BLOB)Vector(?=[\s/>])([^<>]*)")
_ATTRIBUTE_RE = re.compile(rb"""([^\s=<>"'/]+)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')""")
_XML_ESCAPES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'", "&amp;": "&"}
_XML_ESCAPE_RE = re.compile("&(?:lt|gt|quot|apos|amp);")


def _request_target(raw: bytes | bytearray) -> RequestTarget | None:
    """The kind, device and property named by the start tag of a (malformed) new*Vector; the first of a repeated
    attribute counts."""
    m = _REQUEST_HEAD_RE.match(raw, 0, _HEAD_BYTES)
    if m is None:
        return None
    attributes: dict[bytes, str] = {}
    for attribute in _ATTRIBUTE_RE.finditer(m.group(2)):
        value = attribute.group(2) if attribute.group(2) is not None else attribute.group(3)
        text = value.decode("utf-8", "replace")
        attributes.setdefault(attribute.group(1), _XML_ESCAPE_RE.sub(lambda e: _XML_ESCAPES[e.group()], text))
    return RequestTarget(m.group(1).decode(), attributes.get(b"device"), attributes.get(b"name"))


def _make_parser() -> etree.XMLParser:
    # Hardened: no entity expansion, no DTD, no network, no huge trees.  Comments and
    # PIs carry no INDI meaning, so they never reach consumers.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


# ---------------------------------------------------------------------------
# Framing
# ---------------------------------------------------------------------------

# Scanner states.  _TEXT is "between tags" (top level or element content); the others
# are inside a construct that may span several feeds.
_TEXT, _TAG, _COMMENT, _PI, _CDATA, _DECL = range(6)

_LT, _GT, _SLASH, _BANG, _QMARK = 0x3C, 0x3E, 0x2F, 0x21, 0x3F
_DQUOTE, _SQUOTE, _LBRACKET, _RBRACKET = 0x22, 0x27, 0x5B, 0x5D

_NAME_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_:" + bytes(range(0x80, 0x100)))
_NAME_RE = re.compile(rb"[^\s/>\"'<=]*")
# Longest tag name we wait for; longer garbage is truncated instead of buffered.
_MAX_NAME = 256
# Nesting deeper than this is malformed anyway (libxml2 stops at 256); beyond it only
# a counter is kept so hostile input cannot grow the stack without bound.
_MAX_STACK = 4096

# A whole start/end tag in one regex call: the common case, where the tag is complete
# in the buffer.  Quoted values may contain '>' but never '<' (not allowed in XML), so a
# '<' anywhere means the tag is broken; that case, and an incomplete tag, go through the
# resumable slow path instead.
_TAG_RE = re.compile(
    rb"<(/?)([A-Za-z_:\x80-\xff][^\s/>\"'<=]*)"
    rb"[^\"'<>]*(?:(?:\"[^\"<]*\"|'[^'<]*')[^\"'<>]*)*>"
)

# A complete message of depth <= 2 without comments/CDATA/PIs (every INDI command a
# client sends) matched in one call.  It frames exactly as the tag-by-tag scanner
# would: close tags must match (backreferences), a child may not carry an INDI command
# name (the scanner treats that as truncation), and anything else falls back to the
# scanner.  Possessive quantifiers keep failure (incomplete input) linear.
_ATTRS = rb"(?:[^\"'<>]*+(?:\"[^\"<]*+\"|'[^'<]*+')?+)*+"
_NOT_COMMAND = rb"(?!(?:" + b"|".join(sorted(_INDI_TOP_LEVEL)) + rb")[\s/>])"
_SIMPLE_MESSAGE_RE = re.compile(
    rb"<([A-Za-z_:\x80-\xff][^\s/>\"'<=]*+)"
    + _ATTRS
    + rb"(?:(?<=/)>|(?<!/)>"
    + rb"(?:[^<]*+<"
    + _NOT_COMMAND
    + rb"([A-Za-z_:\x80-\xff][^\s/>\"'<=]*+)"
    + _ATTRS
    + rb"(?:(?<=/)>|(?<!/)>[^<]*+</\2\s*+>))*+"
    + rb"[^<]*+</\1\s*+>)"
)
_TAG_UNQUOTED_RE = re.compile(rb"[\"'<>]")
_TAG_DQ_RE = re.compile(rb"[\"<]")
_TAG_SQ_RE = re.compile(rb"['<]")
_DECL_RE = re.compile(rb"[\"'\[\]<>]")

_DECL_REASON = "DOCTYPE and entity declarations are not allowed (markup declaration '<!')"


class XmlStream:
    """Incremental parser for the client -> driver INDI stream.

    ``feed()`` never raises on bad input: anything that is not a well-formed element is
    reported as ``MalformedMessage`` and parsing resumes at the next top-level element.
    The results do not depend on how the input is split into reads.

    Recovery rules, since the stream has no framing to fall back on:

    * an element larger than ``max_message_bytes`` is reported once and the rest of it
      is scanned but not kept; a top-level comment/PI/declaration that long is cut off
      at the limit and the bytes after it are read as top-level input;
    * an INDI command starting inside another INDI command means the outer one was
      truncated: it is reported and the new one parsed normally;
    * a '<' inside a tag means the tag was truncated: parsing resumes at that '<'.
    """

    def __init__(self, max_message_bytes: int = 1 << 20) -> None:
        if max_message_bytes < 1:
            raise ValueError("max_message_bytes must be positive")
        self._max = max_message_bytes
        self._parser = _make_parser()
        self._buf = bytearray()
        self._pos = 0  # everything before this has been scanned
        self._state = _TEXT
        self._stack: list[bytes] = []  # names of the open elements
        self._extra_depth = 0  # open elements beyond _MAX_STACK
        # Start (in _buf) of the top-level construct being scanned, or -1 when at top
        # level or when its bytes are being discarded (_skipping).
        self._item_start = -1
        self._skipping = False  # oversized item: scan to its end without keeping it
        self._poison: str | None = None  # reason the current element is malformed
        self._stray: bytearray | None = None  # start of a run of stray top-level text
        # Slow-path tag state
        self._tag_name = b""
        self._tag_is_end = False
        self._tag_quote = 0
        self._tag_last = 0  # last byte scanned in the tag (to spot "/>" across reads)
        self._tag_start = -1  # where the tag began in _buf; -1 once discarded
        # Declaration (<!DOCTYPE ...>) state
        self._decl_quote = 0
        self._decl_depth = 0

    @property
    def buffered_bytes(self) -> int:
        """Bytes currently held for incomplete input (bounded by ~max_message_bytes)."""
        return len(self._buf)

    @property
    def max_message_bytes(self) -> int:
        return self._max

    # -- public entry point -------------------------------------------------

    def feed(self, data: bytes) -> list[Message | MalformedMessage]:
        """Consume ``data`` and return every message completed by it, in order."""
        if data:
            self._buf += data
        # Raw element bytes (to parse) interleaved with already-known failures.
        items: list[bytes | MalformedMessage] = []
        try:
            self._scan(items)
        except Exception as exc:  # pragma: no cover - defensive, must never happen
            items.append(MalformedMessage(f"internal framing error: {exc!r}", ""))
            self._reset()
        self._check_size(items)
        self._compact()
        return self._parse_items(items)

    # -- scanner --------------------------------------------------------------

    def _scan(self, out: list[bytes | MalformedMessage]) -> None:
        buf = self._buf
        end = len(buf)
        pos = self._pos
        stack = self._stack
        while pos < end:
            state = self._state
            if state == _TEXT:
                lt = buf.find(b"<", pos)
                if lt < 0:
                    if not stack and not self._extra_depth:
                        self._stray_text(buf, pos, end)
                    pos = end
                    break
                at_top = not stack and not self._extra_depth
                if at_top and lt > pos and (self._stray is not None or not buf[pos:lt].isspace()):
                    self._stray_text(buf, pos, lt)
                pos = lt
                if lt + 1 >= end:
                    break  # need the next byte to classify the '<'
                c = buf[lt + 1]
                if c in _NAME_START or c == _SLASH:
                    if at_top and c != _SLASH:
                        m = _SIMPLE_MESSAGE_RE.match(buf, lt)
                        if m is not None and m.end() - lt <= self._max:
                            # Whole message in one regex call (the common case).
                            if self._stray is not None:
                                self._flush_stray(out)
                            pos = m.end()
                            out.append(bytes(buf[lt:pos]))
                            continue
                    m = _TAG_RE.match(buf, lt)
                    if m is not None:
                        if at_top:
                            self._begin_item(lt, out)
                        pos = m.end()
                        self._on_tag(m.group(2), m.group(1) == b"/", buf[pos - 2] == _SLASH, lt, pos, out)
                        continue
                    # Incomplete or broken tag: resumable slow path.
                    name_at = lt + 2 if c == _SLASH else lt + 1
                    if name_at >= end:
                        break
                    if buf[name_at] not in _NAME_START:
                        pos = self._lone_lt(lt, at_top)
                        continue
                    nm = _NAME_RE.match(buf, name_at)
                    name_end = nm.end() if nm is not None else name_at
                    if name_end >= end and name_end - name_at < _MAX_NAME:
                        break  # the name itself is still incomplete
                    if at_top:
                        self._begin_item(lt, out)
                    self._tag_name = bytes(buf[name_at : min(name_end, name_at + _MAX_NAME)])
                    self._tag_is_end = c == _SLASH
                    self._tag_quote = 0
                    self._tag_last = buf[name_end - 1]
                    self._tag_start = lt
                    self._state = _TAG
                    pos = name_end
                elif c == _BANG:
                    rest = bytes(buf[lt + 2 : lt + 9])
                    if rest.startswith(b"--"):
                        kind, pos = _COMMENT, lt + 4
                    elif rest.startswith(b"[CDATA["):
                        kind, pos = _CDATA, lt + 9
                    elif b"--".startswith(rest[:2]) or b"[CDATA[".startswith(rest):
                        break  # could still become a comment or CDATA section
                    else:
                        kind, pos = _DECL, lt + 2
                        self._decl_quote = 0
                        self._decl_depth = 0
                        if not at_top and self._poison is None:
                            self._poison = _DECL_REASON
                    if at_top:
                        self._begin_item(lt, out)
                    self._state = kind
                elif c == _QMARK:
                    if at_top:
                        self._begin_item(lt, out)
                    self._state = _PI
                    pos = lt + 2
                else:
                    pos = self._lone_lt(lt, at_top)
            elif state == _TAG:
                pos = self._scan_tag(buf, pos, end, out)
                if self._state == _TAG:
                    break  # the tag continues in a later feed
            else:
                # A top-level comment/PI/CDATA/declaration may only run to the size
                # limit; past it, it is dropped and what follows is read as top-level
                # input again.  Unlike skipping to its terminator, this cannot swallow
                # the rest of the stream, and the cut point does not depend on reads.
                at_top = not stack and not self._extra_depth
                limit = self._item_start + self._max if at_top else end
                stop = min(end, limit)
                if state == _COMMENT:
                    pos = self._scan_until(buf, pos, stop, b"-->", out)
                elif state == _PI:
                    pos = self._scan_until(buf, pos, stop, b"?>", out)
                elif state == _CDATA:
                    pos = self._scan_until(buf, pos, stop, b"]]>", out)
                else:
                    pos = self._scan_decl(buf, pos, stop, out)
                if self._state == state:
                    if not at_top or end < limit:
                        break  # the construct continues in a later feed
                    self._report(self._size_reason("dropped"), limit, out)
                    self._state = _TEXT
                    self._end_item()
                    pos = limit
        self._pos = pos

    def _lone_lt(self, lt: int, at_top: bool) -> int:
        # '<' not starting any markup: plain (invalid) text.  Inside an element lxml
        # will reject it; at top level it is part of a stray-text run.
        if at_top:
            self._stray_text(self._buf, lt, lt + 1)
        return lt + 1

    def _stray_text(self, buf: bytearray, start: int, stop: int) -> None:
        # Collect the head of a run of non-whitespace top-level text; it is reported
        # once, when the run ends, so the report does not depend on how reads split it.
        if self._stray is None:
            chunk = bytes(buf[start:stop]).lstrip()
            if chunk:
                self._stray = bytearray(chunk[:_EXCERPT_BYTES])
        elif len(self._stray) < _EXCERPT_BYTES:
            self._stray += buf[start : min(stop, start + _EXCERPT_BYTES - len(self._stray))]

    def _flush_stray(self, out: list[bytes | MalformedMessage]) -> None:
        if self._stray is not None:
            out.append(
                MalformedMessage(
                    "stray text outside of any element was dropped",
                    _excerpt(self._stray).rstrip(),
                )
            )
            self._stray = None

    def _begin_item(self, lt: int, out: list[bytes | MalformedMessage]) -> None:
        self._flush_stray(out)
        self._item_start = lt
        self._skipping = False
        self._poison = None

    def _item_bytes(self, stop: int) -> bytes:
        start = self._item_start
        return bytes(self._buf[start:stop]) if start >= 0 else b""

    def _end_item(self) -> None:
        self._item_start = -1
        self._skipping = False
        self._poison = None

    def _report(self, reason: str, stop: int, out: list[bytes | MalformedMessage]) -> None:
        """Report the current item as malformed unless it was already reported as oversized."""
        if self._skipping:
            return
        head = self._item_bytes(min(stop, self._item_start + _HEAD_BYTES))
        if stop - self._item_start > self._max:
            reason = self._size_reason()
        out.append(MalformedMessage(reason, _excerpt(head), _request_target(head)))

    def _size_reason(self, action: str = "skipped to the end of the element") -> str:
        return f"message exceeds {self._max} bytes (max_message_bytes); {action}"

    def _on_tag(
        self,
        name: bytes,
        is_end: bool,
        self_closing: bool,
        lt: int,
        stop: int,
        out: list[bytes | MalformedMessage],
    ) -> None:
        if len(name) > _MAX_NAME:
            name = name[:_MAX_NAME]  # the slow path only ever sees this much of a name
        stack = self._stack
        if not is_end:
            if stack or self._extra_depth:
                if stack and name in _INDI_TOP_LEVEL and stack[0] in _INDI_TOP_LEVEL:
                    outer = stack[0].decode("utf-8", "replace")
                    inner = name.decode("utf-8", "replace")
                    self._report(
                        self._poison or f"<{outer}> was not closed before <{inner}> began",
                        lt,
                        out,
                    )
                    stack.clear()
                    self._extra_depth = 0
                    self._end_item()
                    self._begin_item(lt, out)
                    if lt < 0:
                        # The new tag's start was discarded while skipping, which only
                        # happens once the tag alone exceeds the limit.
                        out.append(MalformedMessage(self._size_reason(), ""))
                        self._skipping = True
                else:
                    if not self_closing:
                        if len(stack) < _MAX_STACK:
                            stack.append(name)
                        else:
                            self._extra_depth += 1
                    return
            if self_closing:
                self._finish_element(stop, out)
            else:
                stack.append(name)
            return

        if self._extra_depth:
            self._extra_depth -= 1
            return
        if not stack:
            self._report(
                f"unbalanced close tag </{name.decode('utf-8', 'replace')}> outside of any element",
                stop,
                out,
            )
            self._end_item()
            return
        if stack[-1] == name:
            stack.pop()
        else:
            # Mismatched close tag.  Popping back to a matching open element (if any)
            # keeps the framing in step with the writer; lxml reports the mismatch.
            for i in range(len(stack) - 1, -1, -1):
                if stack[i] == name:
                    del stack[i:]
                    break
            else:
                return
        if not stack:
            self._finish_element(stop, out)

    def _finish_element(self, stop: int, out: list[bytes | MalformedMessage]) -> None:
        if self._skipping:
            pass  # already reported when it grew past the limit
        elif stop - self._item_start > self._max:
            self._report(self._size_reason(), stop, out)
        elif self._poison is not None:
            self._report(self._poison, stop, out)
        else:
            out.append(bytes(self._buf[self._item_start : stop]))
        self._end_item()

    def _scan_tag(self, buf: bytearray, pos: int, end: int, out: list[bytes | MalformedMessage]) -> int:
        while pos < end:
            quote = self._tag_quote
            if quote:
                m = (_TAG_DQ_RE if quote == _DQUOTE else _TAG_SQ_RE).search(buf, pos)
            else:
                m = _TAG_UNQUOTED_RE.search(buf, pos)
            if m is None:
                if not quote:
                    self._tag_last = buf[end - 1]
                return end
            i = m.start()
            c = buf[i]
            if c == _LT:
                # '<' cannot occur inside a tag: the tag was cut off.  Resume at the '<'.
                self._state = _TEXT
                if not self._stack and not self._extra_depth:
                    self._report("broken tag: '<' inside a tag", i, out)
                    self._end_item()
                elif self._poison is None:
                    self._poison = "broken tag: '<' inside a tag"
                return i
            if quote:
                self._tag_quote = 0
                self._tag_last = c
                pos = i + 1
            elif c == _GT:
                previous = buf[i - 1] if i > pos else self._tag_last
                self._state = _TEXT
                self._on_tag(self._tag_name, self._tag_is_end, previous == _SLASH, self._tag_start, i + 1, out)
                return i + 1
            else:
                self._tag_quote = c
                pos = i + 1
        return pos

    def _scan_until(
        self, buf: bytearray, pos: int, end: int, terminator: bytes, out: list[bytes | MalformedMessage]
    ) -> int:
        i = buf.find(terminator, pos, end)
        if i < 0:
            # Keep the tail that could be the start of a split terminator.
            return max(pos, end - (len(terminator) - 1))
        stop = i + len(terminator)
        state = self._state
        self._state = _TEXT
        if not self._stack and not self._extra_depth:
            self._finish_other(state, stop, out)
        return stop

    def _finish_other(self, state: int, stop: int, out: list[bytes | MalformedMessage]) -> None:
        """A top-level comment, PI, CDATA section or declaration ended at ``stop``."""
        if state == _DECL:
            self._report(_DECL_REASON, stop, out)
        elif state == _CDATA:
            self._report("CDATA section outside of any element", stop, out)
        # Comments and PIs (the <?xml ...?> declaration libindi writes before every
        # message) between elements are legitimate and silently dropped.
        self._end_item()

    def _scan_decl(self, buf: bytearray, pos: int, end: int, out: list[bytes | MalformedMessage]) -> int:
        # Tracks quotes and the [internal subset] so that '>' inside <!ENTITY ...> does
        # not end the <!DOCTYPE ...>.
        while pos < end:
            quote = self._decl_quote
            if quote:
                if self._decl_depth:
                    i = buf.find(bytes((quote,)), pos, end)
                    if i < 0:
                        return end
                else:
                    m = (_TAG_DQ_RE if quote == _DQUOTE else _TAG_SQ_RE).search(buf, pos, end)
                    if m is None:
                        return end
                    i = m.start()
                    if buf[i] == _LT:
                        return self._broken_decl(i, out)
                self._decl_quote = 0
                pos = i + 1
                continue
            m = _DECL_RE.search(buf, pos, end)
            if m is None:
                return end
            i = m.start()
            c = buf[i]
            pos = i + 1
            if c == _DQUOTE or c == _SQUOTE:
                self._decl_quote = c
            elif c == _LBRACKET:
                self._decl_depth += 1
            elif c == _RBRACKET:
                if self._decl_depth:
                    self._decl_depth -= 1
            elif c == _LT:
                if not self._decl_depth:
                    return self._broken_decl(i, out)
            elif not self._decl_depth:  # '>'
                self._state = _TEXT
                if not self._stack and not self._extra_depth:
                    self._finish_other(_DECL, pos, out)
                return pos
        return pos

    def _broken_decl(self, i: int, out: list[bytes | MalformedMessage]) -> int:
        self._state = _TEXT
        if not self._stack and not self._extra_depth:
            self._finish_other(_DECL, i, out)
        return i

    def _check_size(self, out: list[bytes | MalformedMessage]) -> None:
        if self._skipping or self._item_start < 0:
            return
        if self._pos - self._item_start <= self._max:
            return
        # Only elements get here (other top-level constructs stop at the limit in
        # _scan): keep scanning to find where the element ends, but stop keeping it.
        self._report(self._size_reason(), self._pos, out)
        self._skipping = True
        self._item_start = -1

    def _compact(self) -> None:
        if self._item_start >= 0:
            keep = self._item_start
        else:
            keep = self._pos
            # While skipping, keep a (normal-sized) open tag: it may turn out to start
            # the next message (see the truncation check in _on_tag).
            if self._state == _TAG and 0 <= self._tag_start and self._pos - self._tag_start <= self._max:
                keep = self._tag_start
        if keep:
            del self._buf[:keep]
            self._pos -= keep
            if self._item_start >= 0:
                self._item_start -= keep
            self._tag_start = self._tag_start - keep if self._tag_start >= keep else -1

    def _reset(self) -> None:
        self._buf.clear()
        self._pos = 0
        self._state = _TEXT
        self._stack.clear()
        self._extra_depth = 0
        self._item_start = -1
        self._skipping = False
        self._poison = None
        self._stray = None
        self._tag_start = -1

    # -- element parsing ------------------------------------------------------

    def _parse_items(self, items: list[bytes | MalformedMessage]) -> list[Message | MalformedMessage]:
        if len(items) == 1 and isinstance(items[0], bytes):
            return [self._parse_one(items[0])]
        raws = [item for item in items if isinstance(item, bytes)]
        if not raws:  # all of them malformed
            return [item for item in items if not isinstance(item, bytes)]
        parsed = self._parse_batch(raws)
        result: list[Message | MalformedMessage] = []
        it = iter(parsed)
        for item in items:
            result.append(next(it) if isinstance(item, bytes) else item)
        return result

    def _parse_batch(self, raws: list[bytes]) -> list[Message | MalformedMessage]:
        if len(raws) > 1:
            # One lxml call for the whole read is several times faster than one per
            # message.  Each raw item is a balanced element by construction, so wrapping
            # them cannot change how any of them parses; on any error fall back to one
            # by one so that a bad message does not take the good ones with it.
            try:
                root = etree.fromstring(b"<batch>" + b"".join(raws) + b"</batch>", self._parser)
            except (etree.LxmlError, ValueError):
                pass
            else:
                children = list(root)
                if len(children) == len(raws) and root.text is None:
                    parsed = []
                    for el, raw in zip(children, raws):
                        msg = _to_message(el, raw)
                        if isinstance(msg, OtherMessage):
                            root.remove(el)  # consumers must not see the synthetic root
                        parsed.append(msg)
                    return parsed
        return [self._parse_one(raw) for raw in raws]

    def _parse_one(self, raw: bytes) -> Message | MalformedMessage:
        try:
            el = etree.fromstring(raw, self._parser)
        except (etree.LxmlError, ValueError) as exc:
            return MalformedMessage(f"not well-formed XML: {exc}", _excerpt(raw), _request_target(raw))
        return _to_message(el, raw)


def _describe_tag(el: object) -> str:
    tag = getattr(el, "tag", None)
    return tag if isinstance(tag, str) else type(el).__name__


def _to_message(el: etree._Element, raw: bytes) -> Message | MalformedMessage:
    tag = el.tag
    attrib = el.attrib
    kind = _NEW_VECTOR_KINDS.get(tag)
    if kind is not None:
        kind_name, member_tag = kind
        members: list[tuple[str | None, str]] = []
        member_attrs: list[dict[str, str]] = []
        target = RequestTarget(kind_name, attrib.get("device"), attrib.get("name"))
        for child in el:
            if child.tag != member_tag:
                return MalformedMessage(
                    f"unexpected <{_describe_tag(child)}> in <{tag}> (expected <{member_tag}>)",
                    _excerpt(raw),
                    target,
                )
            if len(child):
                # Member values are character data only.
                return MalformedMessage(
                    f"unexpected <{_describe_tag(child[0])}> inside <{member_tag}> of <{tag}>",
                    _excerpt(raw),
                    target,
                )
            attrs = dict(child.attrib)
            members.append((attrs.get("name"), (child.text or "").strip()))
            member_attrs.append(attrs)
        return NewVector(
            kind_name,
            attrib.get("device"),
            attrib.get("name"),
            tuple(members),
            attrib.get("timestamp"),
            tuple(member_attrs),
        )
    if tag == "getProperties":
        return GetProperties(attrib.get("version"), attrib.get("device"), attrib.get("name"))
    if tag == "enableBLOB":
        return EnableBLOB(attrib.get("device"), attrib.get("name"), (el.text or "").strip())
    return OtherMessage(_describe_tag(el), dict(attrib), el)


# ---------------------------------------------------------------------------
# Output helpers
# ---------------------------------------------------------------------------


TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"  # UTC as libindi writes it, in messages and in TIME_UTC


def timestamp_now() -> str:
    """UTC timestamp exactly as libindi writes it: ``YYYY-MM-DDTHH:MM:SS``."""
    return datetime.now(UTC).strftime(TIMESTAMP_FORMAT)


def format_timestamp(unix: float) -> str:
    """A moment as libindi writes UTC: ``YYYY-MM-DDTHH:MM:SS``."""
    return datetime.fromtimestamp(unix, UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """UTC text as clients send it (TIME_UTC, SAT_PASS_WINDOW, a snooped GPS): ``YYYY-MM-DDTHH:MM:SS``, also with '/'
    for '-', a trailing 'Z' or a fraction of a second (ignored). The one parser of such text; ValueError if it is
    none."""
    text = text.strip().replace("/", "-").rstrip("Z")
    return datetime.strptime(text[:19], TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def serialize(element: etree._Element) -> bytes:
    """One INDI message as UTF-8 bytes, without XML declaration, newline-terminated.

    lxml escapes & < > in text and & < > " in attribute values (which it always
    delimits with double quotes), so no value can break the framing.
    """
    data = etree.tostring(element, encoding="utf-8", xml_declaration=False, with_tail=False)
    return data if data.endswith(b"\n") else data + b"\n"


# Characters XML 1.0 forbids (and lxml refuses): C0 controls other than tab/LF/CR,
# surrogates and the two non-characters U+FFFE/U+FFFF.
_XML_ILLEGAL_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def sanitize_text(text: str) -> str:
    """Remove characters that are illegal in XML 1.0 so lxml never rejects ``text``."""
    if _XML_ILLEGAL_RE.search(text) is None:
        return text
    return _XML_ILLEGAL_RE.sub("", text)


# printf-style number format: optional literal text, one conversion, literal text.
_PRINTF_RE = re.compile(
    r"(?P<pre>(?:[^%]|%%)*)%(?P<flags>[-+ #0]*)(?P<width>[0-9]*)(?:\.(?P<prec>[0-9]*))?"
    r"(?P<length>hh|h|ll|l|L|q|j|z|t)?(?P<conv>[diouxXeEfFgGm])(?P<post>(?:[^%]|%%)*)"
)

# INDI's %<w>.<f>m precision -> fs_sexa fraction base (indicom.c: numberFormat()).
_SEXA_FRACBASE = {9: 360000, 8: 36000, 6: 3600, 5: 600}


def _strip_negative_zero(text: str) -> str:
    if text.startswith("-"):
        try:
            if float(text) == 0.0:
                return text[1:]
        except ValueError:
            pass
    return text


def _round_half_away(value: float) -> int:
    whole = int(value)  # truncates; value - whole is exact for binary floats
    if abs(value - whole) >= 0.5:
        whole += 1 if value > 0 else -1
    return whole


def _shortest_decimal(value: float) -> str:
    # repr() is the shortest text that reads back as the same double; like %.17g it is
    # lossless, without %.17g's noise digits (0.1 -> "0.10000000000000001").
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def format_number_wire(value: float, fmt: str) -> str:
    """Format ``value`` as a plain C-locale decimal for the wire, honouring ``fmt``'s precision.

    Clients parse set/def values with strtod-like functions, so sexagesimal ``%m``
    formats are written as decimals with enough digits to carry their resolution.
    """
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"cannot send non-finite number {value!r} in INDI XML")
    try:
        text = _format_wire(value, fmt)
    except (ValueError, OverflowError, MemoryError):  # absurd precision in a garbled format
        text = _shortest_decimal(value)
    return _strip_negative_zero(text)


def _format_wire(value: float, fmt: str) -> str:
    m = _PRINTF_RE.fullmatch(fmt)
    if m is None:
        text = _shortest_decimal(value)
    else:
        conv = m["conv"]
        prec = m["prec"]
        if conv == "m":
            text = f"{value:.10f}".rstrip("0").rstrip(".")
        elif conv in "fF":
            digits = 6 if prec is None else int(prec or 0)
            text = "%.*f" % (digits, value)
        elif conv in "eEgG":
            spec = "%" + conv if prec is None else "%." + (prec or "0") + conv
            text = (spec % value).replace(" ", "")
        elif conv in "diu":
            text = str(_round_half_away(value))
        else:  # hex/octal would be misread by clients' strtod
            text = _shortest_decimal(value)
    return text


def _fs_sexa(value: float, width: int, fracbase: int) -> str:
    """Port of libindi's fs_sexa(): sexagesimal with the whole part in ``width`` columns."""
    negative = value < 0
    a = -value if negative else value
    n = int(a * fracbase + 0.5)
    whole, frac = divmod(n, fracbase)
    if negative and whole == 0:
        # "-0" must keep its sign, which %d would lose.
        out = " " * max(width - 2, 0) + "-0"
    else:
        out = "%*d" % (max(width, 0), -whole if negative else whole)
    if fracbase == 60:
        out += ":%02d" % frac
    elif fracbase == 600:
        out += ":%02d.%1d" % (frac // 10, frac % 10)
    else:
        per_minute = fracbase // 60
        minutes, seconds = divmod(frac, per_minute)
        if fracbase == 3600:
            out += ":%02d:%02d" % (minutes, seconds)
        elif fracbase == 36000:
            out += ":%02d:%02d.%1d" % (minutes, seconds // 10, seconds % 10)
        else:  # 360000
            out += ":%02d:%02d.%02d" % (minutes, seconds // 100, seconds % 100)
    return out


def format_number_display(value: float, fmt: str) -> str:
    """Format like libindi's numberFormat(): printf, or sexagesimal for ``%<w>.<f>m``."""
    value = float(value)
    try:
        return _format_display(value, fmt)
    except (ValueError, OverflowError, MemoryError):  # absurd width/precision
        return _shortest_decimal(value) if math.isfinite(value) else str(value)


def _format_display(value: float, fmt: str) -> str:
    m = _PRINTF_RE.fullmatch(fmt)
    if m is None:
        return _shortest_decimal(value) if math.isfinite(value) else str(value)
    conv = m["conv"]
    pre = m["pre"].replace("%%", "%")
    post = m["post"].replace("%%", "%")
    if conv == "m":
        if m["prec"] is None or not m["prec"] or not math.isfinite(value):
            body = _shortest_decimal(value) if math.isfinite(value) else str(value)
        else:
            width = int(m["width"] or 0)
            frac_digits = int(m["prec"])
            body = _fs_sexa(value, width - frac_digits, _SEXA_FRACBASE.get(frac_digits, 60))
        return pre + body + post
    spec = "%" + m["flags"] + m["width"] + ("" if m["prec"] is None else "." + m["prec"]) + conv
    if conv in "diouxX":
        if not math.isfinite(value):
            return pre + str(value) + post
        return pre + spec % _round_half_away(value) + post
    return pre + spec % value + post


_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SEXA_SPLIT_RE = re.compile(r"[ \t]*[:;][ \t]*|[ \t]+")
_SEXA_FIRST_RE = re.compile(r"[+-]?[0-9]+")
_SEXA_INT_RE = re.compile(r"[0-9]+")
_SEXA_LAST_RE = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def parse_number(text: str) -> float:
    """Parse an INDI number: decimal, or sexagesimal ``d:m[:s]`` (':' ';' or space separated).

    Raises ValueError for anything else, including nan/inf and out-of-range minutes or
    seconds.  Only ASCII digits are accepted (Python's float() would take others).
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty number")
    if _DECIMAL_RE.fullmatch(stripped):
        value = float(stripped)
        if not math.isfinite(value):
            raise ValueError(f"number out of range: {text!r}")
        return value
    parts = _SEXA_SPLIT_RE.split(stripped)
    if len(parts) == 1:
        raise ValueError(f"not a number: {text!r}")
    if len(parts) > 3:
        raise ValueError(f"too many sexagesimal components (at most d:m:s): {text!r}")
    first, *rest = parts
    # Only the last component may carry a fraction ("12:30.5" but not "12.5:30").
    if len(parts) == 2:
        whole_ok = _SEXA_FIRST_RE.fullmatch(first) is not None
        rest_ok = _SEXA_LAST_RE.fullmatch(rest[0]) is not None
    else:
        whole_ok = _SEXA_FIRST_RE.fullmatch(first) is not None
        rest_ok = _SEXA_INT_RE.fullmatch(rest[0]) is not None and _SEXA_LAST_RE.fullmatch(rest[1]) is not None
    if not (whole_ok and rest_ok):
        raise ValueError(f"not a number or sexagesimal value: {text!r}")
    negative = first.startswith("-")
    magnitude = float(first.lstrip("+-"))
    scale = 60.0
    for component in rest:
        part = float(component)
        if part >= 60.0:
            raise ValueError(f"sexagesimal minutes/seconds must be below 60: {text!r}")
        magnitude += part / scale
        scale *= 60.0
    if not math.isfinite(magnitude):
        raise ValueError(f"number out of range: {text!r}")
    return -magnitude if negative else magnitude
