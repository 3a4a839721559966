"""The standard behaviour of an INDI weather device (libindi's WeatherInterface), written once.

Each parameter has an OK range and a warning margin (a percentage of the range, inside each edge): outside the range
it is Alert, in the margin Busy, otherwise Ok. WEATHER_STATUS has a light per critical parameter, and its vector state
is the overall status clients act on (Ekos stops a session on Alert). A parameter whose sensor is absent is Idle and
keeps its last value on screen; if no critical parameter is present, the overall status is Idle: unknown, not safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from ..properties import State, Update, ValidationError

if TYPE_CHECKING:
    from ..device import Device

SEVERITY = {State.IDLE: 0, State.OK: 1, State.BUSY: 2, State.ALERT: 3}
# WEATHER_UPDATE is whole seconds: a period just above 0 would publish in a tight loop and flood indiserver, which then
# delivers nothing else from the driver.
SHORTEST_UPDATE_PERIOD = 1.0


def parameter_state(value: float, minimum: float, maximum: float, percent_warning: float) -> State:
    if value < minimum or value > maximum:
        return State.ALERT
    margin = (maximum - minimum) * percent_warning / 100.0
    if value < minimum + margin or value > maximum - margin:
        return State.BUSY
    return State.OK


def worst(states: list[State]) -> State:
    return max(states, key=SEVERITY.__getitem__) if states else State.IDLE


class Weather:
    def __init__(self, device: "Device", parameters: list[str], critical: list[str]) -> None:
        self.device = device
        self.props = device.props
        self.parameters = parameters
        self.critical = critical
        self.values: dict[str, float | None] = {name: None for name in parameters}
        self._refresh = trio.Event()
        handlers = {
            "WEATHER_UPDATE": self._on_update_period,
            "WEATHER_REFRESH": self._on_refresh,
            "WEATHER_OVERRIDE": self._on_override,
        }
        handlers.update({name: self._on_range for name in parameters})
        device.handlers.update(handlers)
        for name in parameters:
            self._apply_range(name)

    def _apply_range(self, name: str) -> None:
        limits = self.props.number(name)
        self.props.number("WEATHER_PARAMETERS").set_limits(name, limits["MIN_OK"].value, limits["MAX_OK"].value)

    def set_values(self, values: dict[str, float | None]) -> None:
        """The latest readings; None for a parameter whose sensor is absent."""
        self.values.update(values)

    def states(self) -> dict[str, State]:
        result = {}
        for name in self.parameters:
            value = self.values.get(name)
            if value is None:
                result[name] = State.IDLE
                continue
            limits = self.props.number(name)
            result[name] = parameter_state(value, limits["MIN_OK"].value, limits["MAX_OK"].value, limits["PERC_WARN"].value)
        return result

    def overall(self) -> State:
        states = self.states()
        present = [states[name] for name in self.critical if states[name] is not State.IDLE]
        if not present:
            return State.IDLE
        if self.props.switch("WEATHER_OVERRIDE")["OVERRIDE"].on:
            return State.OK
        return worst(present)

    def publish(self) -> None:
        parameters = self.props.number("WEATHER_PARAMETERS")
        for name, value in self.values.items():
            if value is not None:
                parameters[name].value = value
        any_present = any(value is not None for value in self.values.values())
        self.device.update(parameters.name, State.OK if any_present else State.IDLE)
        states = self.states()
        status = self.props.light("WEATHER_STATUS")
        previous = status.state
        status.apply({name: states[name] for name in status.members})
        overall = self.overall()
        message = None
        if overall is not previous and not (previous is State.IDLE and overall is State.OK):  # quiet on a good start
            bad = [status[name].label for name in status.members if states[name] in (State.BUSY, State.ALERT)]
            words = {State.OK: "safe", State.BUSY: "warning", State.ALERT: "danger", State.IDLE: "unknown"}
            message = f"[{'WARNING' if overall is not State.OK else 'INFO'}] Weather is {words[overall]}" + (
                f": {', '.join(bad)}" if bad else ""
            )
        self.device.update(status.name, overall, message)

    def refresh_now(self) -> None:
        self._refresh.set()

    async def run(self) -> None:
        """Publish every WEATHER_UPDATE period (0: only on refresh)."""
        while True:
            period = self.props.number("WEATHER_UPDATE")["PERIOD"].value
            self._refresh = trio.Event()
            if period > 0:
                with trio.move_on_after(max(period, SHORTEST_UPDATE_PERIOD)):
                    await self._refresh.wait()
            else:
                await self._refresh.wait()
            self.publish()

    # --- requests ------------------------------------------------------------------------------------------------

    async def _on_update_period(self, update: Update) -> None:
        self.device.accept(update)
        self.refresh_now()

    async def _on_refresh(self, update: Update) -> None:
        update.vector.apply({"REFRESH": False})
        self.publish()
        self.device.update(update.vector.name, State.OK)

    async def _on_override(self, update: Update) -> None:
        self.device.accept(update, message="Weather status overridden: reported as safe" if update["OVERRIDE"] else None)
        self.publish()

    async def _on_range(self, update: Update) -> None:
        if update["MIN_OK"] >= update["MAX_OK"]:
            raise ValidationError(f"{update.vector.name}: MIN_OK must be below MAX_OK")
        self.device.accept(update)
        self._apply_range(update.vector.name)
        self.publish()
