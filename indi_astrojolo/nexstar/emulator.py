"""An emulated NexStar mount on the AUX bus: two motor controllers with slew, goto, tracking and homing physics, the
echo of every packet, other devices on the bus (a GPS and a focuser among them, the focuser in emulated_focuser.py),
optional ALT hard stops, and fault injection. It can
also stand behind a hand controller, answering the HC's `P` passthrough frames instead of raw AUX packets.

The model is sans-I/O: `handle(packet, now)` returns the packets the bus carries back (echo first, then the reply),
`hand_controller(request, now)` the bytes an HC returns for one of its commands, `advance(now)` moves the axes and
`take_unsolicited()` hands over packets the mount sent on its own. `serve()` puts it on a trio stream; `main()` runs
it on a pty or on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import trio

from ..link.framing import AuxPacket
from . import aux
from .aux import Command, Device
from .emulated_focuser import EmulatedFocuser, FocuserConfig

# Fixed move rates 1–9 in degrees per second. The default is the hand-controller manual's table, the driver's own
# (aux.MOVE_RATES); the slower INDIGO/AVX progression measured on some controllers (reference §5.3) is the other
# plausible behaviour, offered as a quirk (move_rates_deg_per_s=MEASURED_SLOWER_MOVE_RATES, --slower-move-rates).
SIDEREAL_DEG_PER_S = aux.SIDEREAL_ARCSEC_PER_S / 3600.0
# Rate 9 is the controller's maximum rate: here the fast goto speed measured on the seed's mount, within the table's
# 4 °/s.
DEFAULT_MOVE_RATES = tuple(rate.deg_per_s for rate in aux.MOVE_RATES[:8]) + (2.8,)
MEASURED_SLOWER_MOVE_RATES = (
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
    # The fastest an axis turns on a 0x06/0x07 rate command. The encoding allows 4.55 °/s; what the motors reach is not
    # documented, so the emulator takes a figure near the measured fast goto and the driver stays below it.
    max_rate_deg_per_s: float = 3.0
    goto_done_tolerance_steps: int = 1
    other_devices: dict[int, bytes] = field(
        default_factory=lambda: {
            Device.HAND_CONTROLLER_PLUS: bytes([5, 35, 0x0C, 0x69]),
            Device.WIFI_EVOLUTION: bytes([1, 2]),
        }
    )
    gps: bool = False
    unsupported_reply: bool = True  # answer unknown commands with the F0 NAK (Evolution) instead of silence
    aux_guide_supported: bool = True  # firmware ≥ 6.50
    # Firmware that neither answers nor applies MC_AUX_GUIDE (0x26): no reply, no NAK, no pulse (the echo still comes).
    aux_guide_silent: bool = False
    seed: int = 1
    # Behind a hand controller: the stream carries 8-byte `P` frames and `#`-terminated replies, never an echo.
    passthrough: bool = False
    hc_version: bytes = bytes([5, 35])  # the HC's own `V` reply (NexStar+ 5.35)
    hc_no_answer_delay_s: float = 0.0  # the HC retries before giving up on a silent device (up to 3.5 s on hardware)
    index_position_steps: int = 0  # where MC_SEEK_INDEX stops the AZM axis (one index mark per turn)
    level_position_steps: int = 0  # where MC_LEVEL_START stops the ALT axis
    site: tuple[float, float] = (50.0, 20.0)  # GPS latitude, longitude in degrees (east positive)
    gps_time: Callable[[], float] = time.time  # seconds since the epoch; the GPS reports it as UTC
    # Mechanical ALT stops (signed degrees): motion stops there and the MC sends MTR_SEND_WARNING 0x01.
    altitude_hard_limits: tuple[float, float] | None = None
    # False: the AZM controller acknowledges the cord-wrap commands and ignores them (a CPC was seen to), so only the
    # driver keeps the axis from crossing the cord-wrap position.
    cordwrap_supported: bool = True
    # True: the AZM controller cannot report its cord-wrap settings (0x3B/0x3C answered like an unknown command).
    cordwrap_unreadable: bool = False
    focuser: FocuserConfig | None = None  # a Celestron focus motor (0x12) on the bus
    # Quirks seen or suspected on real controllers, off by default:
    # a goto does not clear the rate register: a tracking rate set before it carries on during and after it
    goto_keeps_rate: bool = False
    # a goto never settles: the axis keeps swinging this many steps about its target and SLEW_DONE stays 0 (0: off)
    goto_hunting_steps: int = 0
    # deceleration after a stop (rate 0, MOVE 0) in °/s², slower than the acceleration: the axis coasts (None: same)
    stop_deceleration_deg_per_s2: float | None = None


# What a second master on the bus sets the AZM axis to: a slow alt-az tracking rate (Andre's example, `00 1D EF`).
SECOND_MASTER_RATE_ARCSEC_PER_S = 7.5
# The id a hand controller puts on the packets it relays for `P` frames, so replies come back to it.
PASSTHROUGH_SOURCE = Device.HAND_CONTROLLER_PLUS
SLEW_LIMIT_WARNING = b"\x01"  # MTR_SEND_WARNING data: "slew limit stopped the axis"


@dataclass
class Faults:
    silent: bool = False  # motor controllers answer nothing (the echo still comes: that is the bus)
    no_echo: bool = False
    bad_checksum: bool = False  # corrupt the checksum of each reply
    garbage: bool = False  # junk bytes before each reply
    split_replies: bool = False  # deliver replies in small pieces
    late_reply_s: float = 0.0  # delay replies by this much; later requests are still echoed on time
    foreign_traffic: bool = False  # another master's packets interleaved
    drop_replies: int = 0
    second_master: bool = False  # after each reply another master sets an AZM rate, on the wire and on the axis
    truncate: bool = False  # reply frames lose their second half on the wire
    oversize: bool = False  # replies carry extra data bytes: whole frames, too long for their command
    wrong_command: bool = False  # replies carry another command's id
    corrupt_echo: bool = False  # the echo comes back with a flipped bit, failing its checksum


OVERSIZE_DATA = b"\x00\x00\x00"  # what the oversize fault appends to each reply's data
WRONG_COMMAND_BITS = 0x40  # the wrong-command fault flips this bit of the command id


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
    homing: str | None = None  # "index" or "level" while MC_SEEK_INDEX / MC_LEVEL_START drives the goto
    index_found: bool = False  # MC_AT_INDEX: set when a seek arrives, cleared when a new one starts
    moved_steps: float = 0.0  # unwrapped travel since power-on, for tests

    def steps(self) -> int:
        return int(round(self.position)) % aux.STEPS_PER_TURN


def _deg_to_steps(deg: float) -> float:
    return deg * aux.STEPS_PER_DEGREE


def _shortest(delta: float) -> float:
    half = aux.STEPS_PER_TURN / 2
    return (delta + half) % aux.STEPS_PER_TURN - half


def _signed_degrees(position: float) -> float:
    """An axis position as an angle in -180 … 180 degrees."""
    return _shortest(position) / aux.STEPS_PER_DEGREE


# The HC's "device did not answer" filler must not contain the terminator, or the reply would look complete.
_FILLER_BYTES = tuple(b for b in range(256) if b != aux.HASH)


class NexStarEmulator:
    def __init__(self, config: MountConfig | None = None, now: float = 0.0) -> None:
        self.config = config or MountConfig()
        self.faults = Faults()
        self.random = random.Random(self.config.seed)
        self.time = now
        self.axes: dict[int, Axis] = {Device.AZM: Axis(Device.AZM), Device.ALT: Axis(Device.ALT)}  # by bus address
        self.received: list[AuxPacket] = []
        self.hc_commands: list[bytes] = []  # HC-level commands received in passthrough mode
        self.site = self.config.site  # GPS latitude, longitude in degrees
        self.outbox: list[AuxPacket] = []  # unsolicited packets the mount sent, until take_unsolicited()
        self.reported_positions: list[tuple[float, int, int]] = []  # (time, device, steps) of each position reply
        self.focuser = EmulatedFocuser(self.config.focuser, now) if self.config.focuser is not None else None

    # --- physics -----------------------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        while self.time < now:
            dt = min(0.01, now - self.time)
            for axis in self.axes.values():
                self._step(axis, dt)
            self.time += dt
        if self.focuser is not None:
            self.focuser.advance(now)

    def _step(self, axis: Axis, dt: float) -> None:
        accel = _deg_to_steps(self.config.acceleration_deg_per_s2)
        if axis.goto_target is not None:
            remaining = _shortest(axis.goto_target - axis.position)
            if axis.cordwrap_enabled and axis.device == Device.AZM and self.config.cordwrap_supported:
                remaining = self._respect_cordwrap(axis, remaining)
            stoppable = math.sqrt(2.0 * accel * abs(remaining))
            wanted = math.copysign(min(axis.goto_speed, stoppable), remaining)
        else:
            wanted = axis.rate
        if axis.velocity < wanted:
            axis.velocity = min(wanted, axis.velocity + self._ramp(axis, wanted, accel) * dt)
        else:
            axis.velocity = max(wanted, axis.velocity - self._ramp(axis, wanted, accel) * dt)
        guide = axis.guide_rate if self.time < axis.guide_until else 0.0
        carried = axis.rate if axis.goto_target is not None and self.config.goto_keeps_rate else 0.0
        step = (axis.velocity + guide + carried) * dt
        if axis.goto_target is not None:
            remaining = _shortest(axis.goto_target - axis.position)
            # Arrived when this step reaches or passes the target (or the axis has settled within tolerance). Demanding
            # a near-zero speed before snapping, as this did, let the axis run past the target, since the discrete
            # deceleration is still at ~0.3 °/s one step before it, and swing back (~0.013° at 2.8 °/s).
            reaches = step * remaining >= 0 and abs(step) >= abs(remaining)
            settled = abs(remaining) <= self.config.goto_done_tolerance_steps and abs(axis.velocity) <= accel * dt * 2
            hunting = self.config.goto_hunting_steps
            if (reaches or settled) and hunting and axis.homing is None:
                step = remaining + self.random.choice((-hunting, hunting))  # overshoots, turns, never settles
                axis.velocity = 0.0
            elif reaches or settled:
                step = remaining
                axis.goto_target = None
                axis.velocity = 0.0
                if not self.config.goto_keeps_rate:
                    axis.rate = 0.0  # a finished goto leaves the axis stopped: tracking must be sent again
                axis.slew_done = True
                if axis.homing == "index":
                    axis.index_found = True
                axis.homing = None
        if axis.device == Device.ALT and self.config.altitude_hard_limits is not None:
            step = self._respect_hard_limits(axis, step)
        axis.position = (axis.position + step) % aux.STEPS_PER_TURN
        axis.moved_steps += step

    def _ramp(self, axis: Axis, wanted: float, accel: float) -> float:
        """How fast the speed changes: the acceleration, or the stop deceleration (a quirk) when coming to rest."""
        stopping = axis.goto_target is None and wanted == 0.0
        if stopping and self.config.stop_deceleration_deg_per_s2 is not None:
            return _deg_to_steps(self.config.stop_deceleration_deg_per_s2)
        return accel

    def _respect_hard_limits(self, axis: Axis, step: float) -> float:
        """Shorten a step that would run through a mechanical stop; hitting one stops the axis and warns."""
        assert self.config.altitude_hard_limits is not None
        low, high = self.config.altitude_hard_limits
        here = _signed_degrees(axis.position)
        # Unwrapped on purpose: a step from +179.9° upwards ends at +180.1°, beyond any upper stop.
        there = here + step / aux.STEPS_PER_DEGREE
        if step > 0 and there > high:
            stop_at = max(here, high)  # an axis already beyond the stop (SET_POSITION) may not go further
        elif step < 0 and there < low:
            stop_at = min(here, low)
        else:
            return step
        self._stop(axis)
        axis.velocity = 0.0
        axis.guide_until = -1.0
        self.outbox.append(AuxPacket(axis.device, Device.APP, Command.SEND_WARNING, SLEW_LIMIT_WARNING))
        return (stop_at - here) * aux.STEPS_PER_DEGREE

    @staticmethod
    def _stop(axis: Axis) -> None:
        """End whatever positioning the MC was doing (goto, seek, level) and the commanded rate."""
        axis.goto_target = None
        axis.homing = None
        axis.rate = 0.0
        axis.slew_done = True

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
        out = [packet] if self.config.echo and not self.faults.no_echo else []
        reply = self._answer(packet, now)
        return out if reply is None else out + [reply]

    def _answer(self, packet: AuxPacket, now: float) -> AuxPacket | None:
        self.advance(now)
        self.received.append(packet)
        reply = self._reply(packet)
        if reply is None:
            return None
        if self.faults.drop_replies > 0:
            self.faults.drop_replies -= 1
            return None
        return reply

    def take_unsolicited(self) -> list[AuxPacket]:
        """Packets the mount sent on its own since the last call (MTR_SEND_WARNING when a hard stop is hit)."""
        out, self.outbox = self.outbox, []
        return out

    def second_master_traffic(self, now: float) -> list[AuxPacket]:
        """Another master (a hand controller left tracking) setting the AZM rate: its command and the MC's ACK.

        The command takes effect on the axis, overwriting whatever rate the driver set, as on a real shared bus.
        """
        self.advance(now)
        cmd, data = aux.encode_rate(SECOND_MASTER_RATE_ARCSEC_PER_S)
        command = AuxPacket(Device.HAND_CONTROLLER_PLUS, Device.AZM, cmd, data)
        ack = self._reply(command)
        return [command] if ack is None else [command, ack]

    # --- behind a hand controller ------------------------------------------------------------------------------

    def hand_controller(self, request: bytes, now: float) -> bytes:
        """What a hand controller returns on its serial port for one HC command (a `P` frame, `V`, `m` or `K x`)."""
        return self._hand_controller(request, now)[0]

    def _hand_controller(self, request: bytes, now: float) -> tuple[bytes, bool]:
        """The HC's reply bytes, and whether the addressed device answered (False: the HC gave up on it)."""
        self.advance(now)
        self.hc_commands.append(bytes(request))
        hash_ = bytes([aux.HASH])
        kind = request[:1]
        if kind == b"V":
            return self.config.hc_version[:2].ljust(2, b"\x00") + hash_, True
        if kind == b"m":
            return self.config.model[:1] + hash_, True
        if kind == b"K" and len(request) == 2:
            return request[1:2] + hash_, True
        if kind == bytes([aux.PASSTHROUGH]) and len(request) == aux.PASSTHROUGH_FRAME_LEN:
            return self._relay(request, now)
        return b"", True  # the HC ignores what it does not know

    def _relay(self, frame: bytes, now: float) -> tuple[bytes, bool]:
        length, dst, cmd, response_bytes = frame[1], frame[2], frame[3], frame[7]
        if 1 <= length <= 1 + aux.PASSTHROUGH_MAX_DATA:
            packet = AuxPacket(PASSTHROUGH_SOURCE, dst, cmd, bytes(frame[4 : 3 + length]))
            reply = self._answer(packet, now)
            # The HC checks the checksum and the command: a corrupt reply or the F0 NAK is no answer to it.
            if reply is not None and reply.cmd == cmd and not self.faults.bad_checksum:
                return reply.data[:response_bytes].ljust(response_bytes, b"\x00") + bytes([aux.HASH]), True
        # No answer: whatever garbage is in the buffer plus one extra byte, so the client sees r + 1 bytes before '#'.
        filler = bytes(self.random.choice(_FILLER_BYTES) for _ in range(response_bytes + 1))
        return filler + bytes([aux.HASH]), False

    def _ack(self, packet: AuxPacket, data: bytes = b"") -> AuxPacket:
        return AuxPacket(packet.dst, packet.src, packet.cmd, data)

    def _reply(self, packet: AuxPacket) -> AuxPacket | None:
        if packet.dst in self.axes:
            if self.faults.silent:
                return None
            return self._motor(self.axes[packet.dst], packet)
        if packet.dst == Device.GPS and self.config.gps:
            return self._gps(packet)
        if packet.dst == Device.FOCUSER and self.focuser is not None:
            if self.faults.silent:
                return None
            return self.focuser.handle(packet, nak=self.config.unsupported_reply)
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
            self.reported_positions.append((self.time, int(axis.device), axis.steps()))
            return ack(aux.encode_position(axis.steps()))
        if cmd == Command.SET_POSITION and len(data) == 3:
            axis.position = float(aux.decode_position(data))
            return ack()
        if cmd in (Command.GOTO_FAST, Command.GOTO_SLOW) and len(data) in (2, 3):
            target = aux.decode_position(data)
            speed = self.config.goto_fast_deg_per_s if cmd == Command.GOTO_FAST else self.config.goto_slow_deg_per_s
            axis.goto_target, axis.goto_speed, axis.slew_done = target, _deg_to_steps(speed), False
            if not self.config.goto_keeps_rate:
                axis.rate = 0.0
            axis.homing = None
            return ack()
        if cmd == Command.SLEW_DONE:
            return ack(b"\xff" if axis.slew_done else b"\x00")
        if cmd in (Command.SET_POS_GUIDERATE, Command.SET_NEG_GUIDERATE) and len(data) in (2, 3):
            arcsec = aux.decode_rate(data)
            self._stop(axis)
            speed = min(arcsec / aux.ARCSEC_PER_STEP, _deg_to_steps(self.config.max_rate_deg_per_s))
            axis.rate = math.copysign(speed, 1 if cmd == Command.SET_POS_GUIDERATE else -1)
            return ack()
        if cmd in (Command.MOVE_POS, Command.MOVE_NEG) and len(data) == 1:
            level = data[0]
            if level > 9:
                return None
            self._stop(axis)
            speed = 0.0 if level == 0 else _deg_to_steps(self.config.move_rates_deg_per_s[level - 1])
            axis.rate = speed if cmd == Command.MOVE_POS else -speed
            return ack()
        if cmd == Command.SEEK_INDEX and axis.device == Device.AZM:
            return ack(self._start_homing(axis, "index", self.config.index_position_steps))
        if cmd == Command.AT_INDEX and axis.device == Device.AZM:
            return ack(b"\xff" if axis.index_found else b"\x00")
        if cmd == Command.LEVEL_START and axis.device == Device.ALT:
            return ack(self._start_homing(axis, "level", self.config.level_position_steps))
        if cmd == Command.LEVEL_DONE and axis.device == Device.ALT:
            return ack(b"\x00" if axis.homing == "level" else b"\xff")
        if cmd in (Command.SEND_WARNING, Command.SEND_ERROR):
            return None  # a controller acknowledging our warning; nothing to answer
        if cmd == Command.AUX_GUIDE and len(data) == 2:
            if self.config.aux_guide_silent:
                return None
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
        if cmd in (Command.POLL_CORDWRAP, Command.GET_CORDWRAP_POS) and self.config.cordwrap_unreadable:
            return (
                AuxPacket(packet.dst, packet.src, aux.NOT_SUPPORTED, bytes([cmd]))
                if self.config.unsupported_reply
                else None
            )
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

    def _start_homing(self, axis: Axis, kind: str, position: int) -> bytes:
        """Drive to the index / level position at the goto-fast speed (the nearest way, as for a goto)."""
        axis.goto_target = position % aux.STEPS_PER_TURN
        axis.goto_speed = _deg_to_steps(self.config.goto_fast_deg_per_s)
        axis.rate = 0.0
        axis.slew_done = False
        axis.homing = kind
        if kind == "index":
            axis.index_found = False
        return b""

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
        if cmd in (aux.GpsCommand.GET_DATE, aux.GpsCommand.GET_YEAR, aux.GpsCommand.GET_TIME):
            utc = datetime.datetime.fromtimestamp(self.config.gps_time(), datetime.UTC)
            if cmd == aux.GpsCommand.GET_DATE:
                return self._ack(packet, bytes([utc.month, utc.day]))
            if cmd == aux.GpsCommand.GET_YEAR:
                return self._ack(packet, utc.year.to_bytes(2, "big"))
            return self._ack(packet, bytes([utc.hour, utc.minute, utc.second]))
        return None

    # --- what tests look at ------------------------------------------------------------------------------------

    def received_summary(self) -> str:
        """Every packet received so far, one per line as "COMMAND dst data" (for tests steering the program)."""
        lines = []
        for packet in self.received:
            try:
                name = Command(packet.cmd).name
            except ValueError:
                name = f"0x{packet.cmd:02x}"
            lines.append(f"{name} {packet.dst:02x} {packet.data.hex()}".rstrip())
        return "\n".join(lines)

    def reported_positions_since(self, index: int) -> list[tuple[float, int, int]]:
        return self.reported_positions[index:]

    def axis_degrees(self, device: int) -> float:
        """The true angle of an axis in degrees (0 … 360)."""
        return self.axes[device].position / aux.STEPS_PER_DEGREE

    def true_altitude_degrees(self) -> float:
        """The true ALT axis angle as a signed angle (-180 … 180 degrees)."""
        return _signed_degrees(self.axes[Device.ALT].position)

    def true_axes(self) -> tuple[float, float, float]:
        """The model's time with the true AZM angle (0 … 360) and ALT angle (signed) at that time, in degrees."""
        return self.time, self.axis_degrees(Device.AZM), self.true_altitude_degrees()


# --- serving the model on a byte stream ----------------------------------------------------------------------------

HAND_CONTROLLER_COMMAND_LENGTHS = {aux.PASSTHROUGH: aux.PASSTHROUGH_FRAME_LEN, ord("V"): 1, ord("m"): 1, ord("K"): 2}
HARD_LIMIT_TICK_S = 0.05  # how often serve() moves the axes on its own so a hard-stop warning goes out unprompted


class HandControllerRequests:
    """Splits what a driver sends to a hand controller into commands: 8-byte `P` frames, `V`, `m` and `K x`.

    Bytes that start no known command are dropped one at a time, as the HC ignores them.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.ignored = 0

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        self._buf += data
        commands: list[bytes] = []
        while self._buf:
            length = HAND_CONTROLLER_COMMAND_LENGTHS.get(self._buf[0])
            if length is None:
                del self._buf[0]
                self.ignored += 1
                continue
            if len(self._buf) < length:
                break
            commands.append(bytes(self._buf[:length]))
            del self._buf[:length]
        return commands


async def serve(emulator: NexStarEmulator, stream: trio.abc.Stream) -> None:
    """Run the model on `stream` until the peer goes away: raw AUX packets, or HC passthrough frames.

    Replies that are late (the `late_reply_s` fault, an HC giving up on a silent device) are queued and go out in
    order while later requests are still read and echoed, so a driver that timed out sees the stale reply after its
    next request's echo, as on a real bus.
    """
    import trio

    faults = emulator.faults
    config = emulator.config
    write_lock = trio.Lock()  # a queued reply must not land inside an echo
    reply_queue_in, reply_queue_out = trio.open_memory_channel[tuple[float, Callable[[], bytes]]](math.inf)
    queued = 0

    async def write(data: bytes) -> None:
        if not data:
            return
        async with write_lock:
            if faults.split_replies:
                for i in range(0, len(data), 2):
                    await stream.send_all(data[i : i + 2])
                    await trio.sleep(0.002)
            else:
                await stream.send_all(data)

    async def reply(delay: float, produce: Callable[[], bytes], before: bytes = b"") -> None:
        """Send `before` now and the produced reply after `delay`, behind any reply still queued."""
        nonlocal queued
        if delay <= 0 and queued == 0:
            await write(before + produce())
            return
        await write(before)
        queued += 1
        reply_queue_in.send_nowait((trio.current_time() + delay, produce))

    async def deliver_queued_replies() -> None:
        nonlocal queued
        async for due, produce in reply_queue_out:
            await trio.sleep_until(due)
            await write(produce())
            queued -= 1

    def unsolicited() -> bytes:
        # The HC consumes the MCs' warnings itself; only a raw bus shows them.
        packets = emulator.take_unsolicited()
        return b"" if config.passthrough else b"".join(p.encode() for p in packets)

    def misreport(packet: AuxPacket) -> AuxPacket:
        """A reply as the wrong-command and oversize faults change it (still a well-formed frame)."""
        cmd = packet.cmd ^ WRONG_COMMAND_BITS if faults.wrong_command else packet.cmd
        data = packet.data + OVERSIZE_DATA if faults.oversize else packet.data
        return AuxPacket(packet.src, packet.dst, cmd, data)

    def second_master() -> bytes:
        if not faults.second_master:
            return b""
        traffic = emulator.second_master_traffic(trio.current_time())
        return b"" if config.passthrough else b"".join(p.encode() for p in traffic)

    async def serve_aux() -> None:
        from ..link.framing import AuxFramer

        framer = AuxFramer()
        while True:
            data = await stream.receive_some(4096)
            if not data:
                return
            for packet in framer.feed(data):
                if not isinstance(packet, AuxPacket):
                    continue
                out = emulator.handle(packet, trio.current_time())
                echo, replies = (out[0], out[1:]) if out and out[0] is packet else (None, out)
                echo_frame = echo.encode() if echo is not None else b""
                if echo_frame and faults.corrupt_echo:
                    echo_frame = echo_frame[:-1] + bytes([echo_frame[-1] ^ 0x01])
                chunk = unsolicited() + echo_frame
                if faults.foreign_traffic:
                    chunk += AuxPacket(Device.HAND_CONTROLLER_PLUS, Device.GPS, aux.GpsCommand.LINKED).encode()
                if not replies:
                    await write(chunk)
                    continue

                def produce(replies: list[AuxPacket] = replies) -> bytes:
                    # Faults are read when the reply goes out, so a test can switch them while one is queued.
                    out_bytes = b""
                    for reply_packet in replies:
                        frame = misreport(reply_packet).encode()
                        if faults.bad_checksum:
                            frame = frame[:-1] + bytes([(frame[-1] + 1) & 0xFF])
                        if faults.truncate:
                            frame = frame[: len(frame) // 2]
                        if faults.garbage:
                            out_bytes += bytes(emulator.random.choice((0x00, 0x55, 0xAA, 0x3B)) for _ in range(4))
                        out_bytes += frame
                    return out_bytes + second_master()

                await reply(faults.late_reply_s, produce, before=chunk)

    async def serve_hand_controller() -> None:
        requests = HandControllerRequests()
        while True:
            data = await stream.receive_some(4096)
            if not data:
                return
            for request in requests.feed(data):
                answer, answered = emulator._hand_controller(request, trio.current_time())
                unsolicited()  # drained so they do not pile up; the HC would not pass them on
                if not answer:
                    continue
                delay = faults.late_reply_s + (0.0 if answered else config.hc_no_answer_delay_s)
                relayed = request[:1] == bytes([aux.PASSTHROUGH])

                def produce(answer: bytes = answer, relayed: bool = relayed, answered: bool = answered) -> bytes:
                    junk = b""
                    if faults.garbage:
                        junk = bytes(emulator.random.choice(_FILLER_BYTES) for _ in range(4))
                    if relayed and answered:
                        second_master()  # applied to the axis; the HC port does not show bus traffic
                    return junk + answer

                await reply(delay, produce)

    async def tick() -> None:
        while True:
            await trio.sleep(HARD_LIMIT_TICK_S)
            emulator.advance(trio.current_time())
            await write(unsolicited())

    async with trio.open_nursery() as nursery:

        async def guarded(job: Callable[[], Awaitable[None]]) -> None:
            try:
                await job()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass  # the peer went away: that ends the session, not the program
            nursery.cancel_scope.cancel()

        nursery.start_soon(guarded, deliver_queued_replies)
        if config.altitude_hard_limits is not None:
            nursery.start_soon(guarded, tick)
        await guarded(serve_hand_controller if config.passthrough else serve_aux)


def main(argv: list[str] | None = None) -> None:
    from ..emulation import run_emulator_cli

    parser = argparse.ArgumentParser(description="Emulated NexStar mount on the AUX bus")
    parser.add_argument("--no-echo", action="store_true", help="do not echo packets")
    parser.add_argument(
        "--passthrough", action="store_true", help="behind a hand controller: answer 8-byte P frames (implies no echo)"
    )
    parser.add_argument("--gps", action="store_true", help="a GPS on the bus")
    parser.add_argument(
        "--goto-speeds", nargs=2, type=float, metavar=("FAST", "SLOW"), help="goto speeds in degrees per second"
    )
    parser.add_argument("--max-rate", type=float, metavar="DEG_S", help="fastest axis rate on a rate command (°/s)")
    parser.add_argument("--focuser", action="store_true", help="a Celestron focus motor (0x12) on the bus")
    parser.add_argument("--focuser-speed", type=float, metavar="STEPS_S", help="focuser speed in steps per second")
    parser.add_argument("--focuser-stops", nargs=2, type=int, metavar=("LOW", "HIGH"), help="focuser travel, raw steps")
    parser.add_argument("--focuser-uncalibrated", action="store_true", help="the focuser has no hard stops stored")
    parser.add_argument(
        "--slower-move-rates",
        action="store_true",
        help="move rates 1-9 as measured on some controllers (0.5x ... 64x, 1, 2.8 deg/s)",
    )
    parser.add_argument("--aux-guide-silent", action="store_true", help="quirk: MC_AUX_GUIDE (0x26) goes unanswered")
    parser.add_argument("--goto-keeps-rate", action="store_true", help="quirk: a goto keeps the tracking rate")
    parser.add_argument("--goto-hunting", type=int, metavar="STEPS", help="quirk: gotos swing about the target forever")
    parser.add_argument(
        "--stop-deceleration", type=float, metavar="DEG_S2", help="quirk: slower deceleration on a stop"
    )
    args, rest = parser.parse_known_args(argv)
    config = MountConfig(echo=not (args.no_echo or args.passthrough), gps=args.gps, passthrough=args.passthrough)
    config.aux_guide_silent, config.goto_keeps_rate = args.aux_guide_silent, args.goto_keeps_rate
    config.goto_hunting_steps = args.goto_hunting or 0
    config.stop_deceleration_deg_per_s2 = args.stop_deceleration
    if args.focuser:
        config.focuser = FocuserConfig(calibrated=not args.focuser_uncalibrated)
        if args.focuser_speed:
            config.focuser.speed_steps_per_s = args.focuser_speed
        if args.focuser_stops:
            config.focuser.low_stop, config.focuser.high_stop = args.focuser_stops
    if args.slower_move_rates:
        config.move_rates_deg_per_s = MEASURED_SLOWER_MOVE_RATES
    if args.max_rate:
        config.max_rate_deg_per_s = args.max_rate
    if args.goto_speeds:
        config.goto_fast_deg_per_s, config.goto_slow_deg_per_s = args.goto_speeds
    run_emulator_cli(rest, lambda now: NexStarEmulator(config, now), serve, "NexStar mount (AUX)")


if __name__ == "__main__":
    main()
