"""The panel's user-defined alerts: total current, energy, low and high input voltage, temperature change since the
start of the session, and clouds (the sky not much colder than the air).

Each alert is a light: Ok, Busy when the value is close to its limit (the panel's orange), Alert past it (red), Idle
when it is switched off (limit 0) or its sensor is absent. Every change to Busy or Alert comes with a message.
"""

from __future__ import annotations

from ..indi.interfaces.weather import worst
from ..indi.part import Handler, Part, Publisher
from ..indi.properties import State, Update
from . import environment as env
from . import protocol as p
from . import readings
from .unit import Unit


class Alerts(Part):
    def __init__(self, publisher: Publisher, unit: Unit) -> None:
        self.publisher = publisher
        self.props = publisher.props
        self.unit = unit
        self.start_temperature: dict[str, float] = {}
        self.handlers: dict[str, Handler] = {
            "POWER_ALERTS": self._on_settings,
            "ENVIRONMENT_ALERTS": self._on_settings,
            "TEMP_ALERT_SENSOR": self._on_sensor,
        }

    def _temperature(self, status: p.Status) -> tuple[str, float | None]:
        sensor_2 = bool(self.props.switch("TEMP_ALERT_SENSOR")["SENSOR_2"].on)
        return ("SENSOR_2" if sensor_2 else "SENSOR_1"), readings.chosen_temperature(status, sensor_2)

    def evaluate(self, status: p.Status) -> dict[str, tuple[State, str]]:
        power = self.props.number("POWER_ALERTS")
        environment = self.props.number("ENVIRONMENT_ALERTS")
        sensor, temperature = self._temperature(status)
        change = None
        if temperature is not None:
            start = self.start_temperature.setdefault(sensor, temperature)
            change = abs(temperature - start)
        difference = readings.ambient_minus_sky(status)
        return {
            "TOTAL_CURRENT": (
                env.above_limit(status.current, power["CURRENT_WARN"].value),
                f"total current {status.current:.2f} A",
            ),
            "ENERGY": (
                env.above_limit(status.amp_hours, power["ENERGY_WARN"].value),
                f"energy {status.amp_hours or 0:.2f} Ah",
            ),
            "VOLTAGE_LOW": (
                env.voltage_low(status.input_voltage, power["VOLTAGE_LOW"].value),
                f"input {status.input_voltage or 0:.2f} V",
            ),
            "VOLTAGE_HIGH": (
                env.voltage_high(status.input_voltage, power["VOLTAGE_HIGH"].value),
                f"input {status.input_voltage or 0:.2f} V",
            ),
            "TEMPERATURE_CHANGE": (
                env.above_limit(change, environment["TEMP_CHANGE_WARN"].value),
                f"temperature changed {change or 0:.1f} C since the start",
            ),
            "CLOUDS": (
                env.clouds(difference, environment["SKY_DIFF_WARN"].value),
                f"sky only {difference or 0:.1f} C colder than the air",
            ),
        }

    def on_status(self, status: p.Status) -> None:
        lights = self.props.light("ALERTS")
        results = self.evaluate(status)
        new_states = {name: state for name, (state, _) in results.items()}
        if new_states == lights.values() and lights.state is not State.IDLE:
            return
        raised = [
            f"{lights[name].label}: {text}"
            for name, (state, text) in results.items()
            if state in (State.BUSY, State.ALERT) and lights[name].state is not state
        ]
        lights.apply(new_states)
        overall = worst([state for state in new_states.values() if state is not State.IDLE])
        level = "ERROR" if overall is State.ALERT else "WARNING"
        self.publisher.update(lights.name, overall, f"[{level}] Alert: {'; '.join(raised)}" if raised else None)

    async def _on_settings(self, update: Update) -> None:
        self.publisher.accept(update)
        if self.unit.status is not None:
            self.on_status(self.unit.status)

    async def _on_sensor(self, update: Update) -> None:
        self.publisher.accept(update)
