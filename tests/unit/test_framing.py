"""Tests for the sans-I/O line and AUX framers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indi_astrojolo.link.framing import (
    AUX_PREAMBLE,
    AuxFramer,
    AuxPacket,
    FramingError,
    Line,
    LineFramer,
)

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def chunks(blob: bytes, cuts: Iterable[int]) -> list[bytes]:
    """Split ``blob`` at the given offsets (any order, duplicates allowed)."""
    points = sorted({0, len(blob), *(c for c in cuts if 0 <= c <= len(blob))})
    return [blob[a:b] for a, b in zip(points, points[1:])]


def feed_all(framer: LineFramer | AuxFramer, pieces: Iterable[bytes]) -> list:
    events: list = []
    for piece in pieces:
        events.extend(framer.feed(piece))
    return events


def packets(events: Sequence[object]) -> list[AuxPacket]:
    return [e for e in events if isinstance(e, AuxPacket)]


def errors(events: Sequence[object], kind: str | None = None) -> list[FramingError]:
    return [e for e in events if isinstance(e, FramingError) and (kind is None or e.kind == kind)]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# ---------------------------------------------------------------------------
# LineFramer
# ---------------------------------------------------------------------------


def test_line_single() -> None:
    assert LineFramer().feed(b"Q:1:2\n") == [Line("Q:1:2")]


def test_line_multiple_in_one_feed() -> None:
    framer = LineFramer()
    assert framer.feed(b"one\ntwo\r\nthree\n") == [Line("one"), Line("two"), Line("three")]


def test_line_partial_is_held_until_lf() -> None:
    framer = LineFramer()
    assert framer.feed(b"abc") == []
    assert framer.feed(b"def") == []
    assert framer.feed(b"\nxy") == [Line("abcdef")]
    assert framer.feed(b"z\n") == [Line("xyz")]


def test_line_split_at_every_boundary() -> None:
    blob = b"first\r\nsecond\n\nthird line\r\n\r\nlast\n"
    expected = [Line("first"), Line("second"), Line("third line"), Line("last")]
    assert LineFramer().feed(blob) == expected
    for cut in range(len(blob) + 1):
        assert feed_all(LineFramer(), chunks(blob, [cut])) == expected, cut
    # and byte by byte
    assert feed_all(LineFramer(), [blob[i : i + 1] for i in range(len(blob))]) == expected


def test_line_crlf_and_stray_cr_stripped() -> None:
    framer = LineFramer()
    assert framer.feed(b"crlf\r\n") == [Line("crlf")]
    assert framer.feed(b"double\r\r\n") == [Line("double")]
    # CR and LF in separate reads
    assert framer.feed(b"split\r") == []
    assert framer.feed(b"\n") == [Line("split")]
    # a CR inside the line is data, not a terminator
    assert framer.feed(b"a\rb\n") == [Line("a\rb")]


def test_line_empty_lines_ignored() -> None:
    framer = LineFramer()
    assert framer.feed(b"\n\r\n\n\r\r\n") == []
    assert framer.feed(b"a\n\n\r\nb\n") == [Line("a"), Line("b")]


def test_line_non_ascii_replaced() -> None:
    assert LineFramer().feed(b"\xffok\n") == [Line("\ufffdok")]


def test_line_exactly_max_is_accepted_even_with_cr_pending() -> None:
    framer = LineFramer(max_line=8)
    assert framer.feed(b"12345678\r") == []  # CR must not push it over the limit
    assert framer.feed(b"\n") == [Line("12345678")]
    assert framer.feed(b"abcdefgh\n") == [Line("abcdefgh")]


def test_line_too_long_in_one_feed() -> None:
    framer = LineFramer(max_line=8)
    events = framer.feed(b"123456789\nok\n")
    assert events == [FramingError("line_too_long", b"123456789"), Line("ok")]


def test_line_too_long_across_feeds_reports_once_and_recovers() -> None:
    framer = LineFramer(max_line=8)
    assert framer.feed(b"1234567890") == [FramingError("line_too_long", b"1234567890")]
    assert framer.feed(b"still the same line") == []
    assert framer.feed(b" and more\r") == []
    assert framer.feed(b"\nok\n") == [Line("ok")]


def test_line_too_long_split_at_every_boundary() -> None:
    blob = b"before\n" + b"x" * 20 + b"\r\nafter\n"
    for cut_a in range(len(blob) + 1):
        for cut_b in range(cut_a, len(blob) + 1):
            events = feed_all(LineFramer(max_line=8), chunks(blob, [cut_a, cut_b]))
            assert [e for e in events if isinstance(e, Line)] == [Line("before"), Line("after")]
            errs = errors(events)
            assert len(errs) == 1 and errs[0].kind == "line_too_long"
            assert errs[0].data.startswith(b"x" * 9)
            # the error is reported where the overlong line was, in order
            assert events.index(errs[0]) == 1


def test_line_too_long_error_data_truncated() -> None:
    events = LineFramer(max_line=100).feed(b"y" * 1000 + b"\n")
    assert events == [FramingError("line_too_long", b"y" * 64)]


def test_line_reset_drops_partial() -> None:
    framer = LineFramer()
    framer.feed(b"half a li")
    framer.reset()
    assert framer.feed(b"ne\n") == [Line("ne")]


def test_line_reset_ends_discarding() -> None:
    framer = LineFramer(max_line=4)
    assert errors(framer.feed(b"too long"))
    framer.reset()
    assert framer.feed(b"ok\n") == [Line("ok")]


def test_line_encode() -> None:
    framer = LineFramer()
    assert framer.encode("#") == b"#\n"
    assert framer.encode("C:0:100") == b"C:0:100\n"


@pytest.mark.parametrize("bad", ["a\nb", "a\r", "\r\n", "caf\u00e9", "\u00b0C"])
def test_line_encode_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        LineFramer().encode(bad)


MAX_LINE_FOR_PROPERTY = 24
printable_line = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    min_size=1,
    max_size=MAX_LINE_FOR_PROPERTY,
)


@given(
    lines=st.lists(printable_line, max_size=20),
    crlf=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30),
)
def test_line_property_any_chunking(lines: list[str], crlf: bool, cuts: list[int]) -> None:
    terminator = "\r\n" if crlf else "\n"
    blob = "".join(line + terminator for line in lines).encode("ascii")
    events = feed_all(LineFramer(max_line=MAX_LINE_FOR_PROPERTY), chunks(blob, cuts))
    assert events == [Line(line) for line in lines]


@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=20))
def test_line_never_raises(data: bytes, cuts: list[int]) -> None:
    events = feed_all(LineFramer(max_line=16), chunks(data, cuts))
    for event in events:
        if isinstance(event, Line):
            assert event.text and "\n" not in event.text and not event.text.endswith("\r")
            assert len(event.text) <= 16
        else:
            assert event.kind == "line_too_long"


# ---------------------------------------------------------------------------
# AuxPacket / AuxFramer
# ---------------------------------------------------------------------------

WORKED_EXAMPLES = [
    ("3B 03 04 10 FE EB", AuxPacket(0x04, 0x10, 0xFE)),
    ("3B 03 20 10 FE CF", AuxPacket(0x20, 0x10, 0xFE)),  # GET_VER to AZM
    ("3B 07 10 20 FE 07 0A 10 0D 9D", AuxPacket(0x10, 0x20, 0xFE, h("07 0A 10 0D"))),  # 7.10.4109
    ("3B 06 11 20 01 FF FF AC 1E", AuxPacket(0x11, 0x20, 0x01, h("FF FF AC"))),  # -84 steps
    ("3B 06 20 10 06 00 3C 2A 5E", AuxPacket(0x20, 0x10, 0x06, h("00 3C 2A"))),
    ("3B 05 20 11 26 CE 64 72", AuxPacket(0x20, 0x11, 0x26, h("CE 64"))),
    ("3B 04 10 20 F0 47 95", AuxPacket(0x10, 0x20, 0xF0, h("47"))),
]

GET_VER = h("3B 03 20 10 FE CF")
VER_REPLY = h("3B 07 10 20 FE 07 0A 10 0D 9D")
GET_VER_PACKET = AuxPacket(0x20, 0x10, 0xFE)
VER_REPLY_PACKET = AuxPacket(0x10, 0x20, 0xFE, h("07 0A 10 0D"))


@pytest.mark.parametrize(("wire", "packet"), WORKED_EXAMPLES)
def test_aux_worked_example_decodes_and_reencodes(wire: str, packet: AuxPacket) -> None:
    raw = h(wire)
    decoded = AuxFramer().feed(raw)
    assert decoded == [packet]
    assert decoded[0].encode() == raw
    assert packet.encode() == raw


def test_aux_worked_example_fields() -> None:
    [reply] = AuxFramer().feed(VER_REPLY)
    assert (reply.src, reply.dst, reply.cmd) == (0x10, 0x20, 0xFE)
    assert tuple(reply.data) == (7, 10, 0x10, 0x0D)
    assert (reply.data[2] << 8) | reply.data[3] == 4109

    [pos] = AuxFramer().feed(h("3B 06 11 20 01 FF FF AC 1E"))
    assert int.from_bytes(pos.data, "big", signed=True) == -84


def test_aux_worked_examples_concatenated_any_split() -> None:
    blob = b"".join(h(wire) for wire, _ in WORKED_EXAMPLES)
    expected = [packet for _, packet in WORKED_EXAMPLES]
    for cut_a in range(len(blob) + 1):
        for cut_b in range(cut_a, len(blob) + 1, 3):
            assert feed_all(AuxFramer(), chunks(blob, [cut_a, cut_b])) == expected
    assert feed_all(AuxFramer(), [blob[i : i + 1] for i in range(len(blob))]) == expected


@pytest.mark.parametrize(
    ("body", "checksum"),
    [
        ("03 04 10 FE", 0xEB),
        ("03 20 10 FE", 0xCF),
        ("07 10 20 FE 07 0A 10 0D", 0x9D),
        ("06 11 20 01 FF FF AC", 0x1E),
        ("06 20 10 06 00 3C 2A", 0x5E),
        ("05 20 11 26 CE 64", 0x72),
        ("04 10 20 F0 47", 0x95),
        ("", 0x00),
        ("80 80", 0x00),
        ("01", 0xFF),
    ],
)
def test_aux_checksum_values(body: str, checksum: int) -> None:
    assert AuxPacket.checksum(h(body)) == checksum


def test_aux_preamble_constant() -> None:
    assert AUX_PREAMBLE == 0x3B
    assert AuxPacket(1, 2, 3).encode()[0] == AUX_PREAMBLE


def test_aux_encode_rejects_oversized_data() -> None:
    with pytest.raises(ValueError):
        AuxPacket(1, 2, 3, bytes(253)).encode()


byte = st.integers(min_value=0, max_value=255)
aux_data = st.binary(max_size=16) | st.lists(
    st.sampled_from([0x3B, 0x03, 0x04, 0x13, 0x00, 0xFF]), max_size=16
).map(bytes)
aux_packet = st.builds(AuxPacket, src=byte, dst=byte, cmd=byte, data=aux_data)


@given(
    pkts=st.lists(aux_packet, max_size=15),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=40),
)
def test_aux_property_round_trip_any_chunking(pkts: list[AuxPacket], cuts: list[int]) -> None:
    blob = b"".join(p.encode() for p in pkts)
    assert feed_all(AuxFramer(), chunks(blob, cuts)) == pkts


garbage_without_preamble = st.binary(min_size=1, max_size=200).map(
    lambda b: b.replace(b"\x3b", b"\x3c")
)


@given(
    garbage=garbage_without_preamble,
    pkts=st.lists(aux_packet, min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=20),
)
def test_aux_property_garbage_prefix_recovered(
    garbage: bytes, pkts: list[AuxPacket], cuts: list[int]
) -> None:
    blob = garbage + b"".join(p.encode() for p in pkts)
    events = feed_all(AuxFramer(), chunks(blob, cuts))
    assert packets(events) == pkts
    errs = errors(events)
    assert errs and all(e.kind == "garbage" for e in errs)
    # chunking may split the run into several reports, but no byte is lost
    # (the run is short enough that nothing gets truncated)
    if len(garbage) <= 64:
        assert b"".join(e.data for e in errs) == garbage


@given(
    garbage=garbage_without_preamble,
    pkts=st.lists(aux_packet, min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=20),
)
def test_aux_property_stray_preamble_before_packets(
    garbage: bytes, pkts: list[AuxPacket], cuts: list[int]
) -> None:
    # A lone 0x3B right before a real frame reads the real preamble as LEN
    # (0x3B is never a legal length), so it can always be recovered from.
    blob = garbage + b"\x3b" + b"".join(p.encode() for p in pkts)
    events = feed_all(AuxFramer(), chunks(blob, cuts))
    assert packets(events) == pkts
    assert errors(events, "bad_length") == [FramingError("bad_length", b"\x3b\x3b")]


def test_aux_garbage_single_run_single_error() -> None:
    events = AuxFramer().feed(b"\x00\x01\x02" + GET_VER + b"\xaa\xbb" + VER_REPLY + b"\xcc")
    assert events == [
        FramingError("garbage", b"\x00\x01\x02"),
        AuxPacket(0x20, 0x10, 0xFE),
        FramingError("garbage", b"\xaa\xbb"),
        AuxPacket(0x10, 0x20, 0xFE, h("07 0A 10 0D")),
        FramingError("garbage", b"\xcc"),
    ]


def test_aux_long_garbage_truncated() -> None:
    events = AuxFramer().feed(b"\x55" * 1000 + GET_VER)
    assert events == [FramingError("garbage", b"\x55" * 64), AuxPacket(0x20, 0x10, 0xFE)]


@pytest.mark.parametrize(
    ("garbage", "expected_errors"),
    [
        # stray preamble with an illegal length
        (b"\x3b", [FramingError("bad_length", b"\x3b\x3b")]),
        (b"\x3b\x00", [FramingError("bad_length", b"\x3b\x00"), FramingError("garbage", b"\x00")]),
        # stray preamble with a plausible length: its candidate swallows the
        # start of the real frame, fails the checksum, and the scan restarts
        # inside it
        (
            b"\x3b\x03",
            [
                FramingError("bad_checksum", h("3B 03 3B 03 20 10")),
                FramingError("garbage", b"\x03"),
            ],
        ),
        (
            b"\x11\x3b\x04\x3b",
            [
                FramingError("garbage", b"\x11"),
                FramingError("bad_checksum", h("3B 04 3B 3B 03 20 10")),
                FramingError("garbage", b"\x04"),
                FramingError("bad_length", b"\x3b\x3b"),
            ],
        ),
    ],
)
def test_aux_garbage_containing_preamble(
    garbage: bytes, expected_errors: list[FramingError]
) -> None:
    blob = garbage + GET_VER + VER_REPLY
    for cut in range(len(blob) + 1):
        events = feed_all(AuxFramer(), chunks(blob, [cut]))
        assert packets(events) == [GET_VER_PACKET, VER_REPLY_PACKET]
        assert [e for e in errors(events) if e.kind != "garbage"] == [
            e for e in expected_errors if e.kind != "garbage"
        ]
    assert errors(AuxFramer().feed(blob)) == expected_errors


def test_aux_data_containing_preamble_and_fake_length() -> None:
    # Each data payload holds 0x3B followed by something that looks like a
    # LEN and even a whole embedded frame.
    pkts = [
        AuxPacket(0x20, 0x10, 0x06, b"\x3b\x03\x20\x10"),
        AuxPacket(0x10, 0x20, 0x3B, b"\x3b"),
        AuxPacket(0x3B, 0x3B, 0x3B, b"\x3b\x3b\x3b"),
        AuxPacket(0x20, 0x11, 0x02, GET_VER),
        AuxPacket(0x20, 0x11, 0x02, b"\x3b\x05"),
    ]
    blob = b"".join(p.encode() for p in pkts)
    assert AuxFramer().feed(blob) == pkts
    for cut in range(len(blob) + 1):
        assert feed_all(AuxFramer(), chunks(blob, [cut])) == pkts


def test_aux_lost_header_finds_frame_embedded_in_data() -> None:
    # If the outer frame's start was lost, the embedded bytes really are a
    # well-formed frame; decoding it is the best the receiver can do.
    outer = AuxPacket(0x20, 0x11, 0x02, GET_VER).encode()
    events = AuxFramer().feed(outer[3:] + VER_REPLY)
    assert packets(events) == [GET_VER_PACKET, VER_REPLY_PACKET]


def test_aux_bad_checksum_then_recovery() -> None:
    corrupted = GET_VER[:-1] + bytes([GET_VER[-1] ^ 0x01])
    blob = corrupted + VER_REPLY
    expected = [
        FramingError("bad_checksum", corrupted),
        FramingError("garbage", corrupted[1:]),
        AuxPacket(0x10, 0x20, 0xFE, h("07 0A 10 0D")),
    ]
    assert AuxFramer().feed(blob) == expected
    for cut in range(len(blob) + 1):
        events = feed_all(AuxFramer(), chunks(blob, [cut]))
        assert packets(events) == [expected[-1]]
        assert errors(events, "bad_checksum") == [expected[0]]


def test_aux_corrupted_data_byte_is_bad_checksum() -> None:
    good = h("3B 06 20 10 06 00 3C 2A 5E")
    bad = good[:5] + b"\x01" + good[6:]
    events = AuxFramer().feed(bad + good)
    assert events[0] == FramingError("bad_checksum", bad)
    assert packets(events) == [AuxPacket(0x20, 0x10, 0x06, h("00 3C 2A"))]


def test_aux_valid_frame_hidden_inside_bad_candidate() -> None:
    blob = h("3B 05") + GET_VER + VER_REPLY
    events = AuxFramer().feed(blob)
    assert events == [
        FramingError("bad_checksum", h("3B 05 3B 03 20 10 FE CF")),
        FramingError("garbage", b"\x05"),
        AuxPacket(0x20, 0x10, 0xFE),
        AuxPacket(0x10, 0x20, 0xFE, h("07 0A 10 0D")),
    ]
    for cut in range(len(blob) + 1):
        assert packets(feed_all(AuxFramer(), chunks(blob, [cut]))) == packets(events)


@pytest.mark.parametrize("length", [0, 1, 2, 20, 0x3B, 0xFF])
def test_aux_bad_length(length: int) -> None:
    blob = bytes([0x3B, length]) + GET_VER
    events = AuxFramer().feed(blob)
    assert events[0] == FramingError("bad_length", bytes([0x3B, length]))
    assert packets(events) == [AuxPacket(0x20, 0x10, 0xFE)]


def test_aux_length_limits_follow_max_data() -> None:
    biggest = AuxPacket(1, 2, 3, bytes(range(16)))
    assert AuxFramer().feed(biggest.encode()) == [biggest]  # LEN 19 is the default maximum

    small = AuxFramer(max_data=4)
    ok = AuxPacket(1, 2, 3, b"\x01\x02\x03\x04")
    too_big = AuxPacket(1, 2, 3, b"\x01\x02\x03\x04\x05")
    assert small.feed(ok.encode()) == [ok]
    events = small.feed(too_big.encode() + GET_VER)
    assert events[0] == FramingError("bad_length", b"\x3b\x08")
    assert packets(events) == [AuxPacket(0x20, 0x10, 0xFE)]


def test_aux_partial_frame_kept_across_feeds() -> None:
    framer = AuxFramer()
    assert framer.feed(VER_REPLY[:1]) == []
    assert framer.feed(VER_REPLY[1:2]) == []
    assert framer.feed(VER_REPLY[2:9]) == []
    assert framer.feed(VER_REPLY[9:] + GET_VER[:3]) == [VER_REPLY_PACKET]
    assert framer.feed(GET_VER[3:]) == [AuxPacket(0x20, 0x10, 0xFE)]
    assert framer.feed(b"") == []


def test_aux_long_stream_small_chunks() -> None:
    # Long enough to exercise buffer compaction with a partial tail pending.
    pkts = [
        AuxPacket(i & 0xFF, 0x10, 0x06, bytes([i & 0xFF, 0x3B, (i >> 8) & 0xFF]))
        for i in range(3000)
    ]
    blob = b"".join(p.encode() for p in pkts)
    framer = AuxFramer()
    got: list = []
    for i in range(0, len(blob), 7):
        got.extend(framer.feed(blob[i : i + 7]))
    assert got == pkts
    big = AuxFramer()
    assert feed_all(big, chunks(blob, [5001, 10007, 20011])) == pkts


def test_aux_reset_drops_partial_input() -> None:
    framer = AuxFramer()
    assert framer.feed(VER_REPLY[:5]) == []
    framer.reset()
    assert framer.feed(GET_VER) == [AuxPacket(0x20, 0x10, 0xFE)]


@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=30))
@settings(max_examples=300)
def test_aux_never_raises_and_is_chunking_invariant(data: bytes, cuts: list[int]) -> None:
    whole = AuxFramer().feed(data)
    split = feed_all(AuxFramer(), chunks(data, cuts))
    for event in whole + split:
        assert isinstance(event, AuxPacket | FramingError)
        if isinstance(event, FramingError):
            assert event.kind in {"garbage", "bad_checksum", "bad_length"}
            assert event.data
    # only how garbage runs are reported may depend on read boundaries
    assert [e for e in whole if not (isinstance(e, FramingError) and e.kind == "garbage")] == [
        e for e in split if not (isinstance(e, FramingError) and e.kind == "garbage")
    ]


# --- echo removal ----------------------------------------------------------


def test_echo_then_reply_in_one_chunk() -> None:
    framer = AuxFramer()
    framer.expect_echo(GET_VER)
    assert framer.feed(GET_VER + VER_REPLY) == [AuxPacket(0x10, 0x20, 0xFE, h("07 0A 10 0D"))]
    assert framer.echoes_removed == 1


def test_echo_then_reply_split_at_every_boundary() -> None:
    blob = GET_VER + VER_REPLY
    for cut_a in range(len(blob) + 1):
        for cut_b in range(cut_a, len(blob) + 1):
            framer = AuxFramer()
            framer.expect_echo(GET_VER)
            events = feed_all(framer, chunks(blob, [cut_a, cut_b]))
            assert events == [AuxPacket(0x10, 0x20, 0xFE, h("07 0A 10 0D"))]
            assert framer.echoes_removed == 1


def test_echo_swallowed_only_once() -> None:
    framer = AuxFramer()
    framer.expect_echo(GET_VER)
    assert framer.feed(GET_VER + GET_VER) == [AuxPacket(0x20, 0x10, 0xFE)]
    assert framer.echoes_removed == 1
    assert framer.feed(GET_VER) == [AuxPacket(0x20, 0x10, 0xFE)]
    assert framer.echoes_removed == 1


def test_reply_before_echo() -> None:
    framer = AuxFramer()
    framer.expect_echo(GET_VER)
    assert framer.feed(VER_REPLY) == [AuxPacket(0x10, 0x20, 0xFE, h("07 0A 10 0D"))]
    assert framer.echoes_removed == 0
    assert framer.feed(GET_VER) == []  # still pending, swallowed on arrival
    assert framer.echoes_removed == 1


def test_reply_before_echo_in_one_chunk() -> None:
    framer = AuxFramer()
    framer.expect_echo(GET_VER)
    assert framer.feed(VER_REPLY + GET_VER) == [AuxPacket(0x10, 0x20, 0xFE, h("07 0A 10 0D"))]
    assert framer.echoes_removed == 1


@pytest.mark.parametrize("field", ["src", "dst", "cmd", "data"])
def test_echo_near_miss_not_swallowed(field: str) -> None:
    request = AuxPacket(0x20, 0x10, 0x06, h("00 3C 2A"))
    changes = {
        "src": {"src": 0x21},
        "dst": {"dst": 0x11},
        "cmd": {"cmd": 0x07},
        "data": {"data": h("00 3C 2B")},
    }[field]
    fields = {"src": request.src, "dst": request.dst, "cmd": request.cmd, "data": request.data}
    near_miss = AuxPacket(**(fields | changes))

    framer = AuxFramer()
    framer.expect_echo(request.encode())
    assert framer.feed(near_miss.encode()) == [near_miss]
    assert framer.echoes_removed == 0
    assert framer.feed(request.encode()) == []  # the real echo is still recognised
    assert framer.echoes_removed == 1


def test_echo_with_different_length_not_swallowed() -> None:
    framer = AuxFramer()
    request = AuxPacket(0x20, 0x10, 0x06, h("00 3C"))
    longer = AuxPacket(0x20, 0x10, 0x06, h("00 3C 00"))
    framer.expect_echo(request.encode())
    assert framer.feed(longer.encode()) == [longer]
    assert framer.echoes_removed == 0


def test_missing_echo_does_not_swallow_other_packets() -> None:
    framer = AuxFramer()
    framer.expect_echo(GET_VER)
    others = [p for _, p in WORKED_EXAMPLES if p.encode() != GET_VER]
    blob = b"".join(p.encode() for p in others)
    assert framer.feed(blob) == others
    assert framer.echoes_removed == 0


def test_expect_echo_replaces_previous() -> None:
    framer = AuxFramer()
    second = AuxPacket(0x20, 0x11, 0xFE)
    framer.expect_echo(GET_VER)
    framer.expect_echo(second.encode())
    assert framer.feed(GET_VER + second.encode()) == [AuxPacket(0x20, 0x10, 0xFE)]
    assert framer.echoes_removed == 1


def test_reset_clears_pending_echo() -> None:
    framer = AuxFramer()
    framer.expect_echo(GET_VER)
    framer.reset()
    assert framer.feed(GET_VER) == [AuxPacket(0x20, 0x10, 0xFE)]
    assert framer.echoes_removed == 0


def test_corrupted_echo_is_not_swallowed_and_echo_stays_pending() -> None:
    framer = AuxFramer()
    framer.expect_echo(GET_VER)
    corrupted = GET_VER[:-1] + b"\x00"
    events = framer.feed(corrupted + VER_REPLY)
    assert errors(events, "bad_checksum") == [FramingError("bad_checksum", corrupted)]
    assert packets(events) == [AuxPacket(0x10, 0x20, 0xFE, h("07 0A 10 0D"))]
    assert framer.echoes_removed == 0
    assert framer.feed(GET_VER) == []
    assert framer.echoes_removed == 1
