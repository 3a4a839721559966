"""Sensors and weather: temperature/humidity sensors 1 and 2, the sky temperature (clouds) and sky brightness sensors,
and the INDI Weather interface built on them.

A sensor the status line marks absent is shown as absent (Idle, with a message when it comes or goes), never with
the junk the device puts in its fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..indi.interfaces.weather import Weather
from ..indi.properties import State, Update, ValidationError
from . import protocol as p
from .environment import CloudThresholds, cloud_cover, sky_condition

if TYPE_CHECKING:
    from .driver import AstroLink4Driver

WEATHER_PARAMETERS = [
    "WEATHER_TEMPERATURE",
    "WEATHER_HUMIDITY",
    "WEATHER_DEWPOINT",
    "WEATHER_SKY_TEMPERATURE",
    "WEATHER_CLOUD_COVER",
    "WEATHER_SKY_BRIGHTNESS",
]
CRITICAL = ["WEATHER_HUMIDITY", "WEATHER_CLOUD_COVER"]
SENSOR_NAMES = {"SENSOR_1": "Sensor 1", "SENSOR_2": "Sensor 2", "SKY_SENSOR": "Sky temperature sensor",
                "SKY_QUALITY": "Sky brightness sensor"}  # fmt: skip


class Sensors:
    def __init__(self, driver: "AstroLink4Driver") -> None:
        self.driver = driver
        self.props = driver.props
        self.weather = Weather(driver, WEATHER_PARAMETERS, CRITICAL)
        self.present: dict[str, bool | None] = {name: None for name in SENSOR_NAMES}
        driver.handlers.update({"CLOUD_THRESHOLDS": self._on_thresholds, "SKY_QUALITY_CALIBRATION": self._on_calibration})

    # --- readings other parts use ----------------------------------------------------------------------------

    def sensor1_temperature(self, status: p.Status) -> float | None:
        return status.sensor1.temperature if status.sensor1 else None

    def sensor2_temperature(self, status: p.Status) -> float | None:
        if status.sensor2 is not None:
            return status.sensor2.temperature
        return status.sensor2_temperature

    def humidity(self, status: p.Status) -> float | None:
        return status.sensor1.humidity if status.sensor1 else (status.sensor2.humidity if status.sensor2 else None)

    def compensation_temperature(self) -> float | None:
        status = self.driver.status
        if status is None:
            return None
        if self.props.switch("COMP_SENSOR")["SENSOR_2"].on:
            return self.sensor2_temperature(status)
        return self.sensor1_temperature(status)

    def thresholds(self) -> CloudThresholds:
        values = self.props.number("CLOUD_THRESHOLDS")
        return CloudThresholds(values["OVERCAST"].value, values["CLOUDY"].value, values["PARTLY"].value, values["CLEAR"].value)

    def ambient_minus_sky(self, status: p.Status) -> float | None:
        return -status.sky.sky_minus_ambient if status.sky else None

    def cloud_cover(self, status: p.Status) -> float | None:
        difference = self.ambient_minus_sky(status)
        return None if difference is None else cloud_cover(difference, self.thresholds())

    def sky_brightness(self, status: p.Status) -> float | None:
        if status.sky_brightness is None:
            return None
        calibration = self.props.number("SKY_QUALITY_CALIBRATION")
        return (status.sky_brightness - calibration["OFFSET"].value) * calibration["COEFFICIENT"].value

    # --- status ----------------------------------------------------------------------------------------------

    def _presence(self, name: str, present: bool) -> None:
        if self.present[name] == present:
            return
        previous, self.present[name] = self.present[name], present
        if previous is None and present:
            return  # found at connect: nothing to say
        word = "connected" if present else "not connected"
        message = f"[{'INFO' if present else 'WARNING'}] {SENSOR_NAMES[name]} is {word}"
        if name in self.props.defined:
            self.driver.update(name, State.OK if present else State.IDLE, message)

    def _show(self, name: str, values: dict[str, float] | None) -> None:
        if name not in self.props.defined:
            return
        self._presence(name, values is not None)
        if values is not None:
            self.props.number(name).apply(values)
            self.driver.update(name, State.OK)

    def on_status(self, status: p.Status) -> None:
        s1 = status.sensor1
        self._show("SENSOR_1", {"TEMP_1": s1.temperature, "HUM_1": s1.humidity, "DEW_1": s1.dew_point} if s1 else None)
        if status.sensor2 is not None:
            s2 = status.sensor2
            self._show("SENSOR_2", {"TEMP_2": s2.temperature, "HUM_2": s2.humidity, "DEW_2": s2.dew_point})
        elif status.sensor2_temperature is not None:
            self._show("SENSOR_2", {"TEMP_2": status.sensor2_temperature})
        else:
            self._show("SENSOR_2", None)
        difference = self.ambient_minus_sky(status)
        cover = self.cloud_cover(status)
        if status.sky is not None and difference is not None and cover is not None:
            self._show("SKY_SENSOR", {"SKY_TEMP": status.sky.sky_temperature, "SKY_DIFF": difference, "CLOUD_COVER": cover})
            condition = self.props.text("SKY_CONDITION")
            text = sky_condition(difference, self.thresholds())
            if condition["CONDITION"].value != text or condition.state is not State.OK:
                condition["CONDITION"].value = text
                self.driver.update(condition.name, State.OK)
        else:
            self._show("SKY_SENSOR", None)
        brightness = self.sky_brightness(status)
        raw = status.sky_brightness
        self._show("SKY_QUALITY", {"SKY_BRIGHTNESS": brightness, "SKY_BRIGHTNESS_RAW": raw} if brightness is not None and raw is not None else None)
        temperature = self.compensation_temperature()
        if temperature is not None:
            focus = self.props.number("FOCUS_TEMPERATURE")
            focus["TEMPERATURE"].value = temperature
            self.driver.update(focus.name, State.OK)
        self.weather.set_values(
            {
                "WEATHER_TEMPERATURE": s1.temperature if s1 else None,
                "WEATHER_HUMIDITY": self.humidity(status),
                "WEATHER_DEWPOINT": s1.dew_point if s1 else (status.sensor2.dew_point if status.sensor2 else None),
                "WEATHER_SKY_TEMPERATURE": status.sky.sky_temperature if status.sky else None,
                "WEATHER_CLOUD_COVER": cover,
                "WEATHER_SKY_BRIGHTNESS": brightness,
            }
        )
        if self.props.light("WEATHER_STATUS").state is State.IDLE or self.driver.polls == 1:
            self.weather.publish()  # the first readings are shown at once, then every WEATHER_UPDATE period

    # --- requests --------------------------------------------------------------------------------------------

    async def _on_thresholds(self, update: Update) -> None:
        proposed = CloudThresholds(update["OVERCAST"], update["CLOUDY"], update["PARTLY"], update["CLEAR"])
        if not proposed.ordered():
            raise ValidationError("the cloud thresholds must rise: overcast < cloudy < partly cloudy < clear")
        self.driver.accept(update)
        self.weather.refresh_now()

    async def _on_calibration(self, update: Update) -> None:
        self.driver.accept(update)
