"""The Celestron focus motor (AUX device 0x12) on the emulated bus, sans-I/O.

It answers GET_VERSION, GET_POSITION (24-bit raw steps), GOTO_FAST, SLEW_DONE, MOVE_POS/NEG (rate 0–9, 0 stops) and
the focuser's own commands (reference §7.3): the hard-stop calibration (0x2A/0x2B) and the hard-stop positions (0x2C).
The shaft never passes its mechanical stops: a goto or a move beyond one ends at it.

What the sources do not say, and this model decides:
* Calibration runs to the low stop, then to the high stop, and stays there; its stage counts 1…12 with the distance
  covered. Its status reads [0, stage] while it runs, [1, 0] once it completed (the LAST driver waits for 256) and
  [0, 0] after a stop (INDI's "aborted"). A stopped calibration keeps the hard stops found before it.
* A focuser never calibrated reports both hard stops as 0 (INDI's drivers then refuse it as not calibrated).
* While calibrating, gotos and moves are acknowledged and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..link.framing import AuxPacket
from . import aux
from .aux import Command, FocuserCommand

# One team measured about 300 steps/s on its focus motor (the LAST project's Celestron focuser driver); this is that
# estimate, not a datasheet figure.
DEFAULT_SPEED_STEPS_PER_S = 300.0
FASTEST_MOVE_RATE = 9  # MOVE_POS/NEG rate 9 runs at the goto speed; rate n at n/9 of it


@dataclass
class FocuserConfig:
    version: bytes = bytes([1, 4])  # an example; real focusers report their own
    low_stop: int = 0  # mechanical travel, raw steps
    high_stop: int = 60000
    speed_steps_per_s: float = DEFAULT_SPEED_STEPS_PER_S
    calibrated: bool = True  # the motor remembers hard stops from an earlier calibration
    start_position: int | None = None  # at power-on; None: the middle of the travel


class EmulatedFocuser:
    def __init__(self, config: FocuserConfig, now: float = 0.0) -> None:
        self.config = config
        self.time = now
        start = config.start_position
        self.position = float((config.low_stop + config.high_stop) // 2 if start is None else start)
        self.position = self._within_travel(self.position)
        self.hard_stops = (config.low_stop, config.high_stop) if config.calibrated else (0, 0)
        self.goto_target: float | None = None
        self.rate = 0.0  # steps/s of a MOVE_POS/NEG, signed
        self.calibration_path: list[float] = []  # stops still to reach while calibrating
        self.calibration_length = 0.0
        self.calibration_covered = 0.0
        self.last_calibration = "complete" if config.calibrated else "never"  # or "stopped"
        self.silent = False  # the focuser stops answering (its cable pulled), the rest of the bus does not

    # --- physics -------------------------------------------------------------------------------------------------

    def _within_travel(self, position: float) -> float:
        return min(max(position, float(self.config.low_stop)), float(self.config.high_stop))

    @property
    def calibrating(self) -> bool:
        return bool(self.calibration_path)

    def advance(self, now: float) -> None:
        dt = now - self.time
        if dt <= 0:
            return
        self.time = now
        budget = self.config.speed_steps_per_s * dt
        if self.calibrating:
            self._calibrate(budget)
        elif self.goto_target is not None:
            remaining = self.goto_target - self.position
            if abs(remaining) <= budget:
                self.position, self.goto_target = self.goto_target, None
            else:
                self.position += budget if remaining > 0 else -budget
        elif self.rate:
            free = self.position + self.rate * dt
            self.position = self._within_travel(free)
            if self.position != free:
                self.rate = 0.0  # ran into a stop

    def _calibrate(self, budget: float) -> None:
        while budget > 0 and self.calibration_path:
            stop = self.calibration_path[0]
            distance = abs(stop - self.position)
            if distance <= budget:
                self.position = stop
                self.calibration_path.pop(0)
            else:
                self.position += budget if stop > self.position else -budget
            self.calibration_covered += min(distance, budget)
            budget -= distance
        if not self.calibration_path:
            self.hard_stops = (self.config.low_stop, self.config.high_stop)
            self.last_calibration = "complete"

    def calibration_stage(self) -> int:
        if not self.calibrating:
            return 0
        fraction = self.calibration_covered / self.calibration_length if self.calibration_length else 1.0
        return min(aux.CALIBRATION_STAGES, 1 + int(fraction * aux.CALIBRATION_STAGES))

    def raw_position(self) -> int:
        return int(round(self.position))

    # --- protocol ------------------------------------------------------------------------------------------------

    def handle(self, packet: AuxPacket, *, nak: bool) -> AuxPacket | None:
        """The focuser's reply to one packet addressed to it (None: no answer)."""
        if self.silent:
            return None
        cmd, data = packet.cmd, packet.data

        def ack(payload: bytes = b"") -> AuxPacket:
            return AuxPacket(packet.dst, packet.src, cmd, payload)

        if cmd == Command.GET_VERSION:
            return ack(self.config.version)
        if cmd == Command.GET_POSITION:
            return ack(aux.encode_position(self.raw_position()))
        if cmd == Command.SLEW_DONE:
            return ack(b"\x00" if self.goto_target is not None or self.calibrating else b"\xff")
        if cmd == Command.GOTO_FAST and len(data) == 3:
            if not self.calibrating:
                self.rate = 0.0
                self.goto_target = self._within_travel(float(aux.decode_position(data)))
            return ack()
        if cmd in (Command.MOVE_POS, Command.MOVE_NEG) and len(data) == 1 and data[0] <= FASTEST_MOVE_RATE:
            if not self.calibrating:
                self.goto_target = None
                speed = self.config.speed_steps_per_s * data[0] / FASTEST_MOVE_RATE
                self.rate = speed if cmd == Command.MOVE_POS else -speed
            return ack()
        if cmd == FocuserCommand.CALIBRATION_ENABLE and len(data) == 1:
            if data == aux.CALIBRATION_START:
                self._start_calibration()
            elif self.calibrating:
                self.calibration_path = []
                self.last_calibration = "stopped"
            return ack()
        if cmd == FocuserCommand.CALIBRATION_STATUS:
            done = not self.calibrating and self.last_calibration == "complete"
            return ack(bytes([1 if done else 0, self.calibration_stage()]))
        if cmd == FocuserCommand.GET_HARD_STOPS:
            return ack(aux.encode_hard_stops(*self.hard_stops))
        if nak:
            return AuxPacket(packet.dst, packet.src, aux.NOT_SUPPORTED, bytes([cmd]))
        return None

    def _start_calibration(self) -> None:
        low, high = float(self.config.low_stop), float(self.config.high_stop)
        self.goto_target, self.rate = None, 0.0
        self.calibration_path = [low, high]
        self.calibration_length = abs(self.position - low) + (high - low)
        self.calibration_covered = 0.0
