"""A Celestron focus motor on the AUX bus (device 0x12), driven through the mount's own AUX session.

The bus scan finds it; its hard stops (FOC_GET_HS_POSITIONS) give its range. Only a sane range (more than 2000 steps
apart, the high stop at most 60000, as INDI's Celestron focuser driver checks; that driver also wants the low stop
above 0, this one accepts 0) enables the Focuser properties and the FOCUSER bit of DRIVER_INTERFACE; an uncalibrated
focuser gets only the calibration properties.

Positions are counted as indi_celestron_aux counts them, from the high hard stop down: position = high − raw steps,
0 … FOCUS_MAX = high − low. Focus positions noted with that driver (Ekos focus logs, filter offsets) therefore stay
valid with this one. Nothing of the motor's own direction is assumed beyond that.

The standard behaviour (Busy → Ok, abort → Idle, limits, backlash) is indi.interfaces.focuser's; this module turns
its requests into AUX commands, reads the position (and SLEW_DONE while something moves) on each of the driver's
polls, and runs the hard-stop calibration (0x2A, then 0x2B polled until it reports done or stopped).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import trio

from ..indi.definitions import load_vectors
from ..indi.interfaces.focuser import Focuser
from ..indi.part import Handler, Part
from ..indi.properties import State, Update, ValidationError
from ..indi.spec import DriverInterface, default_config_document
from ..link.errors import LinkError, LinkTimeout, ReplyError, ReplyRejected
from . import aux
from .aux import Command, FocuserCommand
from .emulated_focuser import EmulatedFocuser, FocuserConfig

if TYPE_CHECKING:
    from .driver import NexStarDriver
    from .emulator import NexStarEmulator

PROPERTY_FILE = "nexstar_aux_focuser.xml"
CALIBRATION_PROPERTIES = ("FOCUS_HARD_STOPS", "FOCUS_CALIBRATE", "FOCUS_CALIBRATE_STATE")
MIN_RANGE = 2000  # steps between the hard stops, at least (INDI: "more than 2 turns")
MAX_HIGH_STOP = 60000
PROBE_TIMEOUT = 0.25  # a focuser that stopped answering is asked briefly, so the mount's poll is not held up
# A status read just after START may still show the previous run (INDI's driver waits half a second after the
# command and polls slowly); such a reading does not end the calibration.
CALIBRATION_START_GRACE = 2.0


def range_problem(low: int, high: int) -> str | None:
    if high - low <= MIN_RANGE:
        return f"its hard stops {low} and {high} are not more than {MIN_RANGE} steps apart: it is not calibrated"
    if low < 0 or high > MAX_HIGH_STOP:
        return f"its hard stops {low} … {high} are outside 0 … {MAX_HIGH_STOP}"
    return None


def simulated_focuser(emulator: NexStarEmulator, wanted: bool, now: float) -> None:
    """Put a focus motor on the simulated bus, or take it off (the mount keeps its state either way)."""
    if wanted and emulator.focuser is None:
        emulator.focuser = EmulatedFocuser(emulator.config.focuser or FocuserConfig(), now)
    elif not wanted:
        emulator.focuser = None


class BusFocuser(Part):
    def __init__(self, driver: NexStarDriver) -> None:
        self.driver = driver
        self.props = driver.props
        vectors = load_vectors(PROPERTY_FILE, driver.name)
        for vector in vectors:
            self.props.add(vector)
        driver.default_config = default_config_document(self.props)  # CONFIG_DEFAULT resets the backlash too
        self.all_names = tuple(vector.name for vector in vectors)
        self.present = False
        self.hard_stops: tuple[int, int] | None = None  # only when sane
        self.raw: int | None = None
        self.answering = True
        self.calibrating = False
        self.calibration_started = 0.0
        self.stop_requested = False
        self.halting = False
        # The standard focuser behaviour is a part of its own (the driver wires both); moves wait for a calibration
        # to end (the driver puts guards() in front of the interface's handlers).
        self.interface = Focuser(self.driver, self)
        self.handlers: dict[str, Handler] = {
            "FOCUS_CALIBRATE": self._on_calibrate,
            "SIMULATION_FOCUSER": driver._on_connection_setting,
        }

    def guards(self) -> dict[str, Callable[[Handler], Handler]]:
        """What must wait while the focuser calibrates: the moves."""
        return {name: self._not_while_calibrating for name in ("ABS_FOCUS_POSITION", "REL_FOCUS_POSITION")}

    def _not_while_calibrating(self, handler: Handler) -> Handler:
        async def guarded(update: Update) -> None:
            if self.calibrating:
                raise ValidationError("the focuser is calibrating; wait for it or stop the calibration")
            await handler(update)

        return guarded

    # --- state ---------------------------------------------------------------------------------------------------

    def busy(self) -> bool:
        return self.calibrating or self.interface.moving

    def simulation_wanted(self) -> bool:
        return bool(self.props.switch("SIMULATION_FOCUSER")["INDI_ENABLED"].on)

    def _offered(self) -> tuple[str, ...]:
        if not self.present:
            return ()
        if self.hard_stops is None:
            return CALIBRATION_PROPERTIES
        return self.all_names

    def _show_interface_bit(self) -> None:
        info = self.props.text("DRIVER_INFO")
        bits = self.driver.spec.interface
        if self.hard_stops is not None:
            bits |= DriverInterface.FOCUSER
        if info["DRIVER_INTERFACE"].value != bits.text():
            info["DRIVER_INTERFACE"].value = bits.text()
            self.driver.update(info.name)

    def position_of(self, raw: int) -> int:
        assert self.hard_stops is not None
        return self.hard_stops[1] - raw

    # --- connecting --------------------------------------------------------------------------------------------

    async def connect(self) -> None:
        """After the bus scan: read the hard stops and the position of a focuser that answered."""
        self.present, self.hard_stops, self.raw = aux.Device.FOCUSER in self.driver.versions, None, None
        self.answering, self.calibrating, self.halting = True, False, False
        self.driver.focuser_names = ()
        if not self.present:
            return
        try:
            low, high = await self._read_hard_stops()
            raw = await self.driver.transact(aux.Device.FOCUSER, Command.GET_POSITION)
            self.raw = aux.decode_position(raw.data)
        except (LinkTimeout, ReplyRejected, ReplyError) as exc:
            self.present = False  # the mount is what matters; a focuser that cannot be read is left out
            self.driver.message(f"The focuser answered the scan but not its first reading ({exc}): left out", "WARNING")
            return
        if self._accept_hard_stops(low, high):
            await self.interface.report(self.position_of(self.raw), 0)  # relative moves start from it
        self.driver.focuser_names = self._offered()

    async def _read_hard_stops(self) -> tuple[int, int]:
        reply = await self.driver.transact(aux.Device.FOCUSER, FocuserCommand.GET_HARD_STOPS)
        low, high = aux.decode_hard_stops(reply.data)
        stops = self.props.number("FOCUS_HARD_STOPS")
        stops.apply({"LOW": low, "HIGH": high})
        return low, high

    def _accept_hard_stops(self, low: int, high: int) -> bool:
        problem = range_problem(low, high)
        stops = self.props.number("FOCUS_HARD_STOPS")
        if problem is not None:
            self.hard_stops = None
            self.driver.update(stops.name, State.ALERT)
            self._say_state(f"Not calibrated: {problem}", State.ALERT)
            self.driver.message(
                f"The focuser on the bus cannot be moved yet: {problem}. Calibrate it (FOCUS_CALIBRATE).", "WARNING"
            )
            return False
        self.hard_stops = (low, high)
        self.driver.update(stops.name, State.OK)
        self.interface.apply_maximum(high - low)
        self._say_state(f"Calibrated: hard stops {low} … {high}", State.OK)
        if self.raw is not None:
            self.props.number("ABS_FOCUS_POSITION")["FOCUS_ABSOLUTE_POSITION"].value = self.position_of(self.raw)
        return True

    def on_connected(self) -> None:
        self._show_interface_bit()
        if self.hard_stops is not None and self.raw is not None:
            self.driver.message(
                f"Focuser on the bus: range 0 … {self.hard_stops[1] - self.hard_stops[0]} steps, "
                f"at {self.position_of(self.raw)}"
            )

    async def halt_before_disconnect(self) -> None:
        if not self.present or not self.busy():
            return
        try:
            if self.calibrating:
                await self.driver.transact(aux.Device.FOCUSER, FocuserCommand.CALIBRATION_ENABLE, aux.CALIBRATION_STOP)
            await self.driver.transact(aux.Device.FOCUSER, Command.MOVE_POS, b"\x00")
        except LinkError:
            pass

    def on_disconnected(self) -> None:
        self.present, self.hard_stops, self.raw, self.calibrating = False, None, None, False
        self.driver.focuser_names = ()
        self._show_interface_bit()
        self.interface.reset()  # nothing carries over to the next connection

    # --- polling -------------------------------------------------------------------------------------------------

    async def poll(self) -> None:
        if not self.present:
            return
        # None: transact's own timeout and retries
        timeout, retries = (None, None) if self.answering else (PROBE_TIMEOUT, 0)
        try:
            reply = await self.driver.transact(
                aux.Device.FOCUSER, Command.GET_POSITION, timeout=timeout, retries=retries
            )
            raw = aux.decode_position(reply.data)
            previous, self.raw = self.raw, raw
            moved = raw != previous
            own_move = self.interface.target is not None or self.halting
            self.halting = self.halting and moved
            done = True
            if own_move or moved or self.calibrating:
                done = aux.decode_flag((await self.driver.transact(aux.Device.FOCUSER, Command.SLEW_DONE)).data)
            if self.calibrating:
                await self._check_calibration()
        except LinkError as exc:
            if self.answering:
                self.answering = False
                if self.hard_stops is not None:
                    self.driver.update("ABS_FOCUS_POSITION", State.ALERT, f"[ERROR] The focuser does not answer: {exc}")
            return
        if not self.answering:
            self.answering = True
            self.driver.message("The focuser answers again")
            self.driver.update("ABS_FOCUS_POSITION", State.BUSY if self.interface.moving else State.OK)
        if self.hard_stops is not None:
            settled = done and (own_move or not moved)
            position = self.position_of(raw)
            await self.interface.report(position, 0 if settled else self._steps_to_go(position, previous))

    def _steps_to_go(self, position: int, previous_raw: int | None) -> int:
        """The motor says only whether its goto is over: towards our goal if we set one, else the way it moves."""
        goal = self.interface.waypoint if self.interface.waypoint is not None else self.interface.target
        if goal is not None and goal != position:
            return goal - position
        if previous_raw is not None and self.position_of(previous_raw) > position:
            return -1
        return 1

    # --- Focuser interface backend -------------------------------------------------------------------------------

    async def focuser_move(self, position: int) -> None:
        if self.hard_stops is None:
            raise ValidationError("the focuser has no known hard stops; calibrate it first")
        raw = self.hard_stops[1] - position
        await self.driver.transact(aux.Device.FOCUSER, Command.GOTO_FAST, aux.encode_position(raw))

    async def focuser_halt(self) -> None:
        if self.calibrating:
            await self._stop_calibration()
        await self.driver.transact(aux.Device.FOCUSER, Command.MOVE_POS, b"\x00")  # rate 0: stop, as INDI aborts
        self.halting = True  # the motor coming to rest after an abort is not a move of its own

    async def focuser_sync(self, position: int) -> None:
        raise ValidationError("this focuser cannot be told its position")

    async def focuser_set_max(self, maximum: int) -> None:
        raise ValidationError("the range is set by the focuser's hard stops; calibrate it to change them")

    async def focuser_set_reversed(self, reversed: bool) -> None:
        raise ValidationError("this focuser has no reverse setting")

    # --- calibration ---------------------------------------------------------------------------------------------

    def _say_state(self, text: str, state: State) -> None:
        vector = self.props.text("FOCUS_CALIBRATE_STATE")
        if vector["STATE"].value != text or vector.state is not state:
            vector["STATE"].value = text
            self.driver.update(vector.name, state)

    async def _on_calibrate(self, update: Update) -> None:
        action = next((name for name, on in update.values.items() if on), None)
        update.switches.reset()
        if action == "START":
            if self.interface.moving:
                raise ValidationError("the focuser is moving; wait or abort before calibrating")
            await self.driver.transact(aux.Device.FOCUSER, FocuserCommand.CALIBRATION_ENABLE, aux.CALIBRATION_START)
            self.calibrating, self.stop_requested = True, False
            self.calibration_started = trio.current_time()
            self._say_state("Calibrating: starting", State.BUSY)
            update.vector.apply({"START": True})
            self.driver.update(
                update.vector.name,
                State.BUSY,
                "[WARNING] Calibrating: the focuser runs to both of its hard stops; this takes a few minutes",
            )
            self.driver.poll_soon()
        elif action == "STOP":
            if not self.calibrating:
                self.driver.update(update.vector.name, State.IDLE, "No calibration is running")
                return
            await self._stop_calibration()
            self.driver.poll_soon()
        else:
            self.driver.update(update.vector.name, State.IDLE)

    async def _stop_calibration(self) -> None:
        await self.driver.transact(aux.Device.FOCUSER, FocuserCommand.CALIBRATION_ENABLE, aux.CALIBRATION_STOP)
        self.stop_requested = True

    async def _check_calibration(self) -> None:
        reply = await self.driver.transact(aux.Device.FOCUSER, FocuserCommand.CALIBRATION_STATUS)
        status = aux.decode_calibration_status(reply.data)
        early = trio.current_time() - self.calibration_started < CALIBRATION_START_GRACE
        if status.running or (early and not self.stop_requested):
            if status.running:
                self._say_state(f"Calibrating: stage {status.stage} of {aux.CALIBRATION_STAGES}", State.BUSY)
            return
        self.calibrating = False
        switch = self.props.switch("FOCUS_CALIBRATE")
        switch.reset()
        usable = self._accept_hard_stops(*await self._read_hard_stops())  # what the motor holds now, either way
        self._offer_what_is_usable()
        if not status.done:
            if self.stop_requested:
                self.driver.update(switch.name, State.IDLE, "Calibration stopped")
            else:
                self.driver.update(switch.name, State.ALERT, "[WARNING] The calibration ended without finishing")
        elif usable:
            assert self.hard_stops is not None
            low, high = self.hard_stops
            self.driver.update(switch.name, State.OK, f"Calibration complete: range 0 … {high - low} steps")
        else:
            self.driver.update(switch.name, State.ALERT, "[ERROR] The calibration found no usable range")

    def _offer_what_is_usable(self) -> None:
        """Define the Focuser properties once the hard stops are sane, delete them if they no longer are."""
        offered = self._offered()
        for name in self.all_names:
            if name in offered and not self.props.is_defined(name):
                self.driver.define(name)
            elif name not in offered and self.props.is_defined(name):
                self.driver.delete(name)
        self.driver.focuser_names = offered
        self._show_interface_bit()
