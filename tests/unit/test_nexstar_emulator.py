"""The emulated NexStar mount: echo and replies, absent devices, slew/track/goto physics, cord wrap, guide pulses,
NAKs, faults, and serving on a byte stream (on trio's fake clock)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from indi_astrojolo.link.framing import AuxFramer, AuxPacket, FramingError
from indi_astrojolo.link.session import Verdict
from indi_astrojolo.nexstar import aux
from indi_astrojolo.nexstar.aux import Command, Device
from indi_astrojolo.nexstar.emulator import MountConfig, NexStarEmulator, serve

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
    reply(emu, Device.ALT, Command.MOVE_NEG, b"\x01")
    emu.advance(10.0)
    steps = aux.decode_position(reply(emu, Device.ALT, Command.GET_POSITION).data, signed=True)
    assert steps == pytest.approx(-0.5 * SIDEREAL_STEPS * 10.0, rel=0.01)
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


def test_move_rates_follow_the_table() -> None:
    emu = NexStarEmulator()
    reply(emu, Device.AZM, Command.MOVE_POS, b"\x04")  # 8× sidereal
    emu.advance(1.0)
    start = emu.axes[Device.AZM].moved_steps
    emu.advance(11.0)
    assert (emu.axes[Device.AZM].moved_steps - start) / 10.0 == pytest.approx(8 * SIDEREAL_STEPS, rel=1e-3)


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
