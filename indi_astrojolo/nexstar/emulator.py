"""An emulated NexStar mount on the AUX bus: two motor controllers with slew, goto and tracking physics, the echo of
every packet, other devices on the bus, and fault injection.

The model is sans-I/O: `handle(packet, now)` returns the packets the bus carries back (echo first, then the reply),
`advance(now)` moves the axes. `serve()` puts it on a trio stream; `main()` runs it on a pty or on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import math
import random
from dataclasses import dataclass, field

from ..link.framing import AuxPacket
from . import aux
from .aux import Command, Device

# Fixed move rates 1–9 in degrees per second (the INDIGO/AVX progression, reference §5.3); rate 9 is the max rate.
SIDEREAL_DEG_PER_S = aux.SIDEREAL_ARCSEC_PER_S / 3600.0
DEFAULT_MOVE_RATES = (
    0.5 * SIDEREAL_DEG_PER_S,
    1 * SIDEREAL_DEG_PER_S,
    4 * SIDEREAL_DEG_PER_S,
    8 * SIDEREAL_DEG_PER_S,
    16 * SIDEREAL_DEG_PER_S,
    32 * SIDEREAL_DEG_PER_S,
    64 * SIDEREAL_DEG_PER_S,
    1.0,
    2.8,
)


@dataclass
class MountConfig:
    model: bytes = bytes([22, 0x87])  # Evolution, as captured
    version: bytes = bytes([7, 10, 0x10, 0x0D])  # 7.10.4109
    echo: bool = True
    move_rates_deg_per_s: tuple[float, ...] = DEFAULT_MOVE_RATES
    goto_fast_deg_per_s: float = 2.8  # measured on the seed's mount
    goto_slow_deg_per_s: float = 0.5
    acceleration_deg_per_s2: float = 4.0
    goto_done_tolerance_steps: int = 1
    other_devices: dict[int, bytes] = field(
        default_factory=lambda: {Device.HAND_CONTROLLER_PLUS: bytes([5, 35, 0x0C, 0x69]), Device.WIFI_EVOLUTION: bytes([1, 2])}
    )
    gps: bool = False
    unsupported_reply: bool = True  # answer unknown commands with the F0 NAK (Evolution) instead of silence
    aux_guide_supported: bool = True  # firmware ≥ 6.50
    seed: int = 1


@dataclass
class Faults:
    silent: bool = False  # motor controllers answer nothing (the echo still comes: that is the bus)
    no_echo: bool = False
    bad_checksum: bool = False  # corrupt the checksum of each reply
    garbage: bool = False  # junk bytes before each reply
    split_replies: bool = False  # deliver replies in small pieces
    late_reply_s: float = 0.0  # delay replies by this much
    foreign_traffic: bool = False  # another master's packets interleaved
    drop_replies: int = 0


@dataclass
class Axis:
    device: int
    position: float = 0.0  # steps, kept in 0 … 2^24 (wrapped) for reporting
    velocity: float = 0.0  # steps/s, what the motor does now
    rate: float = 0.0  # steps/s commanded by 0x06/0x07/0x24/0x25
    goto_target: int | None = None
    goto_speed: float = 0.0
    slew_done: bool = True
    guide_rate: float = 0.0  # steps/s superimposed by 0x26
    guide_until: float = -1.0
    cordwrap_enabled: bool = False
    cordwrap_position: int = 0
    backlash_pos: int = 0
    backlash_neg: int = 0
    approach: int = 0
    autoguide_rate: int = 0x80
    moved_steps: float = 0.0  # unwrapped travel since power-on, for tests

    def steps(self) -> int:
        return int(round(self.position)) % aux.STEPS_PER_TURN


def _deg_to_steps(deg: float) -> float:
    return deg * aux.STEPS_PER_DEGREE


def _shortest(delta: float) -> float:
    half = aux.STEPS_PER_TURN / 2
    return (delta + half) % aux.STEPS_PER_TURN - half


class NexStarEmulator:
    def __init__(self, config: MountConfig | None = None, now: float = 0.0) -> None:
        self.config = config or MountConfig()
        self.faults = Faults()
        self.random = random.Random(self.config.seed)
        self.time = now
        self.axes = {Device.AZM: Axis(Device.AZM), Device.ALT: Axis(Device.ALT)}
        self.received: list[AuxPacket] = []
        self.site = (50.0, 20.0)  # GPS latitude, longitude in degrees

    # --- physics -----------------------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        while self.time < now:
            dt = min(0.01, now - self.time)
            for axis in self.axes.values():
                self._step(axis, dt)
            self.time += dt

    def _step(self, axis: Axis, dt: float) -> None:
        accel = _deg_to_steps(self.config.acceleration_deg_per_s2)
        if axis.goto_target is not None:
            remaining = _shortest(axis.goto_target - axis.position)
            if axis.cordwrap_enabled and axis.device == Device.AZM:
                remaining = self._respect_cordwrap(axis, remaining)
            stoppable = math.sqrt(2.0 * accel * abs(remaining))
            wanted = math.copysign(min(axis.goto_speed, stoppable), remaining)
        else:
            wanted = axis.rate
        if axis.velocity < wanted:
            axis.velocity = min(wanted, axis.velocity + accel * dt)
        else:
            axis.velocity = max(wanted, axis.velocity - accel * dt)
        guide = axis.guide_rate if self.time < axis.guide_until else 0.0
        step = (axis.velocity + guide) * dt
        if axis.goto_target is not None:
            remaining = _shortest(axis.goto_target - axis.position)
            # Arrived when this step reaches or passes the target (or the axis has settled within tolerance). Demanding
            # a near-zero speed before snapping, as this did, let the axis run past the target, since the discrete
            # deceleration is still at ~0.3 °/s one step before it, and swing back (~0.013° at 2.8 °/s).
            reaches = step * remaining >= 0 and abs(step) >= abs(remaining)
            settled = abs(remaining) <= self.config.goto_done_tolerance_steps and abs(axis.velocity) <= accel * dt * 2
            if reaches or settled:
                step = remaining
                axis.goto_target = None
                axis.velocity = 0.0
                axis.rate = 0.0  # a finished goto leaves the axis stopped: tracking must be sent again
                axis.slew_done = True
        axis.position = (axis.position + step) % aux.STEPS_PER_TURN
        axis.moved_steps += step

    def _respect_cordwrap(self, axis: Axis, remaining: float) -> float:
        """Go the long way round when the short way crosses the cord-wrap position."""
        start = axis.position
        wrap = axis.cordwrap_position
        crosses = (_shortest(wrap - start) * remaining > 0) and abs(_shortest(wrap - start)) < abs(remaining)
        if crosses:
            return remaining - math.copysign(aux.STEPS_PER_TURN, remaining)
        return remaining

    # --- protocol ----------------------------------------------------------------------------------------------

    def handle(self, packet: AuxPacket, now: float) -> list[AuxPacket]:
        """What the bus carries back to the sender: the echo, then the addressed device's reply, if any."""
        self.advance(now)
        self.received.append(packet)
        out = [packet] if self.config.echo and not self.faults.no_echo else []
        reply = self._reply(packet)
        if reply is None:
            return out
        if self.faults.drop_replies > 0:
            self.faults.drop_replies -= 1
            return out
        return out + [reply]

    def _ack(self, packet: AuxPacket, data: bytes = b"") -> AuxPacket:
        return AuxPacket(packet.dst, packet.src, packet.cmd, data)

    def _reply(self, packet: AuxPacket) -> AuxPacket | None:
        if packet.dst in self.axes:
            if self.faults.silent:
                return None
            return self._motor(self.axes[packet.dst], packet)
        if packet.dst == Device.GPS and self.config.gps:
            return self._gps(packet)
        version = self.config.other_devices.get(packet.dst)
        if version is not None and packet.cmd == Command.GET_VERSION:
            return self._ack(packet, version)
        return None  # absent devices say nothing

    def _motor(self, axis: Axis, packet: AuxPacket) -> AuxPacket | None:
        cmd, data = packet.cmd, packet.data
        ack = lambda payload=b"": self._ack(packet, payload)  # noqa: E731
        if cmd == Command.GET_VERSION:
            return ack(self.config.version)
        if cmd == Command.GET_MODEL:
            return ack(self.config.model)
        if cmd == Command.GET_POSITION:
            return ack(aux.encode_position(axis.steps()))
        if cmd == Command.SET_POSITION and len(data) == 3:
            axis.position = float(aux.decode_position(data))
            return ack()
        if cmd in (Command.GOTO_FAST, Command.GOTO_SLOW) and len(data) in (2, 3):
            target = aux.decode_position(data)
            speed = self.config.goto_fast_deg_per_s if cmd == Command.GOTO_FAST else self.config.goto_slow_deg_per_s
            axis.goto_target, axis.goto_speed, axis.slew_done = target, _deg_to_steps(speed), False
            axis.rate = 0.0
            return ack()
        if cmd == Command.SLEW_DONE:
            return ack(b"\xff" if axis.slew_done else b"\x00")
        if cmd in (Command.SET_POS_GUIDERATE, Command.SET_NEG_GUIDERATE) and len(data) in (2, 3):
            arcsec = aux.decode_rate(data)
            axis.goto_target = None
            axis.slew_done = True
            axis.rate = math.copysign(arcsec / aux.ARCSEC_PER_STEP, 1 if cmd == Command.SET_POS_GUIDERATE else -1)
            return ack()
        if cmd in (Command.MOVE_POS, Command.MOVE_NEG) and len(data) == 1:
            level = data[0]
            if level > 9:
                return None
            axis.goto_target = None
            axis.slew_done = True
            speed = 0.0 if level == 0 else _deg_to_steps(self.config.move_rates_deg_per_s[level - 1])
            axis.rate = speed if cmd == Command.MOVE_POS else -speed
            return ack()
        if cmd == Command.AUX_GUIDE and len(data) == 2:
            if not self.config.aux_guide_supported:
                return AuxPacket(packet.dst, packet.src, aux.NOT_SUPPORTED, bytes([cmd]))
            percent = data[0] - 256 if data[0] >= 128 else data[0]
            axis.guide_rate = percent / 100.0 * aux.SIDEREAL_ARCSEC_PER_S / aux.ARCSEC_PER_STEP
            axis.guide_until = self.time + data[1] / 100.0
            return ack()
        if cmd == Command.AUX_GUIDE_ACTIVE:
            return ack(b"\x01" if self.time < axis.guide_until else b"\x00")
        if cmd == Command.ENABLE_CORDWRAP:
            axis.cordwrap_enabled = True
            return ack()
        if cmd == Command.DISABLE_CORDWRAP:
            axis.cordwrap_enabled = False
            return ack()
        if cmd == Command.SET_CORDWRAP_POS and len(data) == 3:
            axis.cordwrap_position = aux.decode_position(data)
            return ack()
        if cmd == Command.POLL_CORDWRAP:
            return ack(b"\xff" if axis.cordwrap_enabled else b"\x00")
        if cmd == Command.GET_CORDWRAP_POS:
            return ack(aux.encode_position(axis.cordwrap_position))
        if cmd in (Command.SET_POS_BACKLASH, Command.SET_NEG_BACKLASH) and len(data) == 1:
            setattr(axis, "backlash_pos" if cmd == Command.SET_POS_BACKLASH else "backlash_neg", min(99, data[0]))
            return ack()
        if cmd == Command.GET_POS_BACKLASH:
            return ack(bytes([axis.backlash_pos]))
        if cmd == Command.GET_NEG_BACKLASH:
            return ack(bytes([axis.backlash_neg]))
        if cmd == Command.SET_APPROACH and len(data) == 1:
            axis.approach = data[0]
            return ack()
        if cmd == Command.GET_APPROACH:
            return ack(bytes([axis.approach]))
        if cmd == Command.SET_AUTOGUIDE_RATE and len(data) == 1:
            axis.autoguide_rate = data[0]
            return ack()
        if cmd == Command.GET_AUTOGUIDE_RATE:
            return ack(bytes([axis.autoguide_rate]))
        if self.config.unsupported_reply:
            return AuxPacket(packet.dst, packet.src, aux.NOT_SUPPORTED, bytes([cmd]))
        return None

    def _gps(self, packet: AuxPacket) -> AuxPacket | None:
        cmd = packet.cmd
        if cmd == Command.GET_VERSION:
            return self._ack(packet, bytes([1, 0]))
        if cmd == aux.GpsCommand.LINKED or cmd == aux.GpsCommand.TIME_VALID:
            return self._ack(packet, b"\x01")
        if cmd == aux.GpsCommand.GET_LAT:
            return self._ack(packet, aux.encode_position(round(self.site[0] * aux.STEPS_PER_DEGREE)))
        if cmd == aux.GpsCommand.GET_LONG:
            return self._ack(packet, aux.encode_position(round(self.site[1] * aux.STEPS_PER_DEGREE)))
        return None

    # --- what tests look at ------------------------------------------------------------------------------------

    def axis_degrees(self, device: int) -> float:
        """The true angle of an axis in degrees (0 … 360)."""
        return self.axes[device].position / aux.STEPS_PER_DEGREE


# --- serving the model on a byte stream ----------------------------------------------------------------------------


async def serve(emulator: NexStarEmulator, stream: "object") -> None:
    import trio

    from ..link.framing import AuxFramer

    framer = AuxFramer()
    faults = emulator.faults

    async def send(data: bytes) -> None:
        if faults.split_replies:
            for i in range(0, len(data), 2):
                await stream.send_all(data[i : i + 2])  # type: ignore[attr-defined]
                await trio.sleep(0.002)
        else:
            await stream.send_all(data)  # type: ignore[attr-defined]

    try:
        while True:
            data = await stream.receive_some(4096)  # type: ignore[attr-defined]
            if not data:
                return
            for packet in framer.feed(data):
                if not isinstance(packet, AuxPacket):
                    continue
                out = emulator.handle(packet, trio.current_time())
                if not out:
                    continue
                echo, replies = (out[0], out[1:]) if out[0] is packet else (None, out)
                chunk = echo.encode() if echo is not None else b""
                if faults.foreign_traffic:
                    chunk += AuxPacket(Device.HAND_CONTROLLER_PLUS, Device.GPS, aux.GpsCommand.LINKED).encode()
                if replies and faults.late_reply_s:
                    await send(chunk)
                    chunk = b""
                    await trio.sleep(faults.late_reply_s)
                for reply in replies:
                    frame = reply.encode()
                    if faults.bad_checksum:
                        frame = frame[:-1] + bytes([(frame[-1] + 1) & 0xFF])
                    if faults.garbage:
                        chunk += bytes(emulator.random.choice((0x00, 0x55, 0xAA, 0x3B)) for _ in range(4))
                    chunk += frame
                if chunk:
                    await send(chunk)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        return


def main(argv: list[str] | None = None) -> None:
    from ..emulation import run_emulator_cli

    parser = argparse.ArgumentParser(description="Emulated NexStar mount on the AUX bus")
    parser.add_argument("--no-echo", action="store_true", help="do not echo packets (hand-controller passthrough)")
    parser.add_argument("--gps", action="store_true", help="a GPS on the bus")
    args, rest = parser.parse_known_args(argv)
    config = MountConfig(echo=not args.no_echo, gps=args.gps)
    run_emulator_cli(rest, lambda now: NexStarEmulator(config, now), serve, "NexStar mount (AUX)")


if __name__ == "__main__":
    main()
