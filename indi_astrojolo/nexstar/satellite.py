"""Satellite and ISS passes: libindi's SAT_TLE_TEXT, SAT_PASS_WINDOW and SAT_TRACKING_STAT, with a pass prediction.

SAT_TRACK takes the first pass of the TLE's satellite that is above the lowest allowed altitude within the pass window
(from now when the window is empty or over), plans the axes' path through it (passplan.py: rate limits, the zenith
swing, the cord wrap), moves to where the pass starts, waits for the satellite and follows it: several times a second,
each axis gets the rate of the planned path plus a correction of the measured error (0x06/0x07, arcsec/s × 1024).
After the pass the mount holds at the set point or parks (SAT_AFTER_PASS).

A TLE's error is mostly along the track: SAT_TIME_OFFSET (seconds, + when the satellite runs early) aims at where
the prediction puts it that much later, and SAT_CROSS_TRACK_OFFSET moves the aim square to its motion
(passplan.py). Both may change during a pass; while one is followed, the manual motion buttons change them instead of
moving the axes: East/West the time offset (East: later along the track), North/South the cross-track offset (North:
towards the inside of the arc), at a speed set by TELESCOPE_SLEW_RATE.

Optical pointing applies refraction and follows to arcseconds; antenna pointing leaves refraction out (radio waves
bend differently) and sends new rates only when the beam would otherwise drift by a fraction of the tolerance.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import trio

from ..indi.part import Handler, Part
from ..indi.properties import State, Update, ValidationError
from ..indi.xmlstream import format_timestamp, parse_timestamp
from . import aux, rates
from .mount import AxisAngles, Geometry, axis1_sign, axis2_sign, crosses, wrap180
from .passlist import PassSummary, sunlight_times, sunlight_words
from .passplan import PassPlan, plan_pass, separation

if TYPE_CHECKING:
    from .driver import NexStarDriver
    from .orbit import Orbit, Pass

FOLLOW_PERIOD = 0.25  # seconds between rate updates while following
STATUS_EVERY = 4  # rate updates between two reports of the position and following error (once a second)
PLAN_STEP = 0.5  # seconds between planned points
LIST_PLAN_STEP = 2.0  # seconds between planned points when a pass is only listed (its notes, not its path)
CHOSEN_MARGIN_S = 60.0  # the pass window set around a pass chosen from the list
CORRECTION_TIME = 1.0  # seconds over which following takes a measured error out (rates.py's closed loop)
SLEW_ALLOWANCE = 2.0  # degrees per second assumed for reaching an in-progress pass (fast then slow goto)
DEFAULT_WINDOW_S = 86400.0  # with no pass window, the next day is searched
ALTITUDE_MARGIN = 0.5  # degrees below the lowest allowed altitude at which following stops as unsafe
# What holding a motion button during a pass does to the offsets each second, by TELESCOPE_SLEW_RATE (1x … 9x)
NUDGE_SECONDS_PER_S = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
NUDGE_DEGREES_PER_S = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


def _parse_time(text: str, what: str) -> float | None:
    """A pass window's end as a Unix time; None when it is empty."""
    if not text.strip().rstrip("Z"):
        return None
    try:
        return parse_timestamp(text).timestamp()
    except ValueError:
        raise ValidationError(f"{what} needs UTC as YYYY-MM-DDTHH:MM:SS, not {text.strip()!r}") from None


class SatelliteTracker(Part):
    def __init__(self, driver: NexStarDriver) -> None:
        self.driver = driver
        self.props = driver.props
        self.plan: PassPlan | None = None
        self.following = False
        self.halt_requested = False  # the next cancellation is the client's SAT_HALT, not something else stopping it
        self._orbit: tuple[str, float, Orbit] | None = None  # (TLE text, age limit, orbit)
        self.nudging = {"WE": 0, "NS": 0}  # motion buttons held during a pass: +1, -1 or 0
        self.listed: list[PassSummary] = []  # SAT_PASS_LIST, in order
        self.handlers: dict[str, Handler] = {
            "SAT_TLE_TEXT": self._on_tle,
            "SAT_PASS_WINDOW": self._on_window,
            "SAT_TRACKING_STAT": self._on_tracking,
            "SAT_POINTING_MODE": self._on_setting,
            "SAT_AFTER_PASS": self._on_setting,
            "SAT_FLIP": self._on_setting,
            "SAT_FLIP_LIMIT": self._on_setting,
            "SAT_SETTINGS": self._on_setting,
            "SAT_FREQUENCY": self._on_changeable_during_a_pass,
            "SAT_PASS_LIST_SETTINGS": self._on_setting,
            "SAT_PASS_CHOICE": self._on_pass_choice,
            "SAT_TIME_OFFSET": self._on_changeable_during_a_pass,
            "SAT_CROSS_TRACK_OFFSET": self._on_changeable_during_a_pass,
        }

    # --- inputs ----------------------------------------------------------------------------------------------

    def _tle_text(self) -> str:
        return self.props.text("SAT_TLE_TEXT")["TLE"].value

    def _setting(self, name: str) -> float:
        return self.props.number("SAT_SETTINGS")[name].value

    def offsets(self) -> tuple[float, float]:
        """The time offset (s) and the cross-track offset (degrees) the pass is followed with."""
        return (
            self.props.number("SAT_TIME_OFFSET")["OFFSET"].value,
            self.props.number("SAT_CROSS_TRACK_OFFSET")["OFFSET"].value,
        )

    def antenna(self) -> bool:
        return self.props.switch("SAT_POINTING_MODE")["SAT_ANTENNA"].on

    def over_the_top(self) -> float | None:
        """The highest the altitude axis may go past the zenith in a pass (SAT_FLIP), or None: never (a wedge never)."""
        if not self.props.switch("SAT_FLIP")["SAT_FLIP_ON"].on or self.driver.geometry() is not Geometry.ALTAZ:
            return None
        return self.props.number("SAT_FLIP_LIMIT")["MAX_AXIS_ALT"].value

    def orbit(self, text: str | None = None) -> Orbit:
        """The orbit of the given (or current) TLE; a TLE that is malformed or too old is refused."""
        text = self._tle_text() if text is None else text
        if not text.strip():
            raise ValidationError("no TLE: set SAT_TLE_TEXT to the satellite's two-line elements first")
        from . import orbit as orbits  # sgp4 is loaded only by a driver that is given a TLE

        max_age = self._setting("MAX_TLE_AGE")
        try:
            tle = orbits.parse_tle(text, self.driver.now_unix(), max_age)
        except orbits.TLEError as exc:
            raise ValidationError(f"TLE refused: {exc}") from None
        if self._orbit is None or self._orbit[0] != text or self._orbit[1] != max_age:
            self._orbit = (text, max_age, orbits.Orbit(tle))
        return self._orbit[2]

    def window(self) -> tuple[float, float]:
        """The pass window; empty, or already over, means from now for a day."""
        vector = self.props.text("SAT_PASS_WINDOW")
        now = self.driver.now_unix()
        start = _parse_time(vector["SAT_PASS_WINDOW_START"].value, "SAT_PASS_WINDOW_START")
        end = _parse_time(vector["SAT_PASS_WINDOW_END"].value, "SAT_PASS_WINDOW_END")
        if start is None or end is None or end <= start or end <= now:
            return now, now + DEFAULT_WINDOW_S
        return max(start, now), end

    def _weather(self):
        return None if self.antenna() else self.driver.weather()

    async def find_pass(self, orbit: Orbit) -> Pass | None:
        """The first pass above the lowest allowed altitude in the window.

        Computed in the event loop: a day's prediction takes a few milliseconds, and a worker thread would let a fake
        clock run on while it computes."""
        from .orbit import predict_passes

        start, end = self.window()
        low = self.driver.motion.altitude_limits()[0]
        site, weather = self.driver.site(), self._weather()
        passes = predict_passes(orbit, site, start, end, low, weather)
        return passes[0] if passes else None

    async def make_plan(self, orbit: Orbit, chosen: Pass, start: float, step: float = PLAN_STEP) -> PassPlan:
        """The axes' path from `start` to the set (a few milliseconds, in the event loop as find_pass)."""
        driver = self.driver
        site, weather = driver.site(), self._weather()
        plan_for_this_mount = partial(
            plan_pass,
            geometry=driver.geometry(), latitude=site.latitude, altitude_limits=driver.motion.altitude_limits(),
            cordwrap=driver.motion.cordwrap(), max_rate=self._setting("MAX_AXIS_RATE"),
            over_the_top=self.over_the_top(),
        )  # fmt: skip

        def plan() -> PassPlan:
            count = max(2, int(math.ceil((chosen.set.unix - start) / step)) + 1)
            times = np.linspace(start, chosen.set.unix, count)
            look = orbit.topocentric(site, times, weather)
            return plan_for_this_mount(times, np.asarray(look.azimuth), np.asarray(look.elevation))

        try:
            return plan()
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    # --- prediction ------------------------------------------------------------------------------------------

    async def refresh_prediction(self) -> None:
        """Show the next pass for the site, or why there is none."""
        times = self.props.text("SAT_PASS_TIMES")
        geometry = self.props.number("SAT_PASS_GEOMETRY")
        if not self._tle_text().strip():
            return
        try:
            orbit = self.orbit()
            chosen = await self.find_pass(orbit)
        except ValidationError as exc:
            times["NOTES"].value = str(exc)
            self.driver.update(times.name, State.ALERT)
            return
        await self._refresh_pass_list(orbit)
        times["SATELLITE"].value = orbit.tle.name or f"NORAD {orbit.tle.catalog_number}"
        if chosen is None:
            start, end = self.window()
            for name in ("RISE", "CULMINATION", "SET"):
                times[name].value = ""
            window = f"between {format_timestamp(start)} and {format_timestamp(end)}"
            times["NOTES"].value = f"no pass above the lowest allowed altitude {window}"
            self.driver.update(times.name, State.IDLE)
            return
        times["RISE"].value = format_timestamp(chosen.rise.unix)
        times["CULMINATION"].value = format_timestamp(chosen.culmination.unix)
        times["SET"].value = format_timestamp(chosen.set.unix)
        geometry.apply(
            {
                "RISE_AZ": chosen.rise.azimuth % 360.0, "RISE_ALT": chosen.rise.elevation,
                "CULMINATION_AZ": chosen.culmination.azimuth % 360.0, "CULMINATION_ALT": chosen.culmination.elevation,
                "SET_AZ": chosen.set.azimuth % 360.0, "SET_ALT": chosen.set.elevation,
            }
        )  # fmt: skip
        try:
            plan = await self.make_plan(orbit, chosen, max(chosen.rise.unix, self.driver.now_unix()))
        except ValidationError as exc:  # the TLE is good; this mount cannot follow the pass (shown, not refused)
            times["NOTES"].value = f"the mount cannot follow this pass: {exc}"
            self.driver.update(times.name, State.ALERT)
            self.driver.update(geometry.name, State.ALERT)
            return
        times["NOTES"].value = "; ".join(plan.notes) or "the mount can follow the whole pass"
        geometry["WORST_PLANNED_ERROR"].value = plan.worst_error
        self.driver.update(times.name, State.OK)
        self.driver.update(geometry.name, State.OK)

    async def _refresh_pass_list(self, orbit: Orbit) -> None:
        """SAT_PASS_LIST: the next COUNT passes within DAYS from now, each with its sunlight and what the mount can
        follow of it (a plan at LIST_PLAN_STEP: its notes, a few milliseconds a pass)."""
        from .orbit import TLEError, predict_passes

        settings = self.props.number("SAT_PASS_LIST_SETTINGS")
        vector = self.props.text("SAT_PASS_LIST")
        now = self.driver.now_unix()
        low = self.driver.motion.altitude_limits()[0]
        site, weather = self.driver.site(), self._weather()
        self.listed = []
        try:
            passes = predict_passes(orbit, site, now, now + settings["DAYS"].value * 86400.0, low, weather)
        except TLEError as exc:  # the orbit cannot be propagated that far (a decaying satellite)
            for member in vector:
                member.value = ""
            vector["PASS_1"].value = str(exc)
            self.driver.update(vector.name, State.ALERT)
            return
        for found in passes[: int(settings["COUNT"].value)]:
            await trio.lowlevel.checkpoint()  # some milliseconds a pass: the polls and the writer go on in between
            try:
                plan = await self.make_plan(orbit, found, max(found.rise.unix, now), LIST_PLAN_STEP)
                notes = tuple(plan.notes)
            except ValidationError as exc:
                notes = (f"the mount cannot follow it: {exc}",)
            lit_times = sunlight_times(found.rise.unix, found.set.unix)
            self.listed.append(
                PassSummary(
                    found.rise.unix, found.culmination.unix, found.set.unix, found.culmination.elevation,
                    found.culmination.azimuth, sunlight_words(lit_times, orbit.sunlit(lit_times)), notes,
                )
            )  # fmt: skip
        for index, member in enumerate(vector):
            member.value = self.listed[index].line() if index < len(self.listed) else ""
        self.driver.update(vector.name, State.OK if self.listed else State.IDLE)
        self._show_choice()

    def _show_choice(self) -> None:
        """SAT_PASS_CHOICE follows the chosen pass (the pass window's) to its place in the list, or shows none."""
        window = self.props.text("SAT_PASS_WINDOW")
        choice = self.props.switch("SAT_PASS_CHOICE")
        start = _parse_time(window["SAT_PASS_WINDOW_START"].value, "SAT_PASS_WINDOW_START")
        end = _parse_time(window["SAT_PASS_WINDOW_END"].value, "SAT_PASS_WINDOW_END")
        chosen = None
        if start is not None and end is not None:
            chosen = next((i for i, p in enumerate(self.listed) if start <= p.rise and p.set <= end), None)
        choice.select(None if chosen is None else f"PASS_{chosen + 1}")
        self.driver.update(choice.name, State.OK if chosen is not None else State.IDLE)

    async def _on_pass_choice(self, update: Update) -> None:
        """Choosing a listed pass sets the pass window around it: the next pass shown, and tracked, is that one."""
        if self.following:
            raise ValidationError("a pass is being followed; halt it before choosing another")
        picked = next((name for name, on in update.values.items() if on), None)
        window = self.props.text("SAT_PASS_WINDOW")
        if picked is None:  # none chosen: the window is emptied, back to the next pass
            window["SAT_PASS_WINDOW_START"].value = window["SAT_PASS_WINDOW_END"].value = ""
        else:
            index = int(picked.removeprefix("PASS_")) - 1
            if index >= len(self.listed):
                raise ValidationError(f"the list has {len(self.listed)} passes; there is no pass {index + 1}")
            chosen = self.listed[index]
            window["SAT_PASS_WINDOW_START"].value = format_timestamp(chosen.rise - CHOSEN_MARGIN_S)
            window["SAT_PASS_WINDOW_END"].value = format_timestamp(chosen.set + CHOSEN_MARGIN_S)
        self.driver.update(window.name, State.OK)
        await self.refresh_prediction()  # shows the chosen pass, and the choice, or why there is none

    async def refresh_quietly(self) -> None:
        """After a change of site, time or settings: a TLE that no longer fits is reported, not raised."""
        if self.driver.connected:
            await self.refresh_prediction()

    # --- handlers --------------------------------------------------------------------------------------------

    async def _on_tle(self, update: Update) -> None:
        self.orbit(update["TLE"])  # refuses a bad TLE before anything changes
        changed = update["TLE"] != self._tle_text()
        self.driver.accept(update)
        if changed and not self.following and any(self.offsets()):
            for name in ("SAT_TIME_OFFSET", "SAT_CROSS_TRACK_OFFSET"):
                self.props.number(name)["OFFSET"].value = 0.0
                self.driver.update(name, State.IDLE)
            self.driver.message("A new TLE: the along-track and cross-track offsets are back to 0")
        await self.refresh_quietly()

    async def _on_changeable_during_a_pass(self, update: Update) -> None:
        """Offsets and frequencies may change at any time (a ham moves to another transponder, a TLE runs late): a
        pass being followed takes them at its next step or status."""
        self.driver.accept(update)

    async def nudge(self, update: Update) -> None:
        """A motion button pressed or let go while a pass is followed (motion.py hands it here)."""
        if not self.following:  # the rotator endpoint steers the mount: it has no offsets to nudge
            raise ValidationError("the antenna rotator endpoint is steering the mount; stop it first")
        we = update.vector.name.endswith("WE")
        forward, back = ("MOTION_EAST", "MOTION_WEST") if we else ("MOTION_NORTH", "MOTION_SOUTH")
        direction = 1 if update[forward] else -1 if update[back] else 0
        self.nudging["WE" if we else "NS"] = direction
        self.driver.accept(update, State.BUSY if direction else State.IDLE)

    def _nudge_steps(self, seconds: float) -> tuple[float, float]:
        """How much the buttons held change the time and cross-track offsets over `seconds`."""
        level = self.driver.motion.slew_level() - 1
        return (
            self.nudging["WE"] * NUDGE_SECONDS_PER_S[level] * seconds,
            self.nudging["NS"] * NUDGE_DEGREES_PER_S[level] * seconds,
        )

    def _apply_nudge_steps(self, time_step: float, cross_step: float) -> None:
        for name, step in (("SAT_TIME_OFFSET", time_step), ("SAT_CROSS_TRACK_OFFSET", cross_step)):
            if step:
                member = self.props.number(name)["OFFSET"]
                member.value = min(member.max, max(member.min, member.value + step))
                self.driver.update(name, State.OK)

    def _release_buttons(self) -> None:
        """At the end of a pass, buttons still held stop nudging and show so."""
        for key, name in (("WE", "TELESCOPE_MOTION_WE"), ("NS", "TELESCOPE_MOTION_NS")):
            if self.nudging[key]:
                self.nudging[key] = 0
                self.props.switch(name).reset()
                self.driver.update(name, State.IDLE)

    async def _on_window(self, update: Update) -> None:
        start = _parse_time(update["SAT_PASS_WINDOW_START"], "SAT_PASS_WINDOW_START")
        end = _parse_time(update["SAT_PASS_WINDOW_END"], "SAT_PASS_WINDOW_END")
        if start is not None and end is not None and end <= start:
            raise ValidationError("the pass window ends before it starts")
        self.driver.accept(update)
        await self.refresh_quietly()

    async def _on_setting(self, update: Update) -> None:
        if self.following:
            raise ValidationError("a pass is being followed; halt it before changing how")
        self.driver.accept(update)
        await self.refresh_quietly()

    async def _on_tracking(self, update: Update) -> None:
        vector = update.switches
        if not update["SAT_TRACK"]:
            if self.following:
                self.halt_requested = True
                await self.driver.motion.stop_everything()  # the task's end reports the halt
                return
            vector.select("SAT_HALT")
            self.driver.update(vector.name, State.IDLE, "Satellite tracking halted")
            return
        motion = self.driver.motion
        if motion.parked:
            raise ValidationError("the mount is parked; unpark it first")
        orbit = self.orbit()
        chosen = await self.find_pass(orbit)
        if chosen is None:
            start, end = self.window()
            raise ValidationError(
                f"no pass of {orbit.tle.name or orbit.tle.catalog_number} above the lowest allowed altitude "
                f"between {format_timestamp(start)} and {format_timestamp(end)}"
            )
        await self.make_plan(orbit, chosen, max(chosen.rise.unix, self.driver.now_unix()))  # refused if unplannable
        await self.refresh_prediction()
        vector.select("SAT_TRACK")
        self.driver.update(
            vector.name, State.BUSY, f"Tracking the pass rising at {format_timestamp(chosen.rise.unix)} UTC"
        )
        await motion.begin_task(lambda: self._track(orbit, chosen), "Satellite tracking", self._ended)

    # --- following -------------------------------------------------------------------------------------------

    def _ended(self, outcome: str) -> None:
        """Called when the tracking task ends, however it ends."""
        halted = self.halt_requested
        self.following = self.halt_requested = False
        self._release_buttons()
        vector = self.props.switch("SAT_TRACKING_STAT")
        vector.select("SAT_HALT")
        if outcome == "done":
            self.driver.update(vector.name, State.OK)
        elif outcome == "cancelled" and halted:
            self.driver.update(vector.name, State.IDLE, "Satellite tracking halted")
        elif outcome == "cancelled":
            self.driver.update(vector.name, State.IDLE, "[WARNING] Satellite tracking stopped")
        else:
            self.driver.update(vector.name, State.ALERT)

    async def _track(self, orbit: Orbit, chosen: Pass) -> None:
        from .motion import Phase

        driver, motion = self.driver, self.driver.motion
        self.following = True
        encoders = await driver.read_encoders()
        here = driver.mount_axes(*encoders)
        now = driver.now_unix()
        rise_plan = await self.make_plan(orbit, chosen, max(chosen.rise.unix, now))
        aim_time = rise_plan.start
        if aim_time < now + 1.0:  # the pass is under way: aim where the satellite will be once the mount gets there
            first = AxisAngles(*rise_plan.position(now))
            distance = max(abs(wrap180(first.axis1 - here.axis1)), abs(first.axis2 - here.axis2))
            aim_time = min(rise_plan.end, now + distance / SLEW_ALLOWANCE + 5.0)
        plan = await self.make_plan(orbit, chosen, aim_time)
        self.plan = plan
        for note in plan.notes:
            driver.message(f"Satellite pass: {note}", "WARNING")
        motion.set_phase(Phase.SLEWING)
        start = driver.model.to_mount(AxisAngles(*plan.position(plan.start)))
        await motion.move_to(start)
        motion.set_phase(Phase.SATELLITE)
        await trio.sleep(max(0.0, plan.start - self.offsets()[0] - driver.now_unix()))  # the satellite gets there
        await self._follow(plan, orbit)
        await motion.stop_axes()
        self.props.text("SAT_PASS_TIMES")["NOTES"].value = "pass complete"
        driver.update("SAT_PASS_TIMES")
        if self.props.switch("SAT_AFTER_PASS")["SAT_PARK"].on:
            driver.message("The pass is over: parking")
            await motion.park_now()
        else:
            motion.set_phase(Phase.IDLE)
            driver.message("The pass is over: holding at the set point")

    async def _follow(self, plan: PassPlan, orbit: Orbit) -> None:
        driver, motion = self.driver, self.driver.motion
        geometry, southern = driver.geometry(), driver.southern()
        signs = {aux.Device.AZM: axis1_sign(geometry, southern), aux.Device.ALT: axis2_sign(geometry, southern)}
        max_rate = self._setting("MAX_AXIS_RATE")
        tolerance = self._setting("ANTENNA_TOLERANCE") if self.antenna() else 0.0
        status = self.props.number("SAT_STATUS")
        wrap = motion.cordwrap()
        previous: AxisAngles | None = None
        commanded = {aux.Device.AZM: 0.0, aux.Device.ALT: 0.0}
        next_tick = trio.current_time()
        ticks = 0
        while driver.now_unix() + self.offsets()[0] < plan.end:
            encoders = await driver.read_encoders()
            now = driver.now_unix()
            measured = driver.mount_axes(*encoders)
            self._check_safety(measured, previous, wrap, plan)
            previous = measured
            time_offset, cross = self.offsets()
            time_step, cross_step = self._nudge_steps(FOLLOW_PERIOD)
            wanted = driver.model.to_mount(AxisAngles(*plan.position(now + time_offset, cross)))
            later = now + FOLLOW_PERIOD + time_offset + time_step
            ahead = driver.model.to_mount(AxisAngles(*plan.position(later, cross + cross_step)))
            self._apply_nudge_steps(time_step, cross_step)
            axes = rates.closed_loop(
                wanted, ahead, FOLLOW_PERIOD, measured, correction_time_s=CORRECTION_TIME, max_rate=max_rate
            )
            for axis, law in zip((aux.Device.AZM, aux.Device.ALT), axes):
                # An antenna's beam is wide: leave a rate alone while it keeps the beam well within the tolerance.
                if tolerance and abs(law.error) < tolerance / 4 and abs(law.rate - commanded[axis]) < tolerance / 4:
                    continue
                commanded[axis] = law.rate
                await motion.send_rate(axis, signs[axis] * law.rate * 3600.0)
            ticks += 1
            if ticks % STATUS_EVERY == 0:
                self._show_status(orbit, plan, measured, now)
            next_tick += FOLLOW_PERIOD
            await trio.sleep_until(max(next_tick, trio.current_time()))
        driver.update(status.name, State.OK)

    def _show_status(self, orbit: Orbit, plan: PassPlan, measured: AxisAngles, now: float) -> None:
        from .orbit import doppler

        driver = self.driver
        status = self.props.number("SAT_STATUS")
        frequencies = self.props.number("SAT_FREQUENCY")
        time_offset, cross = self.offsets()
        seen_at = now + time_offset  # where the satellite is, the TLE's error taken out
        look = orbit.topocentric(driver.site(), seen_at, self._weather())
        # the aim: the satellite itself, or beside it (from the plan's samples of its track)
        aimed_az, aimed_el = plan.aim(seen_at, cross) if cross else (float(look.azimuth), float(look.elevation))
        ideal = driver.model.to_sky(measured)
        pointed_az, pointed_el = plan.pointing(ideal.axis1, ideal.axis2)
        downlink_heard, _ = doppler(frequencies["DOWNLINK"].value, look.range_rate_km_s)
        _, uplink_sent = doppler(frequencies["UPLINK"].value, look.range_rate_km_s)
        status.apply(
            {
                "SAT_AZ": float(look.azimuth) % 360.0, "SAT_ALT": float(look.elevation),
                "SAT_RANGE": float(look.range_km),
                "FOLLOW_ERROR": float(separation(pointed_az, pointed_el, aimed_az, aimed_el)) * 60.0,
                "RANGE_RATE": look.range_rate_km_s, "DOWNLINK_HEARD": downlink_heard, "UPLINK_SENT": uplink_sent,
                "SUNLIT": float(orbit.sunlit(seen_at)[0]),
            }
        )  # fmt: skip
        driver.update(status.name, State.BUSY)
        driver.show_position()

    def _check_safety(
        self, measured: AxisAngles, previous: AxisAngles | None, wrap: float | None, plan: PassPlan
    ) -> None:
        from .motion import MotionError

        driver = self.driver
        altitude = driver.altitude_of(driver.model.to_sky(measured))
        low = driver.motion.altitude_limits()[0]
        if altitude < low - ALTITUDE_MARGIN:
            raise MotionError(f"the telescope reached altitude {altitude:.2f}°, below the lowest allowed {low:g}°")
        axis_altitude = measured.axis2  # over the top (alt-az): the axis's own angle, the model left out
        if plan.over_the_top and axis_altitude > plan.highest_axis + ALTITUDE_MARGIN:
            raise MotionError(
                f"the altitude axis reached {axis_altitude:.2f}°, above the highest allowed {plan.highest_axis:g}°"
            )
        if (
            wrap is not None
            and previous is not None
            and crosses(previous.axis1, wrap180(measured.axis1 - previous.axis1), wrap)
        ):
            raise MotionError(f"the azimuth crossed the cord-wrap position {wrap:g}°")
