"""The emulated NexStar mount: echo and replies, absent devices, slew/track/goto physics, cord wrap, guide pulses,
homing, GPS, ALT hard stops, NAKs, faults, hand-controller passthrough, serving on a byte stream (on trio's fake
clock), and the focuser (0x12): goto, moves, hard stops, calibration."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from indi_astrojolo.link.errors import Verdict
from indi_astrojolo.link.framing import AuxFramer, AuxPacket, FramingError, PassthroughFramer
from indi_astrojolo.nexstar import aux
from indi_astrojolo.nexstar.aux import Command, Device, FocuserCommand
from indi_astrojolo.nexstar.emulated_focuser import FocuserConfig
from indi_astrojolo.nexstar.emulator import (
    DEFAULT_MOVE_RATES,
    MEASURED_SLOWER_MOVE_RATES,
    SECOND_MASTER_RATE_ARCSEC_PER_S,
    HandControllerRequests,
    MountConfig,
    NexStarEmulator,
    serve,
)

DEG = aux.STEPS_PER_DEGREE
SIDEREAL_STEPS = aux.SIDEREAL_ARCSEC_PER_S / aux.ARCSEC_PER_STEP


def ask(emu: NexStarEmulator, dst: int, cmd: int, data: bytes = b"", now: float | None = None) -> list[AuxPacket]:
    return emu.handle(aux.request(dst, cmd, data), emu.time if now is None else now)


def reply(emu: NexStarEmulator, dst: int, cmd: int, data: bytes = b"", now: float | None = None) -> AuxPacket:
    out = ask(emu, dst, cmd, data, now)
    assert len(out) == 2, out
    return out[1]


def position(emu: NexStarEmulator, dst: int = Device.AZM) -> int:
    return aux.decode_position(reply(emu, dst, Command.GET_POSITION).data)


def slew_done(emu: NexStarEmulator, dst: int = Device.AZM) -> bytes:
    return reply(emu, dst, Command.SLEW_DONE).data


def goto(emu: NexStarEmulator, degrees: float, dst: int = Device.AZM, cmd: int = Command.GOTO_FAST) -> int:
    target = round(degrees * DEG) % aux.STEPS_PER_TURN
    assert reply(emu, dst, cmd, aux.encode_position(target)) == AuxPacket(dst, Device.APP, cmd)
    return target


def place(emu: NexStarEmulator, degrees: float, dst: int = Device.AZM) -> None:
    reply(emu, dst, Command.SET_POSITION, aux.encode_position(round(degrees * DEG)))


def sample(emu: NexStarEmulator, duration: float, dt: float = 0.05, dst: int = Device.AZM) -> list[tuple[float, float]]:
    """Advance `duration` seconds; return (time, true angle in degrees) after each small step."""
    out = []
    end = emu.time + duration
    t = emu.time
    while t < end - 1e-9:
        t = min(end, t + dt)
        emu.advance(t)
        out.append((t, emu.axis_degrees(dst)))
    return out


# --- echo, replies, absent devices -----------------------------------------------------------------------------


def test_echo_first_then_reply() -> None:
    emu = NexStarEmulator()
    request = aux.request(Device.AZM, Command.GET_VERSION)
    out = emu.handle(request, 0.0)
    assert len(out) == 2
    assert out[0] is request
    assert out[1] == AuxPacket(Device.AZM, Device.APP, Command.GET_VERSION, bytes([7, 10, 0x10, 0x0D]))
    assert out[1].encode() == bytes.fromhex("3B 07 10 20 FE 07 0A 10 0D 9D")
    assert aux.reply_matcher(request)(out[0]) is Verdict.IGNORE
    assert aux.reply_matcher(request)(out[1]) is Verdict.ACCEPT
    assert emu.received == [request]


def test_version_and_model() -> None:
    emu = NexStarEmulator()
    for dst in (Device.AZM, Device.ALT):
        assert str(aux.decode_version(reply(emu, dst, Command.GET_VERSION).data)) == "7.10.4109"
    model = reply(emu, Device.AZM, Command.GET_MODEL)
    assert model.encode() == bytes.fromhex("3B 05 10 20 05 16 87 29")
    assert aux.decode_model(model.data) == (22, "Evolution")
    avx = NexStarEmulator(MountConfig(model=bytes([20, 0x85]), version=bytes([7, 15, 0x20, 0x4E])))
    assert aux.decode_model(reply(avx, Device.ALT, Command.GET_MODEL).data) == (20, "AVX")
    assert str(aux.decode_version(reply(avx, Device.AZM, Command.GET_VERSION).data)) == "7.15.8270"


@pytest.mark.parametrize("dst", [Device.MAIN_BOARD, Device.FOCUSER, Device.GPS, Device.HAND_CONTROLLER, Device.LIGHTS])
def test_absent_devices_give_the_echo_only(dst: int) -> None:
    emu = NexStarEmulator()
    request = aux.request(dst, Command.GET_VERSION)
    assert emu.handle(request, 0.0) == [request]


def test_other_devices_answer_their_version_only() -> None:
    emu = NexStarEmulator()
    assert reply(emu, Device.HAND_CONTROLLER_PLUS, Command.GET_VERSION).data == bytes([5, 35, 0x0C, 0x69])
    assert reply(emu, Device.WIFI_EVOLUTION, Command.GET_VERSION).data == bytes([1, 2])
    assert len(ask(emu, Device.HAND_CONTROLLER_PLUS, Command.GET_POSITION)) == 1


def test_gps_when_present() -> None:
    emu = NexStarEmulator(MountConfig(gps=True))
    assert reply(emu, Device.GPS, Command.GET_VERSION).data == bytes([1, 0])
    assert reply(emu, Device.GPS, aux.GpsCommand.LINKED).data == b"\x01"
    latitude = aux.decode_position(reply(emu, Device.GPS, aux.GpsCommand.GET_LAT).data, signed=True)
    assert latitude / DEG == pytest.approx(50.0, abs=1e-4)


def test_no_echo_config() -> None:
    emu = NexStarEmulator(MountConfig(echo=False))
    out = ask(emu, Device.AZM, Command.GET_POSITION)
    assert out == [AuxPacket(Device.AZM, Device.APP, Command.GET_POSITION, b"\x00\x00\x00")]


# --- fixed-rate moves -------------------------------------------------------------------------------------------


def test_move_rate_9_reaches_2_8_degrees_per_second() -> None:
    emu = NexStarEmulator()
    assert reply(emu, Device.ALT, Command.MOVE_POS, b"\x09") == AuxPacket(Device.ALT, Device.APP, Command.MOVE_POS)
    emu.advance(1.0)  # 2.8 °/s at 4 °/s² is reached after 0.7 s
    start = emu.axis_degrees(Device.ALT)
    emu.advance(3.0)
    assert (emu.axis_degrees(Device.ALT) - start) / 2.0 == pytest.approx(2.8, rel=1e-3)
    # the first second covered the ramp: 0.7 s at mean 1.4 °/s, then 0.3 s at 2.8 °/s
    assert start == pytest.approx(0.5 * 2.8 * 0.7 + 2.8 * 0.3, rel=0.02)


def test_move_negative_and_signed_alt_position() -> None:
    emu = NexStarEmulator()
    reply(emu, Device.ALT, Command.MOVE_NEG, b"\x01")  # 2× sidereal
    emu.advance(10.0)
    steps = aux.decode_position(reply(emu, Device.ALT, Command.GET_POSITION).data, signed=True)
    assert steps == pytest.approx(-2 * SIDEREAL_STEPS * 10.0, rel=0.01)
    assert position(emu, Device.ALT) == aux.STEPS_PER_TURN + steps  # below zero reads as 0xFFxxxx unsigned


def test_move_zero_stops() -> None:
    emu = NexStarEmulator()
    reply(emu, Device.AZM, Command.MOVE_POS, b"\x09")
    emu.advance(2.0)
    reply(emu, Device.AZM, Command.MOVE_POS, b"\x00")
    emu.advance(3.0)  # decelerating takes 0.7 s
    axis = emu.axes[Device.AZM]
    assert axis.velocity == 0.0 and axis.rate == 0.0
    stopped = position(emu)
    emu.advance(10.0)
    assert position(emu) == stopped


@pytest.mark.parametrize(
    "rates, multiple", [(DEFAULT_MOVE_RATES, 16), (MEASURED_SLOWER_MOVE_RATES, 8)], ids=["manual-table", "slower"]
)
def test_move_rates_follow_the_table(rates, multiple) -> None:
    emu = NexStarEmulator(MountConfig(move_rates_deg_per_s=rates))
    reply(emu, Device.AZM, Command.MOVE_POS, b"\x04")  # 16× sidereal on the manual's table, 8× measured on an AVX
    emu.advance(1.0)
    start = emu.axes[Device.AZM].moved_steps
    emu.advance(11.0)
    assert (emu.axes[Device.AZM].moved_steps - start) / 10.0 == pytest.approx(multiple * SIDEREAL_STEPS, rel=1e-3)


def test_move_rate_above_9_is_ignored() -> None:
    emu = NexStarEmulator()
    assert len(ask(emu, Device.AZM, Command.MOVE_POS, b"\x0a")) == 1
    assert emu.axes[Device.AZM].rate == 0.0


# --- tracking rates ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [bytes.fromhex("003c2a"), bytes.fromhex("ffff")])
def test_sidereal_tracking_rate(data: bytes) -> None:
    emu = NexStarEmulator()
    assert reply(emu, Device.AZM, Command.SET_POS_GUIDERATE, data).data == b""
    emu.advance(100.0)
    arcsec_per_s = emu.axes[Device.AZM].moved_steps * aux.ARCSEC_PER_STEP / 100.0
    assert arcsec_per_s == pytest.approx(15.041, rel=1e-3)
    assert position(emu) == pytest.approx(100.0 * SIDEREAL_STEPS, abs=2)


def test_negative_tracking_rate() -> None:
    emu = NexStarEmulator()
    cmd, data = aux.encode_rate(-aux.SIDEREAL_ARCSEC_PER_S * 2)
    reply(emu, Device.ALT, cmd, data)
    emu.advance(50.0)
    moved = emu.axes[Device.ALT].moved_steps * aux.ARCSEC_PER_STEP
    assert moved == pytest.approx(-2 * 15.041 * 50.0, rel=1e-3)


def test_zero_rate_stops_tracking() -> None:
    emu = NexStarEmulator()
    reply(emu, Device.AZM, Command.SET_POS_GUIDERATE, bytes.fromhex("ffff"))
    emu.advance(5.0)
    reply(emu, Device.AZM, Command.SET_POS_GUIDERATE, bytes.fromhex("000000"))
    emu.advance(6.0)
    stopped = position(emu)
    emu.advance(20.0)
    assert position(emu) == stopped


def test_set_position_keeps_the_rate() -> None:
    emu = NexStarEmulator()
    reply(emu, Device.AZM, Command.SET_POS_GUIDERATE, bytes.fromhex("ffff"))
    emu.advance(1.0)
    reply(emu, Device.AZM, Command.SET_POSITION, aux.encode_position(1000))
    assert position(emu) == 1000
    emu.advance(11.0)
    assert position(emu) == pytest.approx(1000 + 10 * SIDEREAL_STEPS, abs=2)


# --- gotos -------------------------------------------------------------------------------------------------------


def test_goto_fast_to_90_degrees() -> None:
    emu = NexStarEmulator()
    target = goto(emu, 90.0)
    assert target == 0x400000
    samples = []
    arrival = None
    t = 0.0
    while t < 40.0:
        t += 0.05
        emu.advance(t)
        samples.append(emu.axis_degrees(Device.AZM))
        done = slew_done(emu)
        if arrival is None and done == b"\xff":
            arrival = t
        elif arrival is None:
            assert done == b"\x00"
    assert arrival is not None
    assert arrival == pytest.approx(90.0 / 2.8 + 2.8 / 4.0, rel=0.02)  # cruise plus the ramps
    assert all(b >= a for a, b in zip(samples, samples[1:])), "moves one way"
    assert max(samples) <= 90.0 + 1 / DEG, "never overshoots the target"
    assert abs(position(emu) - target) <= 1
    axis = emu.axes[Device.AZM]
    assert axis.rate == 0.0 and axis.velocity == 0.0
    emu.advance(60.0)
    assert abs(position(emu) - target) <= 1  # tracking is not restored after a goto


def test_goto_from_tracking_ends_stopped() -> None:
    emu = NexStarEmulator()
    reply(emu, Device.ALT, Command.SET_POS_GUIDERATE, bytes.fromhex("003c2a"))
    emu.advance(2.0)
    target = goto(emu, 10.0, Device.ALT)
    emu.advance(10.0)
    assert slew_done(emu, Device.ALT) == b"\xff"
    assert position(emu, Device.ALT) == target
    emu.advance(20.0)
    assert position(emu, Device.ALT) == target


def test_quirk_a_goto_that_keeps_the_rate_drifts_after_it() -> None:
    emu = NexStarEmulator(MountConfig(goto_keeps_rate=True))
    reply(emu, Device.ALT, Command.SET_POS_GUIDERATE, bytes.fromhex("003c2a"))  # sidereal
    emu.advance(2.0)
    goto(emu, 10.0, Device.ALT)
    emu.advance(10.0)
    assert slew_done(emu, Device.ALT) == b"\xff"
    arrived = emu.axes[Device.ALT].moved_steps
    emu.advance(20.0)
    assert emu.axes[Device.ALT].moved_steps - arrived == pytest.approx(SIDEREAL_STEPS * 10.0, rel=0.02)


def test_quirk_a_hunting_goto_never_settles_and_keeps_moving() -> None:
    emu = NexStarEmulator(MountConfig(goto_hunting_steps=40))
    target = goto(emu, 5.0)
    readings = set()
    for second in range(10, 20):
        emu.advance(float(second))
        assert slew_done(emu) == b"\x00"
        readings.add(position(emu))
        assert abs(position(emu) - target) <= 40
    assert len(readings) > 1  # it swings to either side
    reply(emu, Device.AZM, Command.MOVE_POS, b"\x00")  # a stop ends it
    assert slew_done(emu) == b"\xff"


def test_quirk_a_slow_stop_deceleration_makes_a_stop_coast() -> None:
    emu = NexStarEmulator(MountConfig(stop_deceleration_deg_per_s2=0.5))
    reply(emu, Device.AZM, Command.MOVE_POS, b"\x09")
    emu.advance(2.0)  # at full speed (2.8 °/s) after 0.7 s
    reply(emu, Device.AZM, Command.MOVE_POS, b"\x00")
    before = emu.axis_degrees(Device.AZM)
    emu.advance(5.0)
    assert emu.axes[Device.AZM].velocity > 0  # still coasting 3 s later
    emu.advance(10.0)
    assert emu.axes[Device.AZM].velocity == 0.0
    assert emu.axis_degrees(Device.AZM) - before == pytest.approx(2.8**2 / (2 * 0.5), rel=0.02)


def test_goto_slow_is_slower() -> None:
    fast, slow = NexStarEmulator(), NexStarEmulator()
    goto(fast, 10.0, cmd=Command.GOTO_FAST)
    target = goto(slow, 10.0, cmd=Command.GOTO_SLOW)
    fast.advance(6.0)
    slow.advance(6.0)
    assert slew_done(fast) == b"\xff"
    assert slew_done(slow) == b"\x00"
    assert slow.axis_degrees(Device.AZM) == pytest.approx(0.5 * 6.0 - 0.5 * 0.5 / 4.0 / 2, abs=0.05)
    slow.advance(21.0)  # 10 / 0.5 s plus the ramps
    assert slew_done(slow) == b"\xff"
    assert position(slow) == target


def test_goto_two_byte_target() -> None:
    emu = NexStarEmulator()
    reply(emu, Device.AZM, Command.GOTO_FAST, bytes.fromhex("2000"))
    emu.advance(30.0)
    assert position(emu) == 0x200000


@pytest.mark.parametrize(("start", "end", "travel"), [(0.0, 350.0, -10.0), (350.0, 10.0, 20.0), (10.0, 340.0, -30.0), (100.0, 250.0, 150.0)])
def test_goto_takes_the_shortest_path(start: float, end: float, travel: float) -> None:
    emu = NexStarEmulator()
    place(emu, start)
    before = emu.axes[Device.AZM].moved_steps
    target = goto(emu, end)
    emu.advance(emu.time + abs(travel) / 2.8 + 2.0)
    assert slew_done(emu) == b"\xff"
    assert position(emu) == target
    assert (emu.axes[Device.AZM].moved_steps - before) / DEG == pytest.approx(travel, abs=0.01)


def test_cord_wrap_makes_the_goto_go_the_long_way() -> None:
    emu = NexStarEmulator()
    place(emu, 170.0)
    assert reply(emu, Device.AZM, Command.ENABLE_CORDWRAP).data == b""
    reply(emu, Device.AZM, Command.SET_CORDWRAP_POS, aux.encode_position(0x800000))  # 180°
    assert reply(emu, Device.AZM, Command.POLL_CORDWRAP).data == b"\xff"
    assert aux.decode_position(reply(emu, Device.AZM, Command.GET_CORDWRAP_POS).data) == 0x800000
    target = goto(emu, 190.0)
    before = emu.axes[Device.AZM].moved_steps
    samples = sample(emu, 340.0 / 2.8 + 3.0, dt=0.05)
    angles = [170.0] + [a for _, a in samples]
    # Offset from the cord-wrap position in (-180, 180]: the long way runs -10 → -180 ≡ +180 → +10, so the axis never
    # comes nearer than 10° to 180°; the short way would pass through offset 0. Samples are ≤ 0.14° apart.
    offsets = [(a - 180.0 + 180.0) % 360.0 - 180.0 for a in angles]
    assert min(abs(o) for o in offsets) == pytest.approx(10.0, abs=1e-6)
    assert all(abs(b - a) < 0.2 or abs(b - a) > 359.0 for a, b in zip(offsets, offsets[1:]))
    assert (emu.axes[Device.AZM].moved_steps - before) / DEG == pytest.approx(-340.0, abs=0.01)
    assert slew_done(emu) == b"\xff"
    assert position(emu) == target


def test_without_cord_wrap_the_same_goto_is_short() -> None:
    emu = NexStarEmulator()
    place(emu, 170.0)
    reply(emu, Device.AZM, Command.SET_CORDWRAP_POS, aux.encode_position(0x800000))
    reply(emu, Device.AZM, Command.DISABLE_CORDWRAP)
    assert reply(emu, Device.AZM, Command.POLL_CORDWRAP).data == b"\x00"
    target = goto(emu, 190.0)
    emu.advance(emu.time + 10.0)
    assert position(emu) == target
    assert emu.axes[Device.AZM].moved_steps / DEG == pytest.approx(20.0, abs=0.01)


def test_move_command_cancels_a_goto() -> None:
    emu = NexStarEmulator()
    goto(emu, 90.0)
    emu.advance(5.0)
    reply(emu, Device.AZM, Command.MOVE_POS, b"\x00")
    assert slew_done(emu) == b"\xff"
    emu.advance(7.0)
    assert emu.axis_degrees(Device.AZM) < 20.0
    assert emu.axes[Device.AZM].velocity == 0.0


# --- guide pulses -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("percent", "factor"), [(50, 1.5), (-50, 0.5), (100, 2.0)])
def test_aux_guide_superimposes_on_tracking(percent: int, factor: float) -> None:
    emu = NexStarEmulator()
    reply(emu, Device.AZM, Command.SET_POS_GUIDERATE, bytes.fromhex("003c2a"))
    emu.advance(1.0)
    axis = emu.axes[Device.AZM]
    start = axis.moved_steps
    ack = reply(emu, Device.AZM, Command.AUX_GUIDE, aux.encode_guide_pulse(percent, 1000))
    assert ack == AuxPacket(Device.AZM, Device.APP, Command.AUX_GUIDE)
    emu.advance(1.5)
    assert reply(emu, Device.AZM, Command.AUX_GUIDE_ACTIVE).data == b"\x01"
    emu.advance(2.0)
    during = axis.moved_steps - start
    assert during == pytest.approx(factor * SIDEREAL_STEPS * 1.0, rel=0.02)
    emu.advance(2.5)
    assert reply(emu, Device.AZM, Command.AUX_GUIDE_ACTIVE).data == b"\x00"
    start = axis.moved_steps
    emu.advance(12.5)
    assert (axis.moved_steps - start) / 10.0 == pytest.approx(SIDEREAL_STEPS, rel=1e-3)  # back to plain tracking


def test_aux_guide_duration() -> None:
    emu = NexStarEmulator()
    reply(emu, Device.ALT, Command.AUX_GUIDE, aux.encode_guide_pulse(-100, 2550))
    emu.advance(2.5)
    assert reply(emu, Device.ALT, Command.AUX_GUIDE_ACTIVE).data == b"\x01"
    emu.advance(2.6)
    assert reply(emu, Device.ALT, Command.AUX_GUIDE_ACTIVE).data == b"\x00"
    moved = emu.axes[Device.ALT].moved_steps
    assert moved == pytest.approx(-SIDEREAL_STEPS * 2.55, rel=0.01)


def test_aux_guide_unsupported_firmware_naks() -> None:
    emu = NexStarEmulator(MountConfig(aux_guide_supported=False))
    request = aux.request(Device.AZM, Command.AUX_GUIDE, aux.encode_guide_pulse(50, 1000))
    out = emu.handle(request, 0.0)
    assert out[1] == AuxPacket(Device.AZM, Device.APP, aux.NOT_SUPPORTED, bytes([Command.AUX_GUIDE]))
    assert aux.reply_matcher(request)(out[1]) is Verdict.REJECT
    emu.advance(2.0)
    assert emu.axes[Device.AZM].moved_steps == 0.0


def test_aux_guide_silent_firmware_gives_the_echo_only_and_no_pulse() -> None:
    emu = NexStarEmulator(MountConfig(aux_guide_silent=True))
    request = aux.request(Device.ALT, Command.AUX_GUIDE, aux.encode_guide_pulse(50, 100))
    assert emu.handle(request, 0.0) == [request]
    emu.advance(2.0)
    assert emu.axes[Device.ALT].moved_steps == 0.0
    assert len(ask(emu, Device.ALT, Command.GET_POSITION)) == 2  # everything else is answered


# --- other commands, NAKs and faults -------------------------------------------------------------------------------


def test_stored_settings_report_back() -> None:
    emu = NexStarEmulator()
    reply(emu, Device.AZM, Command.SET_POS_BACKLASH, b"\x20")
    reply(emu, Device.AZM, Command.SET_NEG_BACKLASH, b"\xc8")
    assert reply(emu, Device.AZM, Command.GET_POS_BACKLASH).data == b"\x20"
    assert reply(emu, Device.AZM, Command.GET_NEG_BACKLASH).data == bytes([99])  # capped at 99
    reply(emu, Device.ALT, Command.SET_APPROACH, b"\x01")
    assert reply(emu, Device.ALT, Command.GET_APPROACH).data == b"\x01"
    assert reply(emu, Device.AZM, Command.GET_APPROACH).data == b"\x00"
    reply(emu, Device.AZM, Command.SET_AUTOGUIDE_RATE, b"\xf0")
    assert reply(emu, Device.AZM, Command.GET_AUTOGUIDE_RATE).data == b"\xf0"


@pytest.mark.parametrize("cmd", [0x99, Command.GET_MAXRATE, Command.SEEK_INDEX])
def test_unknown_command_naks(cmd: int) -> None:
    emu = NexStarEmulator()
    request = aux.request(Device.ALT, cmd)
    out = emu.handle(request, 0.0)
    assert out == [request, AuxPacket(Device.ALT, Device.APP, 0xF0, bytes([cmd]))]
    assert aux.reply_matcher(request)(out[1]) is Verdict.REJECT


def test_unknown_command_silent_when_configured() -> None:
    emu = NexStarEmulator(MountConfig(unsupported_reply=False))
    request = aux.request(Device.AZM, 0x99)
    assert emu.handle(request, 0.0) == [request]


def test_fault_silent_gives_echo_only() -> None:
    emu = NexStarEmulator()
    emu.faults.silent = True
    request = aux.request(Device.AZM, Command.GET_POSITION)
    assert emu.handle(request, 0.0) == [request]
    reply_ = aux.request(Device.AZM, Command.MOVE_POS, b"\x09")
    assert emu.handle(reply_, 0.0) == [reply_]


def test_fault_no_echo_and_drop_replies() -> None:
    emu = NexStarEmulator()
    emu.faults.no_echo = True
    out = ask(emu, Device.AZM, Command.GET_POSITION)
    assert [p.src for p in out] == [Device.AZM]
    emu.faults.no_echo = False
    emu.faults.drop_replies = 1
    assert len(ask(emu, Device.AZM, Command.GET_POSITION)) == 1
    assert len(ask(emu, Device.AZM, Command.GET_POSITION)) == 2
    assert emu.faults.drop_replies == 0


# --- serving on a stream ----------------------------------------------------------------------------------------


class Client:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.framer = AuxFramer()
        self.packets: list[AuxPacket] = []
        self.errors: list[FramingError] = []
        self.chunks: list[bytes] = []

    async def ask(self, request: AuxPacket, timeout: float = 1.0) -> AuxPacket | None:
        frame = request.encode()
        self.framer.expect_echo(frame)
        await self.stream.send_all(frame)
        match = aux.reply_matcher(request)
        with trio.move_on_after(timeout):
            while True:
                data = await self.stream.receive_some(1024)
                self.chunks.append(data)
                for event in self.framer.feed(data):
                    if isinstance(event, FramingError):
                        self.errors.append(event)
                        continue
                    self.packets.append(event)
                    if match(event) is Verdict.ACCEPT:
                        return event
        return None


async def test_serve_get_position_round_trip(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(now=trio.current_time())
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        client = Client(client_side)
        answer = await client.ask(aux.request(Device.ALT, Command.GET_POSITION))
        assert answer == AuxPacket(Device.ALT, Device.APP, Command.GET_POSITION, b"\x00\x00\x00")
        assert client.framer.echoes_removed == 1
        assert client.errors == [] and client.packets == [answer]
        # time on the fake clock drives the physics
        assert await client.ask(aux.request(Device.AZM, Command.MOVE_POS, b"\x09")) is not None
        await trio.sleep(10.0)
        moved = await client.ask(aux.request(Device.AZM, Command.GET_POSITION))
        assert aux.decode_position(moved.data) / DEG == pytest.approx(2.8 * 10.0 - 2.8 * 0.7 / 2, abs=0.1)
        await client_side.aclose()


async def test_serve_split_replies(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(now=trio.current_time())
    emu.faults.split_replies = True
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        client = Client(client_side)
        answer = await client.ask(aux.request(Device.AZM, Command.GET_VERSION))
        assert answer is not None and str(aux.decode_version(answer.data)) == "7.10.4109"
        assert max(len(chunk) for chunk in client.chunks) <= 2
        assert client.framer.echoes_removed == 1
        assert client.errors == []
        await client_side.aclose()


async def test_serve_bad_checksum(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(now=trio.current_time())
    emu.faults.bad_checksum = True
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        client = Client(client_side)
        assert await client.ask(aux.request(Device.AZM, Command.GET_POSITION)) is None
        assert client.framer.echoes_removed == 1  # the echo is intact
        assert client.packets == []
        assert any(error.kind == "bad_checksum" for error in client.errors)
        emu.faults.bad_checksum = False
        assert await client.ask(aux.request(Device.AZM, Command.GET_POSITION)) is not None
        await client_side.aclose()


async def test_serve_foreign_traffic_and_garbage_are_filtered(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(now=trio.current_time())
    emu.faults.foreign_traffic = True
    emu.faults.garbage = True
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        client = Client(client_side)
        answer = await client.ask(aux.request(Device.AZM, Command.GET_MODEL))
        assert answer is not None and aux.decode_model(answer.data)[0] == 22
        assert any(p.dst == Device.GPS for p in client.packets)  # someone else's packet came too
        await client_side.aclose()


async def test_serve_silent_mount_still_echoes(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(now=trio.current_time())
    emu.faults.silent = True
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        client = Client(client_side)
        start = trio.current_time()
        assert await client.ask(aux.request(Device.AZM, Command.GET_POSITION), timeout=0.5) is None
        assert trio.current_time() - start == pytest.approx(0.5)
        assert client.framer.echoes_removed == 1
        await client_side.aclose()


# --- behind a hand controller (passthrough) -------------------------------------------------------------------------


def hc_ask(emu: NexStarEmulator, dst: int, cmd: int, data: bytes = b"", response_bytes: int | None = None) -> bytes:
    size = aux.passthrough_response_size(dst, cmd) if response_bytes is None else response_bytes
    return emu.hand_controller(aux.encode_passthrough(aux.request(dst, cmd, data), size), emu.time)


def test_hc_relays_the_reference_example() -> None:
    emu = NexStarEmulator(MountConfig(version=bytes([4, 3]), passthrough=True, echo=False))
    assert emu.hand_controller(bytes.fromhex("50 01 11 FE 00 00 00 02"), 0.0) == bytes.fromhex("04 03 23")
    relayed = emu.received[-1]
    assert (relayed.src, relayed.dst, relayed.cmd, relayed.data) == (Device.HAND_CONTROLLER_PLUS, Device.ALT, 0xFE, b"")


def test_hc_pads_and_truncates_to_the_requested_size() -> None:
    emu = NexStarEmulator()
    assert hc_ask(emu, Device.AZM, Command.GET_VERSION) == bytes([7, 10, 0x10, 0x0D, 0x23])
    assert hc_ask(emu, Device.AZM, Command.GET_VERSION, response_bytes=2) == bytes([7, 10, 0x23])
    assert hc_ask(emu, Device.AZM, Command.GET_MODEL, response_bytes=4) == bytes([22, 0x87, 0, 0, 0x23])


def test_hc_set_command_and_three_data_bytes() -> None:
    emu = NexStarEmulator()
    assert hc_ask(emu, Device.AZM, Command.GOTO_FAST, aux.encode_position(0x200000)) == b"#"
    assert emu.received[-1].data == bytes.fromhex("200000")
    emu.advance(30.0)
    assert hc_ask(emu, Device.AZM, Command.SLEW_DONE) == b"\xff#"
    assert hc_ask(emu, Device.AZM, Command.GET_POSITION) == bytes.fromhex("200000") + b"#"


@pytest.mark.parametrize(
    ("dst", "cmd", "response_bytes"),
    [(Device.FOCUSER, Command.GET_VERSION, 4), (Device.AZM, 0x99, 0), (Device.GPS, aux.GpsCommand.GET_TIME, 3)],
)
def test_hc_no_answer_is_one_extra_byte(dst: int, cmd: int, response_bytes: int) -> None:
    # an absent device, an unknown command (the MC's F0 NAK is no answer to the HC), a GPS that is not there
    emu = NexStarEmulator()
    out = hc_ask(emu, dst, cmd, response_bytes=response_bytes)
    assert len(out) == response_bytes + 2 and out[-1] == 0x23
    assert 0x23 not in out[:-1]
    framer = PassthroughFramer()
    framer.expect(dst, cmd, response_bytes)
    events = framer.feed(out)  # the error, then the synthetic "not supported" reply a waiting request ends on
    assert [type(e) for e in events] == [FramingError, AuxPacket]
    assert events[1] == AuxPacket(dst, Device.APP, aux.NOT_SUPPORTED, bytes([cmd]))


def test_hc_faults_make_no_answers() -> None:
    emu = NexStarEmulator()
    emu.faults.silent = True
    assert len(hc_ask(emu, Device.AZM, Command.GET_POSITION)) == 5
    emu.faults.silent = False
    emu.faults.bad_checksum = True
    assert len(hc_ask(emu, Device.AZM, Command.GET_POSITION)) == 5
    emu.faults.bad_checksum = False
    emu.faults.drop_replies = 1
    assert len(hc_ask(emu, Device.AZM, Command.GET_POSITION)) == 5
    assert hc_ask(emu, Device.AZM, Command.GET_POSITION) == b"\x00\x00\x00#"


def test_hc_own_commands() -> None:
    emu = NexStarEmulator(MountConfig(model=bytes([20, 0x85])))
    assert emu.hand_controller(b"V", 0.0) == bytes([5, 35]) + b"#"  # 35 is '#' itself
    assert emu.hand_controller(b"m", 0.0) == bytes([20]) + b"#"
    assert emu.hand_controller(b"Kx", 0.0) == b"x#"
    assert emu.hand_controller(b"?", 0.0) == b""
    assert emu.hc_commands == [b"V", b"m", b"Kx", b"?"]


def test_hc_request_splitter() -> None:
    requests = HandControllerRequests()
    frame = aux.encode_passthrough(aux.request(Device.ALT, Command.GET_VERSION), 4)
    blob = b"V" + frame + b"\x00Kzm" + frame[:3]
    assert requests.feed(blob[:4]) == [b"V"]
    assert requests.feed(blob[4:]) == [frame, b"Kz", b"m"]
    assert requests.ignored == 1
    assert requests.feed(frame[3:]) == [frame]


class PassthroughClient:
    """A driver's view of an HC port: P frames out, `#`-terminated replies in (framed by PassthroughFramer)."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.framer = PassthroughFramer()
        self.received = b""

    async def exchange(
        self, request: bytes, dst: int, cmd: int, response_bytes: int, timeout: float = 5.0
    ) -> AuxPacket | FramingError | None:
        self.framer.expect(dst, cmd, response_bytes)
        await self.stream.send_all(request)
        with trio.move_on_after(timeout):
            while True:
                data = await self.stream.receive_some(1024)
                self.received += data
                events = self.framer.feed(data)
                if events:
                    # one reply, or a "no answer" error followed by its synthetic F0 reply
                    assert len(events) == 1 or (len(events) == 2 and isinstance(events[0], FramingError)), events
                    return events[0]
        return None

    async def ask(self, dst: int, cmd: int, data: bytes = b"", timeout: float = 5.0) -> AuxPacket | FramingError | None:
        size = aux.passthrough_response_size(dst, cmd)
        frame = aux.encode_passthrough(aux.request(dst, cmd, data), size)
        return await self.exchange(frame, dst, cmd, size, timeout)


async def test_serve_passthrough_round_trips(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(MountConfig(passthrough=True, echo=False), now=trio.current_time())
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        client = PassthroughClient(client_side)
        answer = await client.ask(Device.ALT, Command.GET_VERSION)
        assert answer == AuxPacket(Device.ALT, Device.APP, Command.GET_VERSION, bytes([7, 10, 0x10, 0x0D]))
        assert client.received == bytes([7, 10, 0x10, 0x0D, 0x23])  # no echo, no header, no checksum
        assert aux.decode_version(answer.data).major == 7

        ack = await client.ask(Device.AZM, Command.MOVE_POS, b"\x09")
        assert ack == AuxPacket(Device.AZM, Device.APP, Command.MOVE_POS)
        await trio.sleep(10.0)
        moved = await client.ask(Device.AZM, Command.GET_POSITION)
        assert isinstance(moved, AuxPacket)
        assert aux.decode_position(moved.data) / DEG == pytest.approx(2.8 * 10.0 - 2.8 * 0.7 / 2, abs=0.1)

        client.received = b""
        absent = await client.ask(Device.FOCUSER, Command.GET_VERSION)
        assert isinstance(absent, FramingError) and absent.kind == "no_answer"
        assert len(client.received) == 4 + 1 + 1 and client.received.endswith(b"#")

        hc = await client.exchange(b"V", Device.HAND_CONTROLLER_PLUS, ord("V"), 2)
        assert hc == AuxPacket(Device.HAND_CONTROLLER_PLUS, Device.APP, ord("V"), bytes([5, 35]))
        model = await client.exchange(b"m", Device.HAND_CONTROLLER_PLUS, ord("m"), 1)
        assert isinstance(model, AuxPacket) and aux.decode_model(model.data) == (22, "Evolution")
        await client_side.aclose()


async def test_serve_passthrough_split_requests_and_slow_no_answer(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(MountConfig(passthrough=True, echo=False, hc_no_answer_delay_s=1.5), now=trio.current_time())
    emu.faults.split_replies = True
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        frame = aux.encode_passthrough(aux.request(Device.ALT, Command.GET_POSITION), 3)
        client = PassthroughClient(client_side)
        client.framer.expect(Device.ALT, Command.GET_POSITION, 3)
        for byte in frame:  # a request dribbling in is still one request
            await client_side.send_all(bytes([byte]))
            await trio.sleep(0.01)
        events: list = []
        while not events:
            events = client.framer.feed(await client_side.receive_some(1024))
        assert events == [AuxPacket(Device.ALT, Device.APP, Command.GET_POSITION, b"\x00\x00\x00")]

        start = trio.current_time()
        absent = await client.ask(Device.GPS, aux.GpsCommand.LINKED)
        assert isinstance(absent, FramingError) and absent.kind == "no_answer"
        assert trio.current_time() - start == pytest.approx(1.5, abs=0.05)  # the HC gave up after retrying
        await client_side.aclose()


def test_passthrough_cli_flag_implies_no_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    from indi_astrojolo import emulation
    from indi_astrojolo.nexstar import emulator as emulator_module

    seen: dict[str, object] = {}

    def fake_run(argv: list[str], make_model, serve_function, title: str) -> None:
        seen["model"] = make_model(0.0)
        seen["argv"] = argv

    monkeypatch.setattr(emulation, "run_emulator_cli", fake_run)
    emulator_module.main(["--passthrough", "--tcp", "0"])
    model = seen["model"]
    assert isinstance(model, NexStarEmulator)
    assert model.config.passthrough and not model.config.echo
    assert seen["argv"] == ["--tcp", "0"]


def test_quirk_cli_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    from indi_astrojolo import emulation
    from indi_astrojolo.nexstar import emulator as emulator_module

    seen: dict[str, NexStarEmulator] = {}
    monkeypatch.setattr(emulation, "run_emulator_cli", lambda argv, make_model, serve, title: seen.setdefault("model", make_model(0.0)))
    emulator_module.main(["--aux-guide-silent", "--goto-keeps-rate", "--goto-hunting", "30", "--stop-deceleration", "0.5"])
    config = seen["model"].config
    assert config.aux_guide_silent and config.goto_keeps_rate
    assert config.goto_hunting_steps == 30 and config.stop_deceleration_deg_per_s2 == 0.5
    default = MountConfig()  # every quirk is off unless asked for
    assert not default.aux_guide_silent and not default.goto_keeps_rate
    assert default.goto_hunting_steps == 0 and default.stop_deceleration_deg_per_s2 is None


# --- home: index seek (AZM) and level (ALT) -------------------------------------------------------------------------


def flag(emu: NexStarEmulator, dst: int, cmd: int) -> bytes:
    return reply(emu, dst, cmd).data


def test_seek_index_drives_azm_to_the_index_at_goto_speed() -> None:
    emu = NexStarEmulator()
    place(emu, 30.0)
    assert flag(emu, Device.AZM, Command.AT_INDEX) == b"\x00"  # not found since power-on
    reply(emu, Device.AZM, Command.SET_POS_GUIDERATE, bytes.fromhex("ffff"))
    assert reply(emu, Device.AZM, Command.SEEK_INDEX) == AuxPacket(Device.AZM, Device.APP, Command.SEEK_INDEX)
    expected = 30.0 / 2.8 + 2.8 / 4.0  # cruise plus the ramps, as a fast goto
    arrival = None
    t = emu.time
    while t < 20.0:
        t += 0.05
        emu.advance(t)
        found = flag(emu, Device.AZM, Command.AT_INDEX)
        assert slew_done(emu) == (b"\xff" if found == b"\xff" else b"\x00")
        if found == b"\xff" and arrival is None:
            arrival = t
        elif arrival is None:
            assert found == b"\x00"
    assert arrival == pytest.approx(expected, rel=0.02)
    assert position(emu) == 0
    assert emu.axes[Device.AZM].rate == 0.0  # tracking is not resumed after homing
    assert flag(emu, Device.AZM, Command.AT_INDEX) == b"\xff"


def test_seek_index_takes_the_nearest_way_to_a_configured_index() -> None:
    emu = NexStarEmulator(MountConfig(index_position_steps=0x100000))  # 22.5°
    place(emu, 350.0)
    reply(emu, Device.AZM, Command.SEEK_INDEX)
    emu.advance(20.0)
    assert flag(emu, Device.AZM, Command.AT_INDEX) == b"\xff"
    assert position(emu) == 0x100000
    assert emu.axes[Device.AZM].moved_steps / DEG == pytest.approx(32.5, abs=0.01)


def test_an_interrupted_seek_finds_no_index() -> None:
    emu = NexStarEmulator()
    place(emu, 30.0)
    reply(emu, Device.AZM, Command.SEEK_INDEX)
    emu.advance(2.0)
    reply(emu, Device.AZM, Command.MOVE_POS, b"\x00")
    emu.advance(20.0)
    assert flag(emu, Device.AZM, Command.AT_INDEX) == b"\x00"
    assert emu.axis_degrees(Device.AZM) > 20.0


def test_level_start_drives_alt_to_the_level_position() -> None:
    emu = NexStarEmulator(MountConfig(level_position_steps=round(5.0 * DEG)))
    place(emu, -20.0, Device.ALT)
    assert flag(emu, Device.ALT, Command.LEVEL_DONE) == b"\xff"  # nothing running
    assert reply(emu, Device.ALT, Command.LEVEL_START) == AuxPacket(Device.ALT, Device.APP, Command.LEVEL_START)
    arrival = None
    t = emu.time
    while t < 20.0:
        t += 0.05
        emu.advance(t)
        done = flag(emu, Device.ALT, Command.LEVEL_DONE)
        if done == b"\xff" and arrival is None:
            arrival = t
        elif arrival is None:
            assert done == b"\x00"
    assert arrival == pytest.approx(25.0 / 2.8 + 2.8 / 4.0, rel=0.02)
    assert emu.true_altitude_degrees() == pytest.approx(5.0, abs=1e-4)
    assert slew_done(emu, Device.ALT) == b"\xff"


@pytest.mark.parametrize(
    ("dst", "cmd"),
    [(Device.ALT, Command.AT_INDEX), (Device.AZM, Command.LEVEL_START), (Device.AZM, Command.LEVEL_DONE)],
)
def test_homing_commands_belong_to_one_axis(dst: int, cmd: int) -> None:
    emu = NexStarEmulator()
    assert reply(emu, dst, cmd) == AuxPacket(dst, Device.APP, aux.NOT_SUPPORTED, bytes([cmd]))


def test_homing_through_the_hand_controller() -> None:
    emu = NexStarEmulator()
    place(emu, 10.0)
    assert hc_ask(emu, Device.AZM, Command.SEEK_INDEX) == b"#"
    assert hc_ask(emu, Device.AZM, Command.AT_INDEX) == b"\x00#"
    emu.advance(10.0)
    assert hc_ask(emu, Device.AZM, Command.AT_INDEX) == b"\xff#"


# --- GPS -----------------------------------------------------------------------------------------------------------

GPS_EPOCH = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def test_gps_position_date_and_time() -> None:
    emu = NexStarEmulator(MountConfig(gps=True, site=(-33.25, -70.5), gps_time=lambda: GPS_EPOCH))
    assert reply(emu, Device.GPS, Command.GET_VERSION).data == bytes([1, 0])
    assert reply(emu, Device.GPS, aux.GpsCommand.LINKED).data == b"\x01"
    assert reply(emu, Device.GPS, aux.GpsCommand.TIME_VALID).data == b"\x01"
    latitude = reply(emu, Device.GPS, aux.GpsCommand.GET_LAT).data
    longitude = reply(emu, Device.GPS, aux.GpsCommand.GET_LONG).data
    assert latitude[0] >= 0x80 and longitude[0] >= 0x80  # south and west are negative fractions of a turn
    assert aux.decode_position(latitude, signed=True) / DEG == pytest.approx(-33.25, abs=1e-4)
    assert aux.decode_position(longitude, signed=True) / DEG == pytest.approx(-70.5, abs=1e-4)
    assert reply(emu, Device.GPS, aux.GpsCommand.GET_DATE).data == bytes([11, 14])
    assert reply(emu, Device.GPS, aux.GpsCommand.GET_YEAR).data == bytes.fromhex("07E7")
    assert reply(emu, Device.GPS, aux.GpsCommand.GET_TIME).data == bytes([22, 13, 20])
    assert len(ask(emu, Device.GPS, 0x99)) == 1  # unknown GPS commands go unanswered


def test_gps_reference_example_position() -> None:
    emu = NexStarEmulator(MountConfig(gps=True))
    emu.site = (45 + 20 / 60 + 30 / 3600, -(75 + 54 / 60 + 16 / 3600))
    # reference §7.1: `20 3E 35` = +45°20′30″, `CA 06 00` = −75°54′16″, quoted to the arcsecond (12.9 steps)
    lat = int.from_bytes(reply(emu, Device.GPS, aux.GpsCommand.GET_LAT).data, "big")
    lon = int.from_bytes(reply(emu, Device.GPS, aux.GpsCommand.GET_LONG).data, "big")
    assert abs(lat - 0x203E35) <= 13 and abs(lon - 0xCA0600) <= 13


def test_gps_time_follows_the_clock() -> None:
    now = [GPS_EPOCH]
    emu = NexStarEmulator(MountConfig(gps=True, gps_time=lambda: now[0]))
    now[0] += 3600 + 61
    assert reply(emu, Device.GPS, aux.GpsCommand.GET_TIME).data == bytes([23, 14, 21])
    now[0] += 3600
    assert reply(emu, Device.GPS, aux.GpsCommand.GET_DATE).data == bytes([11, 15])


def test_gps_default_clock_is_utc_now() -> None:
    import time as time_module

    emu = NexStarEmulator(MountConfig(gps=True))
    h, m, s = reply(emu, Device.GPS, aux.GpsCommand.GET_TIME).data
    gm = time_module.gmtime()
    # asked just before gmtime(): at most a few seconds behind it, across midnight too
    assert ((gm.tm_hour * 3600 + gm.tm_min * 60 + gm.tm_sec) - (h * 3600 + m * 60 + s)) % 86400 < 5


def test_gps_through_the_hand_controller() -> None:
    emu = NexStarEmulator(MountConfig(gps=True, gps_time=lambda: GPS_EPOCH))
    assert hc_ask(emu, Device.GPS, Command.GET_VERSION) == bytes([1, 0]) + b"#"
    assert hc_ask(emu, Device.GPS, aux.GpsCommand.GET_YEAR) == bytes.fromhex("07E7") + b"#"
    assert hc_ask(emu, Device.GPS, aux.GpsCommand.GET_TIME) == bytes([22, 13, 20]) + b"#"


# --- second master, hard stops, late replies -------------------------------------------------------------------------


def test_second_master_traffic_overwrites_the_azm_rate() -> None:
    emu = NexStarEmulator()
    reply(emu, Device.AZM, Command.SET_POS_GUIDERATE, bytes.fromhex("003c2a"))
    command, ack = emu.second_master_traffic(emu.time)
    assert (command.src, command.dst) == (Device.HAND_CONTROLLER_PLUS, Device.AZM)
    assert command.cmd == Command.SET_POS_GUIDERATE
    assert aux.decode_rate(command.data) == pytest.approx(SECOND_MASTER_RATE_ARCSEC_PER_S, abs=1e-3)
    assert ack == AuxPacket(Device.AZM, Device.HAND_CONTROLLER_PLUS, Command.SET_POS_GUIDERATE)
    assert emu.axes[Device.AZM].rate * aux.ARCSEC_PER_STEP == pytest.approx(SECOND_MASTER_RATE_ARCSEC_PER_S, abs=1e-3)
    assert emu.received[-1].src == Device.APP  # the other master's command is not the driver's


async def test_serve_second_master_overwrites_the_rate(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(now=trio.current_time())
    emu.faults.second_master = True
    client_side, device_side = trio.testing.memory_stream_pair()
    framer = AuxFramer()
    seen: list[AuxPacket | FramingError] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        cmd, data = aux.encode_rate(2 * aux.SIDEREAL_ARCSEC_PER_S)
        request = aux.request(Device.AZM, cmd, data)
        framer.expect_echo(request.encode())
        await client_side.send_all(request.encode())
        with trio.move_on_after(0.5):
            while True:
                seen.extend(framer.feed(await client_side.receive_some(1024)))
        assert seen == [
            AuxPacket(Device.AZM, Device.APP, cmd),  # the driver's ACK …
            AuxPacket(Device.HAND_CONTROLLER_PLUS, Device.AZM, *aux.encode_rate(SECOND_MASTER_RATE_ARCSEC_PER_S)),
            AuxPacket(Device.AZM, Device.HAND_CONTROLLER_PLUS, Command.SET_POS_GUIDERATE),  # … then the other's
        ]
        rate = emu.axes[Device.AZM].rate * aux.ARCSEC_PER_STEP
        assert rate == pytest.approx(SECOND_MASTER_RATE_ARCSEC_PER_S, abs=1e-3)  # not the driver's 30″/s
        await client_side.aclose()


def test_hard_limits_stop_a_move_and_warn() -> None:
    emu = NexStarEmulator(MountConfig(altitude_hard_limits=(-5.0, 85.0)))
    place(emu, 80.0, Device.ALT)
    reply(emu, Device.ALT, Command.MOVE_POS, b"\x09")
    emu.advance(10.0)
    assert emu.true_altitude_degrees() == pytest.approx(85.0, abs=1e-6)
    axis = emu.axes[Device.ALT]
    assert axis.rate == 0.0 and axis.velocity == 0.0
    assert emu.take_unsolicited() == [AuxPacket(Device.ALT, Device.APP, Command.SEND_WARNING, b"\x01")]
    assert emu.take_unsolicited() == []
    assert slew_done(emu, Device.ALT) == b"\xff"
    # away from the stop is allowed
    reply(emu, Device.ALT, Command.MOVE_NEG, b"\x09")
    emu.advance(12.0)
    assert emu.true_altitude_degrees() < 85.0
    assert emu.take_unsolicited() == []


def test_hard_limits_end_a_goto_short() -> None:
    emu = NexStarEmulator(MountConfig(altitude_hard_limits=(-5.0, 85.0)))
    goto(emu, -30.0, Device.ALT)
    emu.advance(5.0)
    assert slew_done(emu, Device.ALT) == b"\xff"
    assert emu.true_altitude_degrees() == pytest.approx(-5.0, abs=1e-6)
    assert position(emu, Device.ALT) == round(-5.0 * DEG) % aux.STEPS_PER_TURN
    warning = emu.take_unsolicited()
    assert warning == [AuxPacket(Device.ALT, Device.APP, Command.SEND_WARNING, b"\x01")]
    assert warning[0].encode()[:6] == bytes.fromhex("3B 04 11 20 50 01")


def test_hard_limits_stop_a_tracking_rate_and_leave_azm_alone() -> None:
    emu = NexStarEmulator(MountConfig(altitude_hard_limits=(0.0, 90.0)))
    place(emu, 0.01, Device.ALT)
    cmd, data = aux.encode_rate(-100.0)
    reply(emu, Device.ALT, cmd, data)
    reply(emu, Device.AZM, cmd, data)
    emu.advance(10.0)
    assert emu.true_altitude_degrees() == pytest.approx(0.0, abs=1e-6)
    assert len(emu.take_unsolicited()) == 1
    assert emu.axes[Device.AZM].moved_steps * aux.ARCSEC_PER_STEP == pytest.approx(-1000.0, rel=0.01)


def test_true_altitude_is_signed() -> None:
    emu = NexStarEmulator()
    place(emu, -12.5, Device.ALT)
    assert emu.true_altitude_degrees() == pytest.approx(-12.5, abs=1e-5)
    assert emu.axis_degrees(Device.ALT) == pytest.approx(347.5, abs=1e-5)
    place(emu, 100.0, Device.ALT)
    assert emu.true_altitude_degrees() == pytest.approx(100.0, abs=1e-5)


def test_the_mount_accepts_a_warning_acknowledgement_silently() -> None:
    emu = NexStarEmulator()
    request = aux.request(Device.ALT, Command.SEND_WARNING)
    assert emu.handle(request, 0.0) == [request]


async def test_serve_hard_stop_warning_arrives_unprompted(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(MountConfig(altitude_hard_limits=(-5.0, 85.0)), now=trio.current_time())
    place(emu, 84.0, Device.ALT)
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        client = Client(client_side)
        start = trio.current_time()
        assert await client.ask(aux.request(Device.ALT, Command.MOVE_POS, b"\x09")) is not None
        with trio.move_on_after(5.0):
            while not any(p.cmd == Command.SEND_WARNING for p in client.packets):
                for event in client.framer.feed(await client_side.receive_some(1024)):
                    if isinstance(event, AuxPacket):
                        client.packets.append(event)
        assert AuxPacket(Device.ALT, Device.APP, Command.SEND_WARNING, b"\x01") in client.packets
        assert trio.current_time() - start < 2.0  # 1° at up to 2.8 °/s, then at most one tick
        assert emu.true_altitude_degrees() == pytest.approx(85.0, abs=1e-6)
        await client_side.aclose()


async def test_serve_late_reply_comes_after_the_next_echo(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(now=trio.current_time())
    emu.faults.late_reply_s = 2.0
    client_side, device_side = trio.testing.memory_stream_pair()
    arrivals: list[tuple[float, AuxPacket]] = []
    framer = AuxFramer()  # no echo removal: the echoes' timing is the point

    async def listen() -> None:
        while True:
            data = await client_side.receive_some(1024)
            if not data:
                return
            for event in framer.feed(data):
                assert isinstance(event, AuxPacket)
                arrivals.append((trio.current_time(), event))

    first = aux.request(Device.AZM, Command.GET_POSITION)
    second = aux.request(Device.AZM, Command.GET_VERSION)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        nursery.start_soon(listen)
        start = trio.current_time()
        await client_side.send_all(first.encode())
        await trio.sleep(0.5)  # the driver times out and moves on
        await client_side.send_all(second.encode())
        await trio.sleep(3.0)
        nursery.cancel_scope.cancel()
    kinds = [(round(t - start, 3), p.src, p.cmd) for t, p in arrivals]
    assert kinds == [
        (0.0, Device.APP, Command.GET_POSITION),  # echo 1
        (0.5, Device.APP, Command.GET_VERSION),  # echo 2, on time
        (2.0, Device.AZM, Command.GET_POSITION),  # reply 1, late but not lost
        (2.5, Device.AZM, Command.GET_VERSION),  # reply 2
    ]


# --- faults for the reliability campaign ------------------------------------------------------------------------------


async def serve_one_request(emu: NexStarEmulator, request: AuxPacket) -> tuple[list[AuxPacket], list[FramingError]]:
    """Everything the bus carries back for one request within a second: packets (echo included) and framing errors."""
    client_side, device_side = trio.testing.memory_stream_pair()
    framer = AuxFramer()
    packets: list[AuxPacket] = []
    errors: list[FramingError] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        await client_side.send_all(request.encode())
        with trio.move_on_after(1.0):
            while True:
                for event in framer.feed(await client_side.receive_some(1024)):
                    (errors if isinstance(event, FramingError) else packets).append(event)
        nursery.cancel_scope.cancel()
    return packets, errors


async def test_serve_truncated_replies_never_frame(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(now=trio.current_time())
    emu.faults.truncate = True
    request = aux.request(Device.AZM, Command.GET_POSITION)
    packets, errors = await serve_one_request(emu, request)
    assert packets == [request]  # the echo only: half a reply frame is still waiting for its end


async def test_serve_oversize_replies_are_whole_frames_with_extra_data(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(now=trio.current_time())
    emu.faults.oversize = True
    packets, errors = await serve_one_request(emu, aux.request(Device.ALT, Command.GET_POSITION))
    assert errors == [] and packets[1].data == b"\x00\x00\x00\x00\x00\x00"
    with pytest.raises(aux.ReplyError):
        aux.decode_position(packets[1].data)


async def test_serve_wrong_command_replies_are_not_accepted(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(now=trio.current_time())
    emu.faults.wrong_command = True
    request = aux.request(Device.AZM, Command.GET_VERSION)
    packets, errors = await serve_one_request(emu, request)
    assert errors == [] and len(packets) == 2
    assert aux.reply_matcher(request)(packets[1]) is Verdict.IGNORE


async def test_serve_corrupt_echo_fails_its_checksum_and_the_reply_is_intact(autojump_clock: trio.testing.MockClock) -> None:
    emu = NexStarEmulator(now=trio.current_time())
    emu.faults.corrupt_echo = True
    request = aux.request(Device.AZM, Command.GET_MODEL)
    packets, errors = await serve_one_request(emu, request)
    assert errors[0].kind == "bad_checksum"  # then the rest of the echo, skipped as garbage while resynchronising
    assert packets == [AuxPacket(Device.AZM, Device.APP, Command.GET_MODEL, emu.config.model)]


def test_position_replies_are_recorded_with_time_and_axis() -> None:
    emu = NexStarEmulator()
    place(emu, 10.0)
    position(emu, Device.AZM)
    position(emu, Device.ALT)
    steps = round(10.0 * DEG)
    assert emu.reported_positions_since(0) == [(0.0, Device.AZM, steps), (0.0, Device.ALT, 0)]
    assert emu.reported_positions_since(1) == [(0.0, Device.ALT, 0)]


# --- the focuser (0x12) --------------------------------------------------------------------------------------------

FOCUS_SPEED = 300.0  # steps/s, the emulator's default


def focuser_emulator(**options) -> NexStarEmulator:
    return NexStarEmulator(MountConfig(focuser=FocuserConfig(**options)))


def focuser_raw(emu: NexStarEmulator) -> int:
    return aux.decode_position(reply(emu, Device.FOCUSER, Command.GET_POSITION).data)


def focuser_done(emu: NexStarEmulator) -> bytes:
    return reply(emu, Device.FOCUSER, Command.SLEW_DONE).data


def calibration_status(emu: NexStarEmulator) -> aux.CalibrationStatus:
    return aux.decode_calibration_status(reply(emu, Device.FOCUSER, FocuserCommand.CALIBRATION_STATUS).data)


def test_focuser_answers_version_position_and_hard_stops() -> None:
    emu = focuser_emulator(low_stop=1200, high_stop=48000, start_position=30000)
    assert str(aux.decode_version(reply(emu, Device.FOCUSER, Command.GET_VERSION).data)) == "1.4"
    assert focuser_raw(emu) == 30000
    stops = reply(emu, Device.FOCUSER, FocuserCommand.GET_HARD_STOPS)
    assert stops.data == bytes.fromhex("000004B0 0000BB80")  # two big-endian 32-bit integers
    assert aux.decode_hard_stops(stops.data) == (1200, 48000)
    assert focuser_done(emu) == b"\xff"
    assert calibration_status(emu) == aux.CalibrationStatus(done=True, stage=0)


def test_an_uncalibrated_focuser_reports_no_hard_stops() -> None:
    emu = focuser_emulator(calibrated=False)
    assert aux.decode_hard_stops(reply(emu, Device.FOCUSER, FocuserCommand.GET_HARD_STOPS).data) == (0, 0)
    assert calibration_status(emu) == aux.CalibrationStatus(done=False, stage=0)


def test_focuser_goto_runs_at_its_speed_and_reports_done_on_arrival() -> None:
    emu = focuser_emulator(start_position=10000)
    assert reply(emu, Device.FOCUSER, Command.GOTO_FAST, aux.encode_position(13000)).data == b""
    assert focuser_done(emu) == b"\x00"
    emu.advance(5.0)
    assert focuser_raw(emu) == 10000 + 5 * FOCUS_SPEED
    assert focuser_done(emu) == b"\x00"
    emu.advance(10.0 + 1e-6)
    assert focuser_raw(emu) == 13000
    assert focuser_done(emu) == b"\xff"
    emu.advance(20.0)
    assert focuser_raw(emu) == 13000  # it stays there


def test_focuser_goto_beyond_a_stop_ends_at_the_stop() -> None:
    emu = focuser_emulator(low_stop=500, high_stop=20000, start_position=19000)
    reply(emu, Device.FOCUSER, Command.GOTO_FAST, aux.encode_position(25000))
    emu.advance(60.0)
    assert focuser_raw(emu) == 20000 and focuser_done(emu) == b"\xff"
    reply(emu, Device.FOCUSER, Command.GOTO_FAST, aux.encode_position(0))
    emu.advance(200.0)
    assert focuser_raw(emu) == 500


def test_focuser_fixed_rate_moves_stop_on_rate_0_and_at_the_stops() -> None:
    emu = focuser_emulator(low_stop=0, high_stop=60000, start_position=30000)
    reply(emu, Device.FOCUSER, Command.MOVE_POS, b"\x09")
    emu.advance(2.0)
    assert focuser_raw(emu) == 30000 + 2 * FOCUS_SPEED
    reply(emu, Device.FOCUSER, Command.MOVE_NEG, b"\x03")  # a third of the speed, the other way
    emu.advance(4.0)
    assert focuser_raw(emu) == 30600 - 2 * FOCUS_SPEED / 3
    reply(emu, Device.FOCUSER, Command.MOVE_POS, b"\x00")
    stopped = focuser_raw(emu)
    emu.advance(10.0)
    assert focuser_raw(emu) == stopped
    reply(emu, Device.FOCUSER, Command.MOVE_NEG, b"\x09")
    emu.advance(500.0)
    assert focuser_raw(emu) == 0


def test_focuser_rate_0_aborts_a_goto() -> None:
    emu = focuser_emulator(start_position=10000)
    reply(emu, Device.FOCUSER, Command.GOTO_FAST, aux.encode_position(20000))
    emu.advance(1.0)
    reply(emu, Device.FOCUSER, Command.MOVE_POS, b"\x00")
    assert focuser_done(emu) == b"\xff"
    emu.advance(10.0)
    assert focuser_raw(emu) == 10000 + FOCUS_SPEED


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["goto", "pos", "neg", "calibrate", "stop_calibration"]),
            st.integers(0, 0xFFFFFF),
            st.integers(0, 9),
            st.floats(0.0, 30.0),  # long enough to cross the whole travel at 2000 steps/s
        ),
        max_size=10,
    )
)
def test_focuser_never_passes_its_stops(steps) -> None:
    emu = focuser_emulator(low_stop=700, high_stop=42000, start_position=20000, speed_steps_per_s=2000.0)
    now = 0.0
    for kind, target, rate, wait in steps:
        if kind == "goto":
            reply(emu, Device.FOCUSER, Command.GOTO_FAST, aux.encode_position(target), now)
        elif kind in ("pos", "neg"):
            reply(emu, Device.FOCUSER, Command.MOVE_POS if kind == "pos" else Command.MOVE_NEG, bytes([rate]), now)
        else:
            start = aux.CALIBRATION_START if kind == "calibrate" else aux.CALIBRATION_STOP
            reply(emu, Device.FOCUSER, FocuserCommand.CALIBRATION_ENABLE, start, now)
        for fraction in (0.25, 0.5, 1.0):
            emu.advance(now + wait * fraction)
            assert 700 <= emu.focuser.position <= 42000
        now += wait


def test_focuser_calibration_visits_both_stops_and_sets_the_hard_stops() -> None:
    emu = focuser_emulator(low_stop=1000, high_stop=31000, start_position=16000, calibrated=False)
    reply(emu, Device.FOCUSER, FocuserCommand.CALIBRATION_ENABLE, aux.CALIBRATION_START)
    duration = (15000 + 30000) / FOCUS_SPEED
    stages, lowest = [], 16000
    t = 0.0
    while t < duration - 1.0:
        t += 1.0
        emu.advance(t)
        status = calibration_status(emu)
        assert status.running and not status.done
        assert focuser_done(emu) == b"\x00"
        stages.append(status.stage)
        lowest = min(lowest, focuser_raw(emu))
    assert stages == sorted(stages) and stages[0] == 1 and stages[-1] == 12
    assert lowest == 1000
    emu.advance(duration + 0.01)
    assert calibration_status(emu) == aux.CalibrationStatus(done=True, stage=0)
    assert reply(emu, Device.FOCUSER, FocuserCommand.CALIBRATION_STATUS).data == b"\x01\x00"  # the LAST driver's 256
    assert focuser_raw(emu) == 31000
    assert aux.decode_hard_stops(reply(emu, Device.FOCUSER, FocuserCommand.GET_HARD_STOPS).data) == (1000, 31000)


def test_focuser_stopped_calibration_keeps_the_old_stops_and_ignores_moves_while_running() -> None:
    emu = focuser_emulator(low_stop=0, high_stop=60000, start_position=30000)
    emu.focuser.hard_stops = (100, 50000)  # found by an earlier calibration
    reply(emu, Device.FOCUSER, FocuserCommand.CALIBRATION_ENABLE, aux.CALIBRATION_START)
    emu.advance(2.0)
    assert focuser_raw(emu) == 30000 - 2 * FOCUS_SPEED  # on its way to the low stop
    reply(emu, Device.FOCUSER, Command.GOTO_FAST, aux.encode_position(40000))  # acknowledged, ignored
    emu.advance(3.0)
    assert focuser_raw(emu) == 30000 - 3 * FOCUS_SPEED
    reply(emu, Device.FOCUSER, FocuserCommand.CALIBRATION_ENABLE, aux.CALIBRATION_STOP)
    assert calibration_status(emu) == aux.CalibrationStatus(done=False, stage=0)  # INDI's "aborted"
    emu.advance(10.0)
    assert focuser_raw(emu) == 30000 - 3 * FOCUS_SPEED
    assert focuser_done(emu) == b"\xff"
    assert aux.decode_hard_stops(reply(emu, Device.FOCUSER, FocuserCommand.GET_HARD_STOPS).data) == (100, 50000)


def test_focuser_silence_and_unknown_commands() -> None:
    emu = focuser_emulator()
    nak = reply(emu, Device.FOCUSER, 0x99)
    assert nak == AuxPacket(Device.FOCUSER, Device.APP, aux.NOT_SUPPORTED, b"\x99")
    emu.focuser.silent = True
    assert len(ask(emu, Device.FOCUSER, Command.GET_POSITION)) == 1  # the echo only
    assert position(emu, Device.AZM) == 0  # the mount still answers
    emu.focuser.silent = False
    emu.faults.silent = True
    assert len(ask(emu, Device.FOCUSER, Command.GET_POSITION)) == 1


def test_focuser_through_the_hand_controller() -> None:
    emu = NexStarEmulator(MountConfig(passthrough=True, echo=False, focuser=FocuserConfig(low_stop=300, high_stop=9000)))
    stops = hc_ask(emu, Device.FOCUSER, FocuserCommand.GET_HARD_STOPS)
    assert len(stops) == 9 and aux.decode_hard_stops(stops[:8]) == (300, 9000)
    assert hc_ask(emu, Device.FOCUSER, FocuserCommand.CALIBRATION_STATUS) == b"\x01\x00#"
