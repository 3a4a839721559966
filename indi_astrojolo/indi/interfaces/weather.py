"""The standard behaviour of an INDI weather device (libindi's WeatherInterface), written once.

Each parameter has an OK range and a warning margin (a percentage of the range, inside each edge): outside the range
it is Alert, in the margin Busy, otherwise Ok; ALERT_TYPE 1 (libindi 2.1.3+) flips Ok and Alert. WEATHER_STATUS has a
light per critical parameter, and its vector state is the overall status clients act on (Ekos stops a session on
Alert). SAFETY_STATUS (libindi 2.1.7+, one light SAFETY) carries the same overall state for safety monitors.

Unknown is unsafe. A parameter without a live reading (its sensor is absent, gone, or the device is silent) is Idle:
in WEATHER_PARAMETERS (the vector is Idle while any of its readings is not live), in its range vector and in its
WEATHER_STATUS light; a critical parameter without a live reading makes WEATHER_STATUS and SAFETY_STATUS Alert, with
a message naming the sensor. Losing or regaining a reading, and a change of the sensor that feeds a parameter, are
published at once (whatever WEATHER_UPDATE says) and said in a message. WEATHER_OVERRIDE reports safe regardless.

WEATHER_UPDATE is the period of the regular publication, in whole seconds as libindi shows it; 0 means what it means
to libindi: no periodic updates, only WEATHER_REFRESH (and the changes above).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from ..part import Handler, Part
from ..properties import State, Update, ValidationError

if TYPE_CHECKING:
    from ..device import Device

SEVERITY = {State.IDLE: 0, State.OK: 1, State.BUSY: 2, State.ALERT: 3}
# WEATHER_UPDATE is whole seconds: a period just above 0 would publish in a tight loop and flood indiserver, which then
# delivers nothing else from the driver.
SHORTEST_UPDATE_PERIOD = 1.0
SAFETY_STATUS = "SAFETY_STATUS"  # libindi 2.1.7+: one light, SAFETY, mirroring WEATHER_STATUS


@dataclass(frozen=True, slots=True)
class Reading:
    """One parameter's reading: its value, or None when there is no live reading; `source` names the sensor that
    gives the value, or for None why there is none (e.g. "Sensor 1 is not connected")."""

    value: float | None
    source: str

    @property
    def live(self) -> bool:
        return self.value is not None


def parameter_state(
    value: float, minimum: float, maximum: float, percent_warning: float, flipped: bool = False
) -> State:
    """libindi's checkParameterState. Outside MIN_OK … MAX_OK is Alert, within PERC_WARN % of the range inside an
    edge Busy, otherwise Ok; ALERT_TYPE 1 (`flipped`) swaps Ok and Alert (a parameter that is bad inside a range).
    As in libindi, an edge at exactly 0 has no warning margin: 0 there means "no bound" (humidity and cloud cover from
    0 %: a clear dry sky is not a warning)."""
    inside_state, outside_state = (State.ALERT, State.OK) if flipped else (State.OK, State.ALERT)
    if value < minimum or value > maximum:
        return outside_state
    margin = (maximum - minimum) * percent_warning / 100.0
    if (minimum != 0 and value < minimum + margin) or (maximum != 0 and value > maximum - margin):
        return State.BUSY
    return inside_state


def worst(states: list[State]) -> State:
    return max(states, key=SEVERITY.__getitem__) if states else State.IDLE


def period_in_use(requested: float) -> float:
    """The WEATHER_UPDATE period the loop really runs at: 0 (off) or whole seconds, at least one."""
    if requested <= 0:
        return 0.0
    return max(SHORTEST_UPDATE_PERIOD, float(round(requested)))


class Weather(Part):
    def __init__(self, device: Device, parameters: list[str], critical: list[str]) -> None:
        self.device = device
        self.props = device.props
        self.all_parameters = list(parameters)
        self.all_critical = list(critical)
        self.parameters = list(parameters)
        self.critical = list(critical)
        self._full_members = {name: dict(self.props[name].members) for name in ("WEATHER_PARAMETERS", "WEATHER_STATUS")}
        self.readings: dict[str, Reading] = {name: Reading(None, "no reading yet") for name in parameters}
        self._refresh = trio.Event()
        self.handlers: dict[str, Handler] = {
            "WEATHER_UPDATE": self._on_update_period,
            "WEATHER_REFRESH": self._on_refresh,
            "WEATHER_OVERRIDE": self._on_override,
        }
        self.handlers.update({name: self._on_range for name in parameters})
        for name in parameters:
            self._apply_range(name)

    @property
    def values(self) -> dict[str, float | None]:
        return {name: reading.value for name, reading in self.readings.items()}

    def use_parameters(self, names: list[str]) -> None:
        """Only these parameters exist on the device now connected (the others' hardware is not there): the others
        leave WEATHER_PARAMETERS and WEATHER_STATUS. Their range vectors are the caller's to leave undefined."""
        self.parameters = [name for name in self.all_parameters if name in names]
        self.critical = [name for name in self.all_critical if name in names]
        for vector_name, keep in (("WEATHER_PARAMETERS", self.parameters), ("WEATHER_STATUS", self.critical)):
            vector = self.props[vector_name]
            vector.members = {name: member for name, member in self._full_members[vector_name].items() if name in keep}
        self.readings = {name: self.readings.get(name, Reading(None, "no reading yet")) for name in self.parameters}

    def _apply_range(self, name: str) -> None:
        limits = self.props.number(name)
        self.props.number("WEATHER_PARAMETERS").set_limits(name, limits["MIN_OK"].value, limits["MAX_OK"].value)

    def _label(self, name: str) -> str:
        return self.props[name].label.split(" [")[0]  # "Humidity [%]" -> "Humidity"

    # --- readings ------------------------------------------------------------------------------------------------

    def set_readings(self, readings: dict[str, Reading]) -> None:
        """The latest readings. A reading lost or regained, or fed by another sensor than before, is said and
        published at once; otherwise the values are published every WEATHER_UPDATE period."""
        notes = []
        for name, reading in readings.items():
            if name not in self.readings:
                continue  # hardware this device does not have
            before = self.readings[name]
            self.readings[name] = reading
            label = self._label(name)
            if before.live and not reading.live:
                notes.append(f"{label} is unknown: {reading.source}")
            elif reading.live and not before.live and before.source != "no reading yet":
                notes.append(f"{label} reads again, from {reading.source}")
            elif reading.live and before.live and reading.source != before.source:
                notes.append(f"{label} now comes from {reading.source} (it came from {before.source})")
        if notes:
            self.publish("[WARNING] " + "; ".join(notes))

    def lose_all(self, reason: str) -> None:
        """No live reading for any parameter (the device is silent or its status is stale)."""
        self.set_readings({name: Reading(None, reason) for name, reading in self.readings.items() if reading.live})

    def states(self) -> dict[str, State]:
        result = {}
        for name in self.parameters:
            value = self.readings[name].value
            if value is None:
                result[name] = State.IDLE
                continue
            limits = self.props.number(name)
            result[name] = parameter_state(
                value,
                limits["MIN_OK"].value,
                limits["MAX_OK"].value,
                limits["PERC_WARN"].value,
                flipped=limits["ALERT_TYPE"].value == 1,
            )
        return result

    def unknown_critical(self) -> list[str]:
        return [name for name in self.critical if not self.readings[name].live]

    def overall(self) -> State:
        if self.props.switch("WEATHER_OVERRIDE")["OVERRIDE"].on:
            return State.OK
        if not self.critical:
            return State.OK if any(reading.live for reading in self.readings.values()) else State.ALERT
        if self.unknown_critical():
            return State.ALERT  # unknown is unsafe: Ekos's Observatory parks
        states = self.states()
        return worst([states[name] for name in self.critical])

    def _overall_message(self, overall: State, previous: State) -> str | None:
        if overall is previous or (previous is State.IDLE and overall is State.OK):  # quiet on a good start
            return None
        if self.props.switch("WEATHER_OVERRIDE")["OVERRIDE"].on:
            return None  # the override said it
        unknown = self.unknown_critical()
        if unknown:
            by_reason: dict[str, list[str]] = {}
            for name in unknown:
                by_reason.setdefault(self.readings[name].source, []).append(self._label(name))
            parts = [f"{', '.join(labels)} ({reason})" for reason, labels in by_reason.items()]
            return f"[ERROR] Unsafe, weather unknown: {'; '.join(parts)}"
        states = self.states()
        status = self.props.light("WEATHER_STATUS")
        bad = [status[name].label for name in self.critical if states[name] in (State.BUSY, State.ALERT)]
        words = {State.OK: "safe", State.BUSY: "warning", State.ALERT: "danger", State.IDLE: "unknown"}
        return f"[{'WARNING' if overall is not State.OK else 'INFO'}] Weather is {words[overall]}" + (
            f": {', '.join(bad)}" if bad else ""
        )

    def publish(self, message: str | None = None) -> None:
        parameters = self.props.number("WEATHER_PARAMETERS")
        for name, reading in self.readings.items():
            if reading.value is not None:
                parameters[name].value = reading.value
        all_live = all(reading.live for reading in self.readings.values())
        self.device.update(parameters.name, State.OK if all_live else State.IDLE, message)
        states = self.states()
        for name in self.parameters:  # each range vector shows its parameter's state: its own light
            if self.props[name].state is not states[name]:
                self.device.update(name, states[name])
        status = self.props.light("WEATHER_STATUS")
        previous = status.state
        status.apply({name: states[name] for name in status.members})
        overall = self.overall()
        self.device.update(status.name, overall, self._overall_message(overall, previous))
        self._show_safety(overall)

    def announce(self) -> None:
        """Say why the weather is not safe once the properties are defined: the first publication, made while
        connecting, reached no client."""
        overall = self.overall()
        if overall is not State.OK:
            self.device.update("WEATHER_STATUS", overall, self._overall_message(overall, State.IDLE))

    def _show_safety(self, overall: State) -> None:
        if SAFETY_STATUS not in self.props:
            return
        safety = self.props.light(SAFETY_STATUS)
        if (
            safety.state is not overall
            or safety["SAFETY"].state is not overall
            or safety.name not in self.props.defined
        ):
            safety.apply({"SAFETY": overall})
            self.device.update(safety.name, overall)

    def refresh_now(self) -> None:
        self._refresh.set()

    async def run(self) -> None:
        """Publish every WEATHER_UPDATE period (0: only on refresh)."""
        while True:
            period = period_in_use(self.props.number("WEATHER_UPDATE")["PERIOD"].value)
            self._refresh = trio.Event()
            if period > 0:
                with trio.move_on_after(period):
                    await self._refresh.wait()
            else:
                await self._refresh.wait()
            self.publish()

    # --- requests ------------------------------------------------------------------------------------------------

    async def _on_update_period(self, update: Update) -> None:
        requested = update["PERIOD"]
        used = period_in_use(requested)
        update.values["PERIOD"] = used  # shown as it is used: a period the loop does not run at is never on screen
        if used == 0:
            message = "Periodic weather updates are off: the weather is published on WEATHER_REFRESH and on changes"
        elif used != requested:
            message = f"[WARNING] Weather update period {requested:g} s: {used:g} s is used (whole seconds, at least 1)"
        else:
            message = None
        self.device.accept(update, message=message)
        self.refresh_now()

    async def _on_refresh(self, update: Update) -> None:
        update.vector.apply({"REFRESH": False})
        self.publish()
        self.device.update(update.vector.name, State.OK)

    async def _on_override(self, update: Update) -> None:
        on = bool(update["OVERRIDE"])
        message = (
            "[WARNING] Weather override is on: the weather is reported safe whatever it is. "
            "Turn it off as soon as possible."
            if on
            else "Weather override is off"
        )
        self.device.accept(update, State.BUSY if on else State.IDLE, message)
        self.publish()

    async def _on_range(self, update: Update) -> None:
        if update["MIN_OK"] >= update["MAX_OK"]:
            raise ValidationError(f"{update.vector.name}: MIN_OK must be below MAX_OK")
        if update["ALERT_TYPE"] not in (0, 1):
            raise ValidationError(
                f"{update.vector.name}: ALERT_TYPE is 0 (Alert outside MIN_OK … MAX_OK) or 1 (Alert inside it), "
                f"not {update['ALERT_TYPE']:g}"
            )
        self.device.accept(update)
        self._apply_range(update.vector.name)
        self.publish()
