"""Dew heater control done by the driver, for the modes the wire protocol cannot hand to the device; sans-I/O.

HEAT sets the duty from relative humidity: nothing up to a start humidity, rising linearly to "heat power at max
humidity" at 100 % (the manual's HEAT option). AUTO holds a sensor at a preset temperature (the manual's AUTO option,
DIRECT or REVERSED), with a proportional term and a slow integral that removes the steady offset a heater's losses
leave. The device's own automatic mode (B:i:255) is the third, separate choice.
"""

from __future__ import annotations

from dataclasses import dataclass

INTEGRAL_RATE = 0.05  # fraction of the proportional gain integrated per second
MAX_DUTY = 100


def heat_duty(humidity: float, max_power: float, start_humidity: float) -> int:
    if humidity <= start_humidity or start_humidity >= 100:
        return 0
    fraction = min(1.0, (humidity - start_humidity) / (100.0 - start_humidity))
    return int(round(max(0.0, min(float(MAX_DUTY), max_power * fraction))))


@dataclass
class HoldController:
    """Keeps one temperature at a target; `reversed_direction` heats more when colder (a dew heater)."""

    integral: float = 0.0

    def duty(self, temperature: float, target: float, gain: float, reversed_direction: bool, dt: float) -> int:
        error = (target - temperature) if reversed_direction else (temperature - target)
        proportional = gain * error
        self.integral += gain * INTEGRAL_RATE * error * dt
        # Anti-windup: the integral alone never asks for less than nothing or more than everything.
        self.integral = max(0.0, min(float(MAX_DUTY), self.integral))
        return int(round(max(0.0, min(float(MAX_DUTY), proportional + self.integral))))

    def reset(self) -> None:
        self.integral = 0.0
