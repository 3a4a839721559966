"""Celestron AUX payloads, sans I/O: positions, rates, guide pulses, versions, models, request packets and reply
matching. Expected bytes come from the reference table (nexstar-aux-protocol.md §2) and the units of §5.3."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indi_astrojolo.link.errors import ReplyError, Verdict
from indi_astrojolo.link.framing import AuxFramer, AuxPacket
from indi_astrojolo.nexstar import aux
from indi_astrojolo.nexstar.aux import Command, Device


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text)


# --- constants ----------------------------------------------------------------------------------------------------


def test_units() -> None:
    assert aux.STEPS_PER_TURN == 16_777_216
    assert aux.STEPS_PER_DEGREE == pytest.approx(46603.378, abs=0.001)
    assert 1 / aux.ARCSEC_PER_STEP == pytest.approx(12.945, abs=0.001)
    # 1 step/s in rate units (reference §5.3)
    assert aux.ARCSEC_PER_STEP * aux.RATE_UNITS_PER_ARCSEC == pytest.approx(79.1015625)


# --- positions -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "data"),
    [(0, "000000"), (0x400000, "400000"), (0x037914, "037914"), (-84, "ffffac"), (1 << 24, "000000"), ((1 << 24) + 5, "000005")],
)
def test_encode_position(steps: int, data: str) -> None:
    assert aux.encode_position(steps) == hexbytes(data)


def test_decode_position_unsigned_and_signed() -> None:
    assert aux.decode_position(hexbytes("ffffac")) == 0xFFFFAC
    assert aux.decode_position(hexbytes("ffffac"), signed=True) == -84
    assert aux.decode_position(hexbytes("400000"), signed=True) == 0x400000
    assert aux.decode_position(hexbytes("7fffff"), signed=True) == 0x7FFFFF
    assert aux.decode_position(hexbytes("800000"), signed=True) == -0x800000
    assert aux.decode_position(hexbytes("800000")) == 0x800000


def test_decode_position_two_byte_form_is_the_upper_16_bits() -> None:
    assert aux.decode_position(hexbytes("4000")) == 0x400000
    assert aux.decode_position(hexbytes("1234")) == 0x123400
    assert aux.decode_position(hexbytes("ffff"), signed=True) == -256


@pytest.mark.parametrize("data", ["", "01", "01020304"])
def test_decode_position_rejects_other_lengths(data: str) -> None:
    with pytest.raises(ReplyError):
        aux.decode_position(hexbytes(data))


@given(st.integers(-(1 << 23), (1 << 23) - 1))
def test_position_round_trip_signed(steps: int) -> None:
    assert aux.decode_position(aux.encode_position(steps), signed=True) == steps


@given(st.integers(0, (1 << 24) - 1))
def test_position_round_trip_unsigned(steps: int) -> None:
    assert aux.decode_position(aux.encode_position(steps)) == steps


# --- rates ---------------------------------------------------------------------------------------------------------


def test_encode_sidereal_rate() -> None:
    assert aux.encode_rate(15.0411) == (Command.SET_POS_GUIDERATE, hexbytes("003c2a"))
    assert aux.encode_rate(aux.SIDEREAL_ARCSEC_PER_S) == (0x06, hexbytes("003c2a"))
    assert aux.encode_rate(-aux.SIDEREAL_ARCSEC_PER_S) == (Command.SET_NEG_GUIDERATE, hexbytes("003c2a"))
    assert aux.encode_rate(-15.0411)[0] == 0x07


def test_encode_other_rates() -> None:
    assert aux.encode_rate(0.0) == (0x06, hexbytes("000000"))
    assert aux.encode_rate(15.0) == (0x06, hexbytes("003c00"))  # solar, 15360
    assert aux.encode_rate(7.5) == (0x06, (7680).to_bytes(3, "big"))
    assert aux.encode_rate(-1.0 / 1024) == (0x07, hexbytes("000001"))


def test_encode_rate_range() -> None:
    top = ((1 << 24) - 1) / 1024
    assert aux.encode_rate(top)[1] == hexbytes("ffffff")
    assert top / 3600 == pytest.approx(4.551, abs=0.001)  # °/s full scale
    with pytest.raises(ValueError):
        aux.encode_rate(16384.0)
    with pytest.raises(ValueError):
        aux.encode_rate(-16384.0)


def test_request_packet_for_a_rate_matches_reference() -> None:
    cmd, data = aux.encode_rate(aux.SIDEREAL_ARCSEC_PER_S)
    assert aux.request(Device.AZM, cmd, data).encode() == hexbytes("3B 06 20 10 06 00 3C 2A 5E")


def test_decode_rate_three_bytes() -> None:
    assert aux.decode_rate(hexbytes("003c2a")) == pytest.approx(15402 / 1024)
    assert aux.decode_rate(hexbytes("003c2a")) == pytest.approx(aux.SIDEREAL_ARCSEC_PER_S, abs=1e-4)
    assert aux.decode_rate(hexbytes("000000")) == 0.0
    assert aux.decode_rate(hexbytes("001def")) == pytest.approx(7.48, abs=0.01)  # Andre's alt-az example


def test_decode_rate_two_byte_specials() -> None:
    assert aux.decode_rate(hexbytes("ffff")) == aux.SIDEREAL_ARCSEC_PER_S == pytest.approx(15.041069)
    assert aux.decode_rate(hexbytes("fffe")) == aux.SOLAR_ARCSEC_PER_S == 15.0
    assert aux.decode_rate(hexbytes("fffd")) == aux.LUNAR_ARCSEC_PER_S == pytest.approx(14.685)
    assert aux.decode_rate(hexbytes("003c")) == pytest.approx(15.0)  # plain 2-byte: arcsec/s × 4


@pytest.mark.parametrize("data", ["", "01", "01020304"])
def test_decode_rate_rejects_other_lengths(data: str) -> None:
    with pytest.raises(ReplyError):
        aux.decode_rate(hexbytes(data))


@given(st.floats(min_value=-16383.0, max_value=16383.0, allow_nan=False))
def test_rate_round_trip(rate: float) -> None:
    cmd, data = aux.encode_rate(rate)
    sign = 1 if cmd == Command.SET_POS_GUIDERATE else -1
    assert sign * aux.decode_rate(data) == pytest.approx(rate, abs=0.5 / 1024 + 1e-9)


# --- guide pulses ---------------------------------------------------------------------------------------------------


def test_encode_guide_pulse() -> None:
    assert aux.encode_guide_pulse(50, 1000) == hexbytes("3264")
    assert aux.encode_guide_pulse(-50, 1000) == hexbytes("ce64")
    assert aux.encode_guide_pulse(100, 2550) == hexbytes("64ff")
    assert aux.encode_guide_pulse(-100, 0) == hexbytes("9c00")
    assert aux.encode_guide_pulse(0, 120) == hexbytes("000c")
    assert aux.encode_guide_pulse(25, 234) == bytes([25, 23])  # 10 ms units, rounded


@pytest.mark.parametrize(("percent", "ms"), [(101, 100), (-101, 100), (50, 2551), (50, -1)])
def test_encode_guide_pulse_bounds(percent: int, ms: int) -> None:
    with pytest.raises(ValueError):
        aux.encode_guide_pulse(percent, ms)


def test_guide_pulse_packets_match_reference() -> None:
    assert aux.request(Device.AZM, Command.AUX_GUIDE, aux.encode_guide_pulse(50, 1000)).encode() == hexbytes(
        "3B 05 20 10 26 32 64 0F"
    )
    assert aux.request(Device.ALT, Command.AUX_GUIDE, aux.encode_guide_pulse(-50, 1000)).encode() == hexbytes(
        "3B 05 20 11 26 CE 64 72"
    )


# --- versions and models ---------------------------------------------------------------------------------------------


def test_decode_version() -> None:
    assert str(aux.decode_version(hexbytes("070a100d"))) == "7.10.4109"
    assert aux.decode_version(hexbytes("070a100d")) == aux.Version(7, 10, 4109)
    assert str(aux.decode_version(hexbytes("070f204e"))) == "7.15.8270"
    assert str(aux.decode_version(hexbytes("0514"))) == "5.20"
    assert aux.decode_version(hexbytes("0403")) == aux.Version(4, 3, None)


@pytest.mark.parametrize("data", ["", "07", "070a10", "070a100d00"])
def test_decode_version_rejects_other_lengths(data: str) -> None:
    with pytest.raises(ReplyError):
        aux.decode_version(hexbytes(data))


@pytest.mark.parametrize(
    ("data", "number", "name"),
    [("1687", 22, "Evolution"), ("1485", 20, "AVX"), ("0b83", 11, "NexStar 4/5 SE"), ("1788", 23, "CGX"), ("16", 22, "Evolution")],
)
def test_decode_model(data: str, number: int, name: str) -> None:
    assert aux.decode_model(hexbytes(data)) == (number, name)


def test_decode_model_unknown_and_empty() -> None:
    assert aux.decode_model(hexbytes("6301")) == (99, "unknown model 99")
    with pytest.raises(ReplyError):
        aux.decode_model(b"")


def test_german_equatorial_models() -> None:
    assert 20 in aux.GERMAN_EQUATORIAL_MODELS and 22 not in aux.GERMAN_EQUATORIAL_MODELS


def test_decode_flag() -> None:
    assert aux.decode_flag(b"\xff") is True
    assert aux.decode_flag(b"\x01") is True
    assert aux.decode_flag(b"\x00") is False
    with pytest.raises(ReplyError):
        aux.decode_flag(b"")
    with pytest.raises(ReplyError):
        aux.decode_flag(b"\x00\x00")


# --- request packets ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dst", "cmd", "data", "wire"),
    [
        (Device.AZM, Command.GET_VERSION, "", "3B 03 20 10 FE CF"),
        (Device.AZM, Command.GET_MODEL, "", "3B 03 20 10 05 C8"),
        (Device.ALT, Command.GET_POSITION, "", "3B 03 20 11 01 CB"),
        (Device.AZM, Command.GOTO_FAST, "400000", "3B 06 20 10 02 40 00 00 88"),
        (Device.AZM, Command.GOTO_SLOW, "037914", "3B 06 20 10 17 03 79 14 23"),
        (Device.AZM, Command.SET_POS_GUIDERATE, "003c2a", "3B 06 20 10 06 00 3C 2A 5E"),
        (Device.AZM, Command.SET_POS_GUIDERATE, "ffff", "3B 05 20 10 06 FF FF C7"),
        (Device.ALT, Command.MOVE_POS, "09", "3B 04 20 11 24 09 9E"),
        (Device.AZM, Command.MOVE_POS, "00", "3B 04 20 10 24 00 A8"),
        (Device.AZM, Command.SLEW_DONE, "", "3B 03 20 10 13 BA"),
        (Device.AZM, Command.AUX_GUIDE, "3264", "3B 05 20 10 26 32 64 0F"),
        (Device.ALT, Command.AUX_GUIDE, "ce64", "3B 05 20 11 26 CE 64 72"),
        (Device.AZM, Command.SET_CORDWRAP_POS, "7fffff", "3B 06 20 10 3A 7F FF FF 13"),
    ],
)
def test_request_packets_match_reference(dst: int, cmd: int, data: str, wire: str) -> None:
    packet = aux.request(dst, cmd, hexbytes(data))
    assert packet == AuxPacket(Device.APP, dst, cmd, hexbytes(data))
    assert packet.encode() == hexbytes(wire)


def test_request_with_encoders() -> None:
    goto = aux.request(Device.AZM, Command.GOTO_FAST, aux.encode_position(round(90 * aux.STEPS_PER_DEGREE)))
    assert goto.encode() == hexbytes("3B 06 20 10 02 40 00 00 88")


def test_request_other_source() -> None:
    assert aux.request(Device.AZM, Command.GET_VERSION, src=Device.HAND_CONTROLLER).encode() == hexbytes("3B 03 04 10 FE EB")


def test_reference_replies_decode() -> None:
    framer = AuxFramer()
    wire = hexbytes("3B 07 10 20 FE 07 0A 10 0D 9D") + hexbytes("3B 05 10 20 05 16 87 29")
    wire += hexbytes("3B 06 11 20 01 FF FF AC 1E") + hexbytes("3B 04 10 20 13 FF BA")
    version, model, position, done = framer.feed(wire)
    assert str(aux.decode_version(version.data)) == "7.10.4109"
    assert aux.decode_model(model.data) == (22, "Evolution")
    assert aux.decode_position(position.data, signed=True) == -84
    assert aux.decode_flag(done.data) is True


# --- reply matching --------------------------------------------------------------------------------------------------


class TestReplyMatcher:
    def test_accepts_swapped_source_and_destination_with_same_command(self) -> None:
        sent = aux.request(Device.AZM, Command.GET_VERSION)
        match = aux.reply_matcher(sent)
        assert match(AuxPacket(Device.AZM, Device.APP, Command.GET_VERSION, hexbytes("070a100d"))) is Verdict.ACCEPT
        # an ACK is a reply with no data
        goto = aux.request(Device.ALT, Command.MOVE_POS, b"\x09")
        assert aux.reply_matcher(goto)(AuxPacket(Device.ALT, Device.APP, Command.MOVE_POS)) is Verdict.ACCEPT

    def test_ignores_the_echo(self) -> None:
        sent = aux.request(Device.AZM, Command.GET_POSITION)
        assert aux.reply_matcher(sent)(sent) is Verdict.IGNORE

    def test_ignores_other_devices_and_other_commands(self) -> None:
        sent = aux.request(Device.AZM, Command.GET_POSITION)
        match = aux.reply_matcher(sent)
        assert match(AuxPacket(Device.ALT, Device.APP, Command.GET_POSITION, hexbytes("000000"))) is Verdict.IGNORE
        assert match(AuxPacket(Device.AZM, Device.HAND_CONTROLLER, Command.GET_POSITION, hexbytes("000000"))) is Verdict.IGNORE
        assert match(AuxPacket(Device.AZM, Device.APP, Command.SLEW_DONE, b"\xff")) is Verdict.IGNORE
        assert match(AuxPacket(Device.GPS, Device.HAND_CONTROLLER_PLUS, 0x37, b"\x01")) is Verdict.IGNORE
        assert match(AuxPacket(Device.AZM, Device.APP, Command.SEND_WARNING, b"\x01")) is Verdict.IGNORE

    def test_rejects_the_not_supported_nak(self) -> None:
        sent = aux.request(Device.AZM, Command.GET_AUTOGUIDE_RATE)
        nak = AuxFramer().feed(hexbytes("3B 04 10 20 F0 47 95"))
        assert nak == [AuxPacket(0x10, 0x20, 0xF0, b"\x47")]
        assert aux.reply_matcher(sent)(nak[0]) is Verdict.REJECT

    def test_nak_for_another_command_or_from_elsewhere_is_ignored(self) -> None:
        sent = aux.request(Device.AZM, Command.GET_AUTOGUIDE_RATE)
        match = aux.reply_matcher(sent)
        assert match(AuxPacket(Device.AZM, Device.APP, aux.NOT_SUPPORTED, bytes([Command.AUX_GUIDE]))) is Verdict.IGNORE
        assert match(AuxPacket(Device.ALT, Device.APP, aux.NOT_SUPPORTED, bytes([Command.GET_AUTOGUIDE_RATE]))) is Verdict.IGNORE
        assert match(AuxPacket(Device.AZM, Device.APP, aux.NOT_SUPPORTED, b"")) is Verdict.IGNORE


def test_render() -> None:
    assert aux.render(hexbytes("3b03")) == "3b 03"
