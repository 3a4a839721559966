"""Readings derived from one status line (pure functions), shared by the parts that act on them: the sensors and
weather, the dew heaters, the alerts, the compensation calculator and the session log.

A reading whose sensor is absent is None, never a filler value.
"""

from __future__ import annotations

from . import protocol as p


def sensor1_temperature(status: p.Status) -> float | None:
    return status.sensor1.temperature if status.sensor1 else None


def sensor2_temperature(status: p.Status) -> float | None:
    """The USB's extended sensor 2, or the mini's temperature probe."""
    if status.sensor2 is not None:
        return status.sensor2.temperature
    return status.sensor2_temperature


def chosen_temperature(status: p.Status, sensor_2: bool) -> float | None:
    """The temperature of the sensor a setting chose (COMP_SENSOR, DEW_HOLD_SENSOR, TEMP_ALERT_SENSOR)."""
    return sensor2_temperature(status) if sensor_2 else sensor1_temperature(status)


def humidity(status: p.Status) -> float | None:
    """Sensor 1's humidity, else sensor 2's (the USB's extended sensor)."""
    return status.sensor1.humidity if status.sensor1 else (status.sensor2.humidity if status.sensor2 else None)


def ambient_minus_sky(status: p.Status) -> float | None:
    """How much colder the sky is than the air: large under a clear sky."""
    return -status.sky.sky_minus_ambient if status.sky else None


def sky_brightness(status: p.Status, offset: float, coefficient: float) -> float | None:
    """The sky quality meter's reading, calibrated (SKY_QUALITY_CALIBRATION)."""
    if status.sky_brightness is None:
        return None
    return (status.sky_brightness - offset) * coefficient
