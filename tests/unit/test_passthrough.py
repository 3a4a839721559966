"""Hand-controller passthrough ('P' frames): the request encoder, the reply-size table and the sans-I/O reply framer."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indi_astrojolo.link.framing import AuxPacket, FramingError, PassthroughFramer
from indi_astrojolo.nexstar import aux
from indi_astrojolo.nexstar.aux import Command, Device, GpsCommand


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def feed_all(framer: PassthroughFramer, pieces: Iterable[bytes]) -> list[AuxPacket | FramingError]:
    events: list[AuxPacket | FramingError] = []
    for piece in pieces:
        events.extend(framer.feed(piece))
    return events


def split_at(blob: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({0, len(blob), *(c for c in cuts if 0 <= c <= len(blob))})
    return [blob[a:b] for a, b in zip(points, points[1:])]


# --- encode_passthrough --------------------------------------------------------------------------------------------


def test_encode_reference_example_alt_get_version() -> None:
    frame = aux.encode_passthrough(aux.request(Device.ALT, Command.GET_VERSION), 2)
    assert frame == h("50 01 11 FE 00 00 00 02")


def test_encode_three_data_bytes_goto() -> None:
    packet = aux.request(Device.AZM, Command.GOTO_FAST, aux.encode_position(0x400000))
    assert aux.encode_passthrough(packet, 0) == h("50 04 10 02 40 00 00 00")


def test_encode_two_byte_rate_as_in_the_celestron_document() -> None:
    # "P 3 16 6 hi lo 0 0": the 16-bit rate in quarter arcseconds per second (reference §1.4)
    packet = aux.request(Device.AZM, Command.SET_POS_GUIDERATE, (round(15.0 * 4)).to_bytes(2, "big"))
    assert aux.encode_passthrough(packet, 0) == h("50 03 10 06 00 3C 00 00")


def test_encode_ignores_the_source_and_is_always_eight_bytes() -> None:
    packet = AuxPacket(0x0D, Device.GPS, GpsCommand.GET_TIME)
    frame = aux.encode_passthrough(packet, aux.passthrough_response_size(Device.GPS, GpsCommand.GET_TIME))
    assert frame == h("50 01 B0 33 00 00 00 03")
    assert len(frame) == aux.PASSTHROUGH_FRAME_LEN


def test_encode_rejects_more_than_three_data_bytes() -> None:
    with pytest.raises(ValueError):
        aux.encode_passthrough(aux.request(Device.AZM, Command.GOTO_FAST, b"\x01\x02\x03\x04"), 0)


@pytest.mark.parametrize("response_bytes", [-1, 256])
def test_encode_rejects_a_bad_response_size(response_bytes: int) -> None:
    with pytest.raises(ValueError):
        aux.encode_passthrough(aux.request(Device.AZM, Command.GET_POSITION), response_bytes)


def test_constants() -> None:
    assert aux.PASSTHROUGH == ord("P") and aux.HASH == ord("#")


# --- passthrough_response_size -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dst", "cmd", "size"),
    [
        (Device.AZM, Command.GET_POSITION, 3),
        (Device.ALT, Command.GET_POSITION, 3),
        (Device.AZM, Command.GET_CORDWRAP_POS, 3),
        (Device.AZM, Command.GET_VERSION, 4),
        (Device.ALT, Command.GET_VERSION, 4),
        (Device.AZM, Command.GET_MODEL, 2),
        (Device.AZM, Command.SLEW_DONE, 1),
        (Device.AZM, Command.AT_INDEX, 1),
        (Device.ALT, Command.LEVEL_DONE, 1),
        (Device.AZM, Command.POLL_CORDWRAP, 1),
        (Device.ALT, Command.AUX_GUIDE_ACTIVE, 1),
        (Device.AZM, Command.GET_AUTOGUIDE_RATE, 1),
        (Device.ALT, Command.GET_APPROACH, 1),
        (Device.AZM, Command.GET_POS_BACKLASH, 1),
        (Device.AZM, Command.GET_NEG_BACKLASH, 1),
        (Device.GPS, Command.GET_VERSION, 2),
        (Device.GPS, GpsCommand.LINKED, 1),
        (Device.GPS, GpsCommand.TIME_VALID, 1),
        (Device.GPS, GpsCommand.GET_LAT, 3),
        (Device.GPS, GpsCommand.GET_LONG, 3),
        (Device.GPS, GpsCommand.GET_DATE, 2),
        (Device.GPS, GpsCommand.GET_YEAR, 2),
        (Device.GPS, GpsCommand.GET_TIME, 3),
        (Device.HAND_CONTROLLER_PLUS, Command.GET_VERSION, 4),
        (Device.FOCUSER, Command.GET_POSITION, 3),
        (Device.FOCUSER, 0x2C, 8),
    ],
)
def test_response_size_of_queries(dst: int, cmd: int, size: int) -> None:
    assert aux.passthrough_response_size(dst, cmd) == size


@pytest.mark.parametrize(
    "cmd",
    [
        Command.GOTO_FAST, Command.GOTO_SLOW, Command.SET_POSITION, Command.SET_POS_GUIDERATE,
        Command.SET_NEG_GUIDERATE, Command.MOVE_POS, Command.MOVE_NEG, Command.AUX_GUIDE, Command.SEEK_INDEX,
        Command.LEVEL_START, Command.ENABLE_CORDWRAP, Command.DISABLE_CORDWRAP, Command.SET_CORDWRAP_POS,
        Command.SET_POS_BACKLASH, Command.SET_AUTOGUIDE_RATE, Command.SET_APPROACH,
    ],
)  # fmt: skip
def test_set_commands_have_empty_replies(cmd: int) -> None:
    assert aux.passthrough_response_size(Device.AZM, cmd) == 0
    assert aux.passthrough_response_size(Device.ALT, cmd) == 0


def test_gps_command_numbers_are_not_motor_commands() -> None:
    # 0x02 is GOTO_FAST (no reply data) on a motor but GET_LONG (3 bytes) on the GPS
    assert aux.passthrough_response_size(Device.AZM, 0x02) == 0
    assert aux.passthrough_response_size(Device.GPS, 0x02) == 3


# --- PassthroughFramer ---------------------------------------------------------------------------------------------

VERSION_REPLY = AuxPacket(Device.ALT, Device.APP, Command.GET_VERSION, b"\x04\x03")


def test_reference_example_reply() -> None:
    framer = PassthroughFramer()
    framer.expect(Device.ALT, Command.GET_VERSION, 2)
    assert framer.feed(h("04 03 23")) == [VERSION_REPLY]


@pytest.mark.parametrize("cut", range(4))
def test_reference_example_split_anywhere(cut: int) -> None:
    framer = PassthroughFramer()
    framer.expect(Device.ALT, Command.GET_VERSION, 2)
    assert feed_all(framer, split_at(h("04 03 23"), [cut])) == [VERSION_REPLY]


def test_reference_example_byte_by_byte() -> None:
    framer = PassthroughFramer()
    framer.expect(Device.ALT, Command.GET_VERSION, 2)
    assert feed_all(framer, [b"\x04", b"\x03", b""]) == []
    assert framer.feed(b"#") == [VERSION_REPLY]


def test_empty_reply_of_a_set_command() -> None:
    framer = PassthroughFramer()
    framer.expect(Device.AZM, Command.MOVE_POS, 0)
    assert framer.feed(b"#") == [AuxPacket(Device.AZM, Device.APP, Command.MOVE_POS, b"")]


@pytest.mark.parametrize("data", [h("23 00 00"), h("00 23 00"), h("00 00 23"), h("23 23 23")])
def test_hash_inside_the_data_is_data(data: bytes) -> None:
    framer = PassthroughFramer()
    framer.expect(Device.AZM, Command.GET_POSITION, 3)
    for cut in range(len(data) + 2):
        framer.expect(Device.AZM, Command.GET_POSITION, 3)
        events = feed_all(framer, split_at(data + b"#", [cut]))
        assert events == [AuxPacket(Device.AZM, Device.APP, Command.GET_POSITION, data)], cut


def test_hc_version_with_a_hash_minor() -> None:
    # The NexStar+ HC 5.35 answers `V` with 05 23 23: the minor version is '#'
    framer = PassthroughFramer()
    framer.expect(Device.HAND_CONTROLLER_PLUS, ord("V"), 2)
    assert framer.feed(h("05 23 23")) == [AuxPacket(Device.HAND_CONTROLLER_PLUS, Device.APP, ord("V"), b"\x05\x23")]


@pytest.mark.parametrize(("response_bytes", "wire"), [(0, "7F 23"), (2, "11 22 33 23"), (3, "00 00 00 01 23")])
def test_no_answer_garbage_byte(response_bytes: int, wire: str) -> None:
    framer = PassthroughFramer()
    blob = h(wire)
    for cut in range(len(blob) + 1):
        framer.expect(Device.FOCUSER, Command.GET_VERSION, response_bytes)
        events = feed_all(framer, split_at(blob, [cut]))
        # the framer also hands over the bus's own "no such answer" reply, so a waiting request ends at once
        nak = AuxPacket(Device.FOCUSER, 0x20, 0xF0, bytes([Command.GET_VERSION]))
        assert events == [FramingError("no_answer", blob[:-1]), nak], cut


def test_bytes_without_expectation_are_garbage() -> None:
    framer = PassthroughFramer()
    assert framer.feed(h("04 03 23")) == [FramingError("garbage", h("04 03 23"))]
    assert framer.feed(b"") == []


def test_one_reply_per_expectation() -> None:
    framer = PassthroughFramer()
    framer.expect(Device.ALT, Command.GET_VERSION, 2)
    assert framer.feed(h("04 03 23 04 03 23")) == [VERSION_REPLY, FramingError("garbage", h("04 03 23"))]
    framer.expect(Device.ALT, Command.GET_VERSION, 2)
    assert framer.feed(h("04 03 23")) == [VERSION_REPLY]


def test_a_new_expectation_drops_a_partial_reply_and_reports_it() -> None:
    framer = PassthroughFramer()
    framer.expect(Device.AZM, Command.GET_POSITION, 3)
    assert framer.feed(h("12 34")) == []
    framer.expect(Device.ALT, Command.GET_VERSION, 2)
    assert framer.feed(h("04 03 23")) == [FramingError("garbage", h("12 34")), VERSION_REPLY]


def test_runaway_input_is_dropped() -> None:
    framer = PassthroughFramer(max_extra=4)
    framer.expect(Device.AZM, Command.GET_POSITION, 3)
    events = framer.feed(bytes(8))
    assert events == [FramingError("garbage", bytes(8))]
    assert framer.feed(b"#") == [FramingError("garbage", b"#")]  # the expectation went with it


def test_reset_forgets_everything() -> None:
    framer = PassthroughFramer()
    framer.expect(Device.AZM, Command.GET_POSITION, 3)
    framer.feed(h("12"))
    framer.reset()
    assert framer.feed(h("34 56 23")) == [FramingError("garbage", h("34 56 23"))]


def test_expect_validates_the_size() -> None:
    with pytest.raises(ValueError):
        PassthroughFramer().expect(Device.AZM, Command.GET_POSITION, 256)
    with pytest.raises(ValueError):
        PassthroughFramer(max_extra=0)


@given(
    data=st.binary(max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=9), max_size=5),
)
def test_any_reply_survives_any_split(data: bytes, cuts: list[int]) -> None:
    framer = PassthroughFramer()
    framer.expect(Device.AZM, 0x42, len(data))
    events = feed_all(framer, split_at(data + b"#", cuts))
    assert events == [AuxPacket(Device.AZM, Device.APP, 0x42, data)]


@given(
    data=st.binary(max_size=8),
    extra=st.integers(min_value=0, max_value=255).filter(lambda b: b != 0x23),
    cuts=st.lists(st.integers(min_value=0, max_value=10), max_size=5),
)
def test_any_no_answer_survives_any_split(data: bytes, extra: int, cuts: list[int]) -> None:
    framer = PassthroughFramer()
    framer.expect(Device.ALT, 0x01, len(data))
    blob = data + bytes([extra]) + b"#"
    events = feed_all(framer, split_at(blob, cuts))
    assert events == [FramingError("no_answer", blob[:-1]), AuxPacket(Device.ALT, 0x20, 0xF0, b"\x01")]
