"""An emulated AstroLink 4 (USB or mini): the same wire protocol, with physics and fault injection.

The model is sans-I/O: `handle(line, now)` returns the reply text, `advance(now)` moves time on. Time is whatever the
caller says it is, so tests run whole nights on trio's fake clock. `serve()` puts the model on a trio stream (a pty
master, a TCP connection or an in-memory pair); `main()` runs it as a program on a pty or TCP port on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import protocol as p
from .protocol import Layout

if TYPE_CHECKING:
    import trio

MAGNUS_A = 17.271
MAGNUS_B = 237.7
NO_SENSOR_JUNK = "1037.50"  # what the firmware sends in the fields of an absent sky sensor

DEFAULT_U = "25000:220:0:100:440:0:0:1:257:0:0:0:0:0:1:0:0"
DEFAULT_E = "30:1200:1:0:20"
DEFAULT_N = "1077:140:100:100"
DEFAULT_Z = "400:2"


def dew_point(temperature: float, humidity: float) -> float:
    """Magnus formula, astrojolo's constants."""
    humidity = max(1.0, min(100.0, humidity))
    gamma = MAGNUS_A * temperature / (MAGNUS_B + temperature) + math.log(humidity / 100.0)
    return MAGNUS_B * gamma / (MAGNUS_A - gamma)


@dataclass
class Faults:
    """Misbehaviour to inject; every switch is independent."""

    silent: bool = False  # answer nothing
    wrong_letter: bool = False  # answer with an error line that does not start with the command's letter
    garbage: bool = False  # put junk bytes in front of each reply
    truncate_status: bool = False  # cut q replies in the middle of a field
    reply_for_other_command: bool = False  # answer with a stale reply to a different command first
    drop_replies: int = 0  # swallow this many replies, then answer normally
    truncate: bool = False  # every reply longer than a bare acknowledgement loses its second half
    oversize: bool = False  # every reply runs on far past any line length the protocol has
    late_reply_s: float = 0.0  # replies go out this late, in order, while later commands are still taken in
    silent_from: str = ""  # from the first command starting with this on, answer nothing (a device that hangs)


OVERSIZE_PADDING = ":0" * 300  # what the oversize fault appends: longer than any reader's line limit


@dataclass
class Environment:
    """The night outside: a slow cooling with humidity rising towards dew, and a sky that may cloud over."""

    start_temperature: float = 12.0
    cooling_per_hour: float = 0.8
    start_humidity: float = 62.0
    humidity_per_hour: float = 3.0
    clear_sky_depression: float = 22.0  # sky colder than ambient under a clear sky, °C
    cloudiness: float = 0.1  # 0 clear … 1 overcast
    sky_brightness: float = 20.6  # mag/arcsec²
    noise: float = 0.02

    def temperature(self, hours: float) -> float:
        return self.start_temperature - self.cooling_per_hour * hours + 0.15 * math.sin(hours * 3.1)

    def humidity(self, hours: float) -> float:
        return min(99.0, self.start_humidity + self.humidity_per_hour * hours)


@dataclass
class EmulatorConfig:
    layout: Layout = Layout.USB
    identity: str = "#:AstroLink4USB"
    line_ending: str = "\n"
    short_status_while_moving: bool = False
    sensor1: bool = True
    sensor2: bool = True
    sky_sensor: bool = True
    sky_brightness_sensor: bool = True
    supply_voltage: float = 12.4
    supply_resistance: float = 0.05  # volts lost per ampere drawn
    idle_current: float = 0.12
    output_current: tuple[float, float, float] = (0.8, 0.5, 0.3)
    heater_current: tuple[float, float] = (1.2, 0.8)  # at 100 % duty
    stepper_current_factor: float = 1.0  # × the configured motor current while moving
    # The manual gives both signs (compensation.py): +1 follows its rule "When decreasing temperature requires the
    # focuser position to decrease, then the value will be positive", i.e. pending = (T_now - T_ref) x coefficient;
    # -1 follows its example "35 ... the temperature will drop 2C, then the focuser will move 70 steps (outwards)".
    # The firmware's own sign is unconfirmed, so the driver must work with both. Applying moves by the pending count.
    compensation_sign: int = 1
    seed: int = 1
    # The serial speed the device talks at (the USB 38400, the mini 115200); None answers at any speed, as behind a
    # TCP bridge. At another speed it never understands a command: it stays silent, or with `wrong_baud_noise` the
    # driver receives noise.
    baud: int | None = p.BAUD_USB
    wrong_baud_noise: bool = False
    # How an unplugged or failed sensor shows: by default its present flag goes to 0 and its fields hold filler
    # (sky sensor 1037.50, T/H sensors 0.00). With `absent_flag_kept` the flag stays 1 and only the filler tells;
    # with `absent_filler` "nan" the fields read nan, as an Arduino prints a failed float reading.
    absent_flag_kept: bool = False
    absent_filler: str = "zeros"  # or "nan"

    @classmethod
    def mini(cls) -> EmulatorConfig:
        return cls(
            layout=Layout.MINI,
            identity="#:AstroLink4mini",
            sky_sensor=False,
            sky_brightness_sensor=False,
            baud=p.BAUD_MINI,
        )


class AstroLink4Emulator:
    def __init__(self, config: EmulatorConfig | None = None, now: float = 0.0) -> None:
        self.config = config or EmulatorConfig()
        self.faults = Faults()
        self.environment = Environment()
        self.random = random.Random(self.config.seed)
        self.started = now
        self.time = now
        self.u = DEFAULT_U.split(":")
        self.e = DEFAULT_E.split(":")
        self.n = DEFAULT_N.split(":")
        self.z = DEFAULT_Z.split(":")
        self.buzzer = 0
        self.hand_controller = 1
        self.position = 0.0
        self.target = 0
        self.velocity = 0.0
        self.outputs = [int(self.u[p.U_OUTPUT_1_DEFAULT - 1 + i]) != 0 for i in range(3)]
        self.pwm_setting = [0, 0]  # 0…100, or PWM_AUTO
        self.amp_hours = 0.0
        self.watt_hours = 0.0
        self.dc_motor_until = -1.0
        self.protection: tuple[int, float] | None = None
        self._over_limit_since: float | None = None
        self.input_voltage_override: float | None = None
        self.extra_current = 0.0
        self.compensation_reference = self.temperature()
        self.commands: list[str] = []  # every command received, for tests to inspect
        self.reported_positions: list[tuple[float, int]] = []  # (time, position) in every q and p reply, for tests

    # --- derived quantities ------------------------------------------------------------------------------------

    def hours(self) -> float:
        return (self.time - self.started) / 3600.0

    def temperature(self) -> float:
        return self.environment.temperature(self.hours())

    def humidity(self) -> float:
        return self.environment.humidity(self.hours())

    def sensor2_temperature(self) -> float:
        return self.temperature() - 0.6  # a probe on the tube runs a little colder than the air

    def sky_temperature(self) -> float:
        env = self.environment
        return self.temperature() - env.clear_sky_depression * (1.0 - env.cloudiness)

    def pwm_duty(self, index: int) -> int:
        setting = self.pwm_setting[index]
        if setting != p.PWM_AUTO:
            return setting
        # Automatic dew heating: off below 40 % RH, full at 90 % (the mini II's start/full thresholds).
        return int(round(max(0.0, min(1.0, (self.humidity() - 40.0) / 50.0)) * 100))

    def stepper_speed(self) -> float:
        return max(1.0, float(self.u[p.U_SPEED - 1]))

    def stepper_acceleration(self) -> float:
        return max(1.0, float(self.u[p.U_ACCELERATION - 1]))

    def max_position(self) -> int:
        return int(float(self.u[p.U_MAX_POSITION - 1]))

    def total_current(self) -> float:
        cfg = self.config
        current = cfg.idle_current + self.extra_current
        current += sum(amps for amps, on in zip(cfg.output_current, self.outputs) if on)
        current += sum(amps * self.pwm_duty(i) / 100.0 for i, amps in enumerate(cfg.heater_current))
        if self.velocity != 0.0:
            current += float(self.z[p.Z_CURRENT - 1]) / 1000.0 * cfg.stepper_current_factor
        return current

    def input_voltage(self) -> float:
        if self.input_voltage_override is not None:
            return self.input_voltage_override
        return self.config.supply_voltage - self.config.supply_resistance * self.total_current()

    def steps_made(self) -> int:
        """The position counter: whole steps. A move under way has not made its last step until it arrives (rounding
        the continuous position reported "0 to go" for the last half step, while the stepper still moved)."""
        if self.position == self.target or self.velocity == 0.0:
            return int(round(self.position))
        return math.floor(self.position) if self.target > self.position else math.ceil(self.position)

    def compensation_pending(self) -> int:
        coefficient = p.decode_setting("e", p.E_COEFFICIENT, float(self.e[p.E_COEFFICIENT - 1]))
        change = self.temperature() - self.compensation_reference
        return int(round(self.config.compensation_sign * change * coefficient))

    # --- time --------------------------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Integrate motion, energy, protection and compensation up to `now`, in steps of at most 10 ms."""
        while self.time < now:
            dt = min(0.01, now - self.time)
            self._step(dt)
            self.time += dt

    def _step(self, dt: float) -> None:
        self._move_stepper(dt)
        current = self.total_current()
        voltage = self.input_voltage()
        self.amp_hours += current * dt / 3600.0
        self.watt_hours += voltage * current * dt / 3600.0
        self._check_protection(voltage, current)
        # float(), not int(): _write_block accepts any number, and int("1.0") raised here on every later step.
        if float(self.e[p.E_AUTO - 1]) and self.velocity == 0.0 and self.target == round(self.position):
            pending = self.compensation_pending()
            if pending and abs(pending) >= float(self.e[p.E_THRESHOLD - 1]):
                self._apply_compensation()

    def _move_stepper(self, dt: float) -> None:
        remaining = self.target - self.position
        if remaining == 0 and self.velocity == 0.0:
            return
        speed, acceleration = self.stepper_speed(), self.stepper_acceleration()
        direction = 1.0 if remaining > 0 else -1.0
        # Trapezoidal profile: the fastest speed from which the stepper can still stop at the target.
        stoppable = math.sqrt(2.0 * acceleration * abs(remaining))
        wanted = direction * min(speed, stoppable)
        if self.velocity < wanted:
            self.velocity = min(wanted, self.velocity + acceleration * dt)
        else:
            self.velocity = max(wanted, self.velocity - acceleration * dt)
        if self.velocity * direction > 0:
            # Never faster than it can stop from at the target, as AccelStepper runs it: a 10 ms step's lag on the
            # deceleration let a new target behind the stepper make it overshoot the old one (and pass 0 or the
            # maximum).
            self.velocity = direction * min(abs(self.velocity), stoppable)
        step = self.velocity * dt
        if abs(step) >= abs(remaining) or (abs(remaining) < 1.0 and abs(self.velocity) <= acceleration * dt):
            self.position = float(self.target)
            self.velocity = 0.0
        else:
            self.position += step

    def _check_protection(self, voltage: float, current: float) -> None:
        limit_volts = p.decode_setting("n", p.N_OVER_VOLTAGE, float(self.n[p.N_OVER_VOLTAGE - 1]))
        limit_amps = p.decode_setting("n", p.N_OVER_CURRENT, float(self.n[p.N_OVER_CURRENT - 1]))
        over = 1 if voltage > limit_volts else 2 if current > limit_amps else 0
        if not over:
            self._over_limit_since = None
            return
        if self._over_limit_since is None:
            self._over_limit_since = self.time
        if (self.time - self._over_limit_since) * 1000.0 >= float(
            self.n[p.N_OVER_TIME - 1]
        ) and self.protection is None:
            self.protection = (over, voltage if over == 1 else current)
            self.outputs = [False, False, False]
            self.pwm_setting = [0, 0]

    def _apply_compensation(self) -> None:
        pending = self.compensation_pending()
        self.target = max(0, min(self.max_position(), int(round(self.position)) + pending))
        self.compensation_reference = self.temperature()

    # --- protocol ----------------------------------------------------------------------------------------------

    def handle(self, line: str, now: float) -> str | None:
        """The reply to one command line (without line ending), or None for silence."""
        self.advance(now)
        command = line.strip()
        self.commands.append(command)
        if self.faults.silent_from and command.startswith(self.faults.silent_from):
            self.faults.silent = True
        if not command or self.faults.silent:
            return None
        if self.faults.drop_replies > 0:
            self.faults.drop_replies -= 1
            return None
        if self.faults.wrong_letter:
            return "ERR"
        reply = self._execute(command)
        if reply is not None and self.faults.truncate_status and reply.startswith("q:"):
            reply = reply[: len(reply) // 2]
        if reply is not None and self.faults.truncate and len(reply) > 2:
            reply = reply[: len(reply) // 2]
        if reply is not None and self.faults.oversize:
            reply += OVERSIZE_PADDING
        return reply

    def _execute(self, command: str) -> str | None:
        letter, _, rest = command.partition(":")
        args = rest.split(":") if rest else []
        if args and args[-1] == "":
            args.pop()
        if letter == "#":
            return self.config.identity
        # Every other command is one letter, answered by _cmd_<letter> (case matters: 'u' reads, 'U' writes).
        handler = getattr(self, f"_cmd_{letter}", None) if len(letter) == 1 and letter.isalpha() else None
        if handler is None:
            return "ERR"
        try:
            return handler(args)
        except (ValueError, IndexError):
            return "ERR"

    def status_fields(self) -> list[str]:
        cfg = self.config
        temperature, humidity = self.temperature(), self.humidity()
        noise = self.environment.noise
        jitter = lambda: self.random.uniform(-noise, noise)  # noqa: E731 - tiny helper
        position = self.steps_made()
        fields = ["q", str(position), str(self.target - position), f"{self.total_current():.2f}"]
        if cfg.sensor1:
            # The device derives the dew point from the temperature it measured (noise included); computing it from
            # the noiseless temperature made q[7] disagree with q[5] and q[6].
            measured = temperature + jitter()
            fields += ["1", f"{measured:.2f}", f"{humidity:.2f}", f"{dew_point(measured, humidity):.2f}"]
        else:
            fields += [self._absent_flag()] + [self._filler("0.00")] * 3
        if cfg.layout is Layout.MINI:
            probe = f"{self.sensor2_temperature():.2f}" if cfg.sensor2 else self._filler("0.00")
        else:
            probe = "0.00"
        fields += ["1" if cfg.sensor2 else self._absent_flag(), probe]
        fields += [str(self.pwm_duty(0)), str(self.pwm_duty(1))]
        fields += ["1" if on else "0" for on in self.outputs]
        fields += [f"{self.input_voltage():.2f}", "5.00", f"{self.amp_hours:.2f}", f"{self.watt_hours:.2f}"]
        fields += ["1" if self.time < self.dc_motor_until else "0", str(self.compensation_pending())]
        fields += [str(self.protection[0]), f"{self.protection[1]:.2f}"] if self.protection else ["0", "0"]
        if cfg.layout is Layout.MINI:
            return fields
        if cfg.sky_sensor:
            fields += ["1", f"{self.sky_temperature() + jitter():.2f}", f"{temperature:.2f}"]
        else:
            fields += [self._absent_flag(), self._filler(NO_SENSOR_JUNK), self._filler(NO_SENSOR_JUNK)]
        if cfg.sensor2:
            t2, h2 = self.sensor2_temperature(), min(100.0, humidity + 4.0)
            fields += ["1", f"{t2:.2f}", f"{h2:.2f}", f"{dew_point(t2, h2):.2f}"]
        else:
            fields += [self._absent_flag()] + [self._filler("0.00")] * 3
        if cfg.sky_brightness_sensor:
            fields += ["1", f"{self.environment.sky_brightness + jitter():.2f}"]
        else:
            fields += [self._absent_flag(), self._filler("0.00")]
        return fields

    def _absent_flag(self) -> str:
        return "1" if self.config.absent_flag_kept else "0"

    def _filler(self, zeros: str) -> str:
        return "nan" if self.config.absent_filler == "nan" else zeros

    def understands(self, baud: int | None) -> bool:
        """Whether bytes sent at `baud` (None: a link without a speed) reach the device as sent."""
        return baud is None or self.config.baud is None or baud == self.config.baud

    def reported_positions_since(self, index: int) -> list[tuple[float, int]]:
        return self.reported_positions[index:]

    def _cmd_q(self, args: list[str]) -> str:
        fields = self.status_fields()
        self.reported_positions.append((self.time, int(fields[1])))
        if self.config.short_status_while_moving and self.velocity != 0.0:
            fields = fields[:4]
        return ":".join(fields)

    def _read_block(self, letter: str, values: list[str]) -> str:
        return letter + ":" + ":".join(values)

    def _write_block(self, letter: str, values: list[str], args: list[str]) -> str:
        if len(args) < len(values):
            return "ERR"
        for text in args:
            float(text)  # the firmware takes numbers only
        values[:] = args  # fields beyond the documented ones are kept as sent
        return f"{letter}:"

    def _cmd_u(self, args: list[str]) -> str:
        return self._read_block("u", self.u)

    def _cmd_U(self, args: list[str]) -> str:
        return self._write_block("U", self.u, args)

    def _cmd_e(self, args: list[str]) -> str:
        return self._read_block("e", self.e)

    def _cmd_E(self, args: list[str]) -> str:
        return self._write_block("E", self.e, args)

    def _cmd_n(self, args: list[str]) -> str:
        return self._read_block("n", self.n)

    def _cmd_N(self, args: list[str]) -> str:
        return self._write_block("N", self.n, args)

    def _cmd_z(self, args: list[str]) -> str | None:
        return self._read_block("z", self.z) if self.config.layout is Layout.USB else "ERR"

    def _cmd_Z(self, args: list[str]) -> str | None:
        return self._write_block("Z", self.z, args) if self.config.layout is Layout.USB else "ERR"

    def _cmd_j(self, args: list[str]) -> str:
        return f"j:{self.buzzer}"

    def _cmd_J(self, args: list[str]) -> str:
        self.buzzer = 1 if int(args[0]) else 0
        return "J:"

    def _cmd_f(self, args: list[str]) -> str:
        return f"f:{self.hand_controller}"

    def _cmd_F(self, args: list[str]) -> str:
        self.hand_controller = 1 if int(args[0]) else 0
        return "F:"

    def _cmd_R(self, args: list[str]) -> str:
        if int(args[0]) != 0:
            return "ERR"
        self.target = max(0, min(self.max_position(), int(args[1])))
        return "R:"

    def _cmd_P(self, args: list[str]) -> str:
        if int(args[0]) != 0:
            return "ERR"
        self.position = float(max(0, int(args[1])))
        self.target = int(self.position)
        self.velocity = 0.0
        return "P:"

    def _cmd_H(self, args: list[str]) -> str:
        # Stop at once, as the manual's "stop" does: the target becomes wherever the stepper is now.
        self.target = int(round(self.position))
        self.position = float(self.target)
        self.velocity = 0.0
        return "H:"

    def _cmd_C(self, args: list[str]) -> str:
        index, value = int(args[0]), int(args[1])
        if index not in (0, 1, 2):
            return "ERR"
        self.outputs[index] = value != 0
        self.protection = None  # the flag stays until an output is switched again
        return "C:"

    def _cmd_B(self, args: list[str]) -> str:
        index, value = int(args[0]), int(args[1])
        if index not in (0, 1) or not (0 <= value <= 100 or value == p.PWM_AUTO):
            return "ERR"
        self.pwm_setting[index] = value
        return "B:"

    def _cmd_S(self, args: list[str]) -> str:
        # The manual's script command: "S:20 ... compensation will be applied only if the compensation amount
        # will exceed the threshold value".
        threshold = int(args[0]) if args else 0
        if abs(self.compensation_pending()) > threshold:
            self._apply_compensation()
        return "S:"

    def _cmd_G(self, args: list[str]) -> str:
        if self.config.layout is not Layout.MINI:
            return "ERR"
        self.dc_motor_until = self.time + int(args[2]) / 1000.0
        return "G:"

    def _cmd_K(self, args: list[str]) -> str:
        self.dc_motor_until = -1.0
        return "K:"

    def _cmd_p(self, args: list[str]) -> str:
        position = self.steps_made()
        self.reported_positions.append((self.time, position))
        return f"p:{position}"


# --- serving the model on a byte stream ----------------------------------------------------------------------------


def _pty_baud(stream: object) -> int | None:
    """The speed the driver set on the other end of a pty (Linux reports the slave's settings on the master), or
    None for a stream that is not a terminal."""
    import os
    import termios

    fileno = getattr(stream, "fileno", None)
    if fileno is None:
        return None
    try:
        fd = fileno()
        if not os.isatty(fd):
            return None
        speed = termios.tcgetattr(fd)[5]
    except (OSError, termios.error):
        return None
    return next((baud for baud in TERMIOS_SPEEDS if getattr(termios, f"B{baud}", None) == speed), None)


TERMIOS_SPEEDS = (9600, 19200, 38400, 57600, 115200, 230400)


async def serve(emulator: AstroLink4Emulator, stream: trio.abc.Stream, baud: int | None = None) -> None:
    """Answer commands arriving on a trio stream until it closes.

    `baud` is the speed of the emulated serial line (None: on a pty, the speed the driver set on it; otherwise no
    speed, as over TCP); bytes at a speed the device does not talk are never understood.

    Replies leave through a queue in order, each at its due time, so a late reply (the `late_reply_s` fault) arrives
    after the driver has timed out and sent its next command, as from a slow device."""
    import trio

    from ..link.framing import Line, LineFramer

    framer = LineFramer(max_line=256)
    broken = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
    outgoing, queued = trio.open_memory_channel[tuple[float, bytes]](math.inf)

    async def deliver() -> None:
        async for due, out in queued:
            await trio.sleep_until(due)
            await stream.send_all(out)

    async def answer() -> None:
        while True:
            data = await stream.receive_some(4096)
            if not data:
                return
            line_baud = baud if baud is not None else _pty_baud(stream)
            if not emulator.understands(line_baud):
                emulator.commands.append(f"<{len(data)} bytes at {line_baud} baud, not understood>")
                framer.reset()
                if emulator.config.wrong_baud_noise:
                    noise = bytes(emulator.random.randrange(0, 256) for _ in range(len(data)))
                    outgoing.send_nowait((trio.current_time(), noise))
                continue
            for item in framer.feed(data):
                if not isinstance(item, Line):
                    continue
                reply = emulator.handle(item.text, trio.current_time())
                if reply is None:
                    continue
                out = b""
                faults = emulator.faults
                if faults.garbage:
                    out += bytes(emulator.random.randrange(1, 256) for _ in range(5)).replace(b"\n", b"") + b"\n"
                if faults.reply_for_other_command:
                    out += b"U:" + emulator.config.line_ending.encode()
                out += (reply + emulator.config.line_ending).encode("ascii", "replace")
                outgoing.send_nowait((trio.current_time() + faults.late_reply_s, out))

    async with trio.open_nursery() as nursery:

        async def until_the_peer_goes(job: Callable[[], Awaitable[None]]) -> None:
            try:
                await job()
            except broken:
                pass
            nursery.cancel_scope.cancel()

        nursery.start_soon(until_the_peer_goes, deliver)
        nursery.start_soon(until_the_peer_goes, answer)


def main(argv: list[str] | None = None) -> None:
    from ..emulation import run_emulator_cli

    parser = argparse.ArgumentParser(description="Emulated AstroLink 4 on a pty or a TCP port on 127.0.0.1")
    parser.add_argument("--mini", action="store_true", help="emulate the AstroLink 4 mini (23-field status)")
    parser.add_argument("--crlf", action="store_true", help="end replies with CR LF")
    parser.add_argument("--short-status", action="store_true", help="cut the status line while moving")
    parser.add_argument("--no-sky", action="store_true", help="no sky temperature sensor")
    parser.add_argument("--no-sensor2", action="store_true", help="no second temperature/humidity sensor")
    parser.add_argument(
        "--compensation-sign",
        choices=("rule", "example"),
        default="rule",
        help="firmware sign of the pending compensation: the manual's rule (a positive coefficient moves inward as it "
        "gets colder, the default) or the manual's example (outward)",
    )
    parser.add_argument("--baud", type=int, help="the speed the device talks at (default: 38400 USB, 115200 mini)")
    parser.add_argument("--any-baud", action="store_true", help="answer at any speed the port is set to")
    parser.add_argument("--wrong-baud-noise", action="store_true", help="at a wrong speed, send noise back")
    args, rest = parser.parse_known_args(argv)
    config = EmulatorConfig.mini() if args.mini else EmulatorConfig()
    if args.baud:
        config.baud = args.baud
    if args.any_baud:
        config.baud = None
    config.wrong_baud_noise = args.wrong_baud_noise
    config.line_ending = "\r\n" if args.crlf else "\n"
    config.short_status_while_moving = args.short_status
    config.sky_sensor = config.sky_sensor and not args.no_sky
    config.sensor2 = not args.no_sensor2
    config.compensation_sign = 1 if args.compensation_sign == "rule" else -1
    run_emulator_cli(rest, lambda now: AstroLink4Emulator(config, now), serve, "AstroLink 4")


if __name__ == "__main__":
    main()
