"""The standard behaviour of an INDI focuser (libindi's FocuserInterface), written once.

Absolute and relative moves go Busy with progress, then Ok with the final position; abort leaves them Idle. No move
leaves 0 … FOCUS_MAX: requests beyond it are refused with Alert, and a backlash overshoot is clamped to the range.
Backlash is signed as the AstroLink manual gives it: a positive value is taken up on outward moves, a negative one on
inward moves; the focuser then approaches every target from the same side.

The device supplies a `FocuserBackend` and reports every position it reads with `report(position, steps_to_go)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..part import Handler, Part
from ..properties import State, Update, ValidationError

if TYPE_CHECKING:
    from ..device import Device

FOCUSER_PROPERTIES = (
    "FOCUS_MOTION",
    "ABS_FOCUS_POSITION",
    "REL_FOCUS_POSITION",
    "FOCUS_ABORT_MOTION",
    "FOCUS_SYNC",
    "FOCUS_MAX",
    "FOCUS_REVERSE_MOTION",
    "FOCUS_BACKLASH_TOGGLE",
    "FOCUS_BACKLASH_STEPS",
)
POLLS_BEFORE_GIVING_UP_ON_START = 3  # a move the device never starts is over after this many idle polls


class FocuserBackend(Protocol):
    async def focuser_move(self, position: int) -> None: ...

    async def focuser_halt(self) -> None: ...

    async def focuser_sync(self, position: int) -> None: ...

    async def focuser_set_max(self, maximum: int) -> None: ...

    async def focuser_set_reversed(self, reversed: bool) -> None: ...


class Focuser(Part):
    def __init__(self, device: Device, backend: FocuserBackend) -> None:
        self.device = device
        self.backend = backend
        self.props = device.props
        self.reset()
        self.handlers: dict[str, Handler] = {
            "FOCUS_MOTION": self._on_motion,
            "ABS_FOCUS_POSITION": self._on_absolute,
            "REL_FOCUS_POSITION": self._on_relative,
            "FOCUS_ABORT_MOTION": self._on_abort,
        }
        # What a focuser may lack (libindi's CAN_SYNC, CAN_REVERSE, HAS_BACKLASH; a maximum set by its hard stops is
        # read-only): served where the device declares the property writable, left out where it does not.
        optional: dict[str, Handler] = {
            "FOCUS_SYNC": self._on_sync,
            "FOCUS_MAX": self._on_max,
            "FOCUS_REVERSE_MOTION": self._on_reverse,
            "FOCUS_BACKLASH_TOGGLE": self._on_backlash_setting,
            "FOCUS_BACKLASH_STEPS": self._on_backlash_setting,
        }
        writable = [name for name in optional if name in self.props and self.props[name].perm != "ro"]
        self.handlers.update({name: optional[name] for name in writable})

    def reset(self) -> None:
        """Forget every move and reading: nothing carries over to the next connection."""
        self.position: int | None = None
        self.target: int | None = None  # where the current move finally ends
        self.waypoint: int | None = None  # the overshoot point of a backlash move, before the final approach
        self.device_target: int | None = None  # where the device last said it was going (position + steps to go)
        self.idle_polls = 0
        self.external_move = False

    # --- state ---------------------------------------------------------------------------------------------------

    @property
    def moving(self) -> bool:
        return self.target is not None or self.external_move

    def maximum(self) -> int:
        return int(self.props.number("FOCUS_MAX")["FOCUS_MAX_VALUE"].value)

    def backlash(self) -> int:
        if not self.props.switch("FOCUS_BACKLASH_TOGGLE")["INDI_ENABLED"].on:
            return 0
        return int(self.props.number("FOCUS_BACKLASH_STEPS")["FOCUS_BACKLASH_VALUE"].value)

    def apply_maximum(self, maximum: int) -> None:
        """Make every position property's range 0 … maximum (the device's limit, read or just written)."""
        self.props.number("FOCUS_MAX")["FOCUS_MAX_VALUE"].value = maximum
        ranges = {"ABS_FOCUS_POSITION": "FOCUS_ABSOLUTE_POSITION", "FOCUS_SYNC": "FOCUS_SYNC_VALUE",
                  "REL_FOCUS_POSITION": "FOCUS_RELATIVE_POSITION"}  # fmt: skip
        present = [name for name in ranges if name in self.props]  # a focuser that cannot set its position has no SYNC
        for name in present:
            self.props.number(name).set_limits(ranges[name], 0, maximum)
        for name in ["FOCUS_MAX", *present]:
            self.device.update(name)

    # --- position reports from the device --------------------------------------------------------------------------

    async def report(self, position: int, steps_to_go: int) -> None:
        """One reading of the device: move on the state machine and tell clients what changed."""
        absolute = self.props.number("ABS_FOCUS_POSITION")
        changed = position != self.position
        self.position = position
        self.device_target = position + steps_to_go
        absolute["FOCUS_ABSOLUTE_POSITION"].value = position
        if self.target is None:
            if steps_to_go != 0:
                self.external_move = True  # the device moves by itself: compensation, the hand controller
                if changed or absolute.state is not State.BUSY:
                    self.device.update(absolute.name, State.BUSY)
            elif self.external_move:
                self.external_move = False
                self.device.update(absolute.name, State.OK)
            elif changed:
                self.device.update(absolute.name)  # a new value, the state as it was (Idle after an abort)
            return
        if steps_to_go != 0:
            self.idle_polls = 0
            if changed:
                self.device.update(absolute.name, State.BUSY)
            return
        at_goal = position == (self.waypoint if self.waypoint is not None else self.target)
        self.idle_polls += 1
        if not at_goal and self.idle_polls < POLLS_BEFORE_GIVING_UP_ON_START:
            return  # the move has not started yet
        if self.waypoint is not None and at_goal:
            self.waypoint = None
            self.idle_polls = 0
            await self.backend.focuser_move(self.target)  # the final approach, from the backlash side
            self.device.poll_soon()
            return
        self._finish(position)

    def _finish(self, position: int) -> None:
        target = self.target
        self.target = self.waypoint = None
        state = State.OK
        message = None
        if target is not None and position != target:
            state = State.ALERT
            message = f"[WARNING] The focuser stopped at {position} instead of {target}"
        self.props.number("REL_FOCUS_POSITION").state = state
        self.device.update("REL_FOCUS_POSITION")
        self.device.update("ABS_FOCUS_POSITION", state, message)

    # --- moves ---------------------------------------------------------------------------------------------------

    async def move_to(self, target: int) -> None:
        maximum = self.maximum()
        if not 0 <= target <= maximum:
            raise ValidationError(f"position {target} is outside the focuser's range 0 … {maximum}")
        current = self.position if self.position is not None else target
        overshoot = self.backlash()
        first = target
        if overshoot > 0 and target > current:
            first = min(maximum, target + overshoot)
        elif overshoot < 0 and target < current:
            first = max(0, target + overshoot)
        self.target = target
        self.waypoint = first if first != target else None
        self.idle_polls = 0
        await self.backend.focuser_move(first)
        self.props.number("ABS_FOCUS_POSITION").state = State.BUSY
        self.device.update("ABS_FOCUS_POSITION")
        self.device.poll_soon()

    async def _on_motion(self, update: Update) -> None:
        self.device.accept(update)

    async def _on_absolute(self, update: Update) -> None:
        target = int(round(update["FOCUS_ABSOLUTE_POSITION"]))
        await self.move_to(target)

    async def _on_relative(self, update: Update) -> None:
        steps = int(round(update["FOCUS_RELATIVE_POSITION"]))
        if steps <= 0:
            raise ValidationError("a relative move needs a positive number of steps")
        if self.position is None:
            raise ValidationError("the focuser position is not known yet")
        outward = self.props.switch("FOCUS_MOTION")["FOCUS_OUTWARD"].on
        target = self.position + steps if outward else self.position - steps
        if not 0 <= target <= self.maximum():
            direction = "out" if outward else "in"
            raise ValidationError(
                f"moving {steps} steps {direction} from {self.position} would leave the range 0 … {self.maximum()}"
            )
        update.vector.apply(update.values)
        self.device.update(update.vector.name, State.BUSY)
        await self.move_to(target)

    async def _on_abort(self, update: Update) -> None:
        await self.backend.focuser_halt()
        self.target = self.waypoint = None
        self.external_move = False
        update.vector.apply({"ABORT": False})
        self.device.update(update.vector.name, State.OK)
        self.device.update("ABS_FOCUS_POSITION", State.IDLE)
        self.device.update("REL_FOCUS_POSITION", State.IDLE)
        self.device.poll_soon()

    async def _on_sync(self, update: Update) -> None:
        if self.moving:
            raise ValidationError("the focuser is moving; abort or wait before setting its position")
        position = int(round(update["FOCUS_SYNC_VALUE"]))
        await self.backend.focuser_sync(position)
        # the device is there now: the limit checks and clients need not wait for the next poll to know it
        self.position = self.device_target = position
        self.props.number("ABS_FOCUS_POSITION")["FOCUS_ABSOLUTE_POSITION"].value = position
        self.device.accept(update)
        self.device.update("ABS_FOCUS_POSITION")
        self.device.poll_soon()

    async def _on_max(self, update: Update) -> None:
        maximum = int(round(update["FOCUS_MAX_VALUE"]))
        if self.position is not None and self.position > maximum:
            raise ValidationError(
                f"the focuser is at {self.position}, beyond the new maximum {maximum}; move it inside first"
            )
        # a backlash overshoot or a move the device makes by itself may go further than the move's target
        heading = max((p for p in (self.target, self.waypoint, self.device_target) if p is not None), default=None)
        if self.moving and heading is not None and heading > maximum:
            raise ValidationError(f"a move to {heading} is under way, beyond the new maximum {maximum}")
        await self.backend.focuser_set_max(maximum)
        update.vector.state = State.OK
        self.apply_maximum(maximum)

    async def _on_reverse(self, update: Update) -> None:
        await self.backend.focuser_set_reversed(bool(update["INDI_ENABLED"]))
        self.device.accept(update)

    async def _on_backlash_setting(self, update: Update) -> None:
        self.device.accept(update)
