"""Sensors and weather: temperature/humidity sensors 1 and 2, the sky temperature (clouds) and sky brightness sensors,
and the INDI Weather interface built on them.

A sensor the status line marks absent, or whose fields hold the device's filler values, is shown as absent (Idle,
with a message when it comes or goes), never with the junk the device puts in its fields. Readings also stop being
live when the device stops sending them: at once when a poll fails, and when no complete status line has arrived for
STALE_POLLS polling periods (at least STALE_MINIMUM_S), e.g. while firmware sends short lines during a long move.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from ..indi.interfaces.weather import Reading, Weather
from ..indi.part import Handler, Part, Publisher
from ..indi.properties import State, Update, ValidationError
from . import protocol as p
from . import readings
from .environment import CloudThresholds, cloud_cover, sky_condition

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
SKY_PARAMETERS = ["WEATHER_SKY_TEMPERATURE", "WEATHER_CLOUD_COVER", "WEATHER_SKY_BRIGHTNESS"]  # the USB's sensors only
STALE_POLLS = 3
STALE_MINIMUM_S = 5.0
SILENT = "no readings from the device"


class Sensors(Part):
    """`weather` is the standard Weather interface this part feeds (the driver builds it with WEATHER_PARAMETERS and
    CRITICAL); `polling_period` is the driver's current one, which sets how long readings stay live."""

    def __init__(self, publisher: Publisher, weather: Weather, polling_period: Callable[[], float]) -> None:
        self.publisher = publisher
        self.props = publisher.props
        self.weather = weather
        self.polling_period = polling_period
        self.present: dict[str, bool | None] = {name: None for name in SENSOR_NAMES}
        self.last_fresh: float | None = None  # trio time of the last complete status line
        self.stale = False
        self.handlers: dict[str, Handler] = {
            "CLOUD_THRESHOLDS": self._on_thresholds,
            "SKY_QUALITY_CALIBRATION": self._on_calibration,
        }

    # --- readings that depend on this part's settings --------------------------------------------------------

    def compensation_temperature(self, status: p.Status) -> float | None:
        """The temperature of the sensor COMP_SENSOR chose, shown in FOCUS_TEMPERATURE."""
        return readings.chosen_temperature(status, bool(self.props.switch("COMP_SENSOR")["SENSOR_2"].on))

    def thresholds(self) -> CloudThresholds:
        values = self.props.number("CLOUD_THRESHOLDS")
        return CloudThresholds(
            values["OVERCAST"].value, values["CLOUDY"].value, values["PARTLY"].value, values["CLEAR"].value
        )

    def cloud_cover(self, status: p.Status) -> float | None:
        difference = readings.ambient_minus_sky(status)
        return None if difference is None else cloud_cover(difference, self.thresholds())

    def sky_brightness(self, status: p.Status) -> float | None:
        """The sky quality meter's reading with this part's calibration (SKY_QUALITY_CALIBRATION)."""
        calibration = self.props.number("SKY_QUALITY_CALIBRATION")
        return readings.sky_brightness(status, calibration["OFFSET"].value, calibration["COEFFICIENT"].value)

    def _missing(self, *names: str) -> str:
        sensors = [SENSOR_NAMES[name] for name in names]
        return f"{' and '.join(sensors)} {'is' if len(sensors) == 1 else 'are'} not connected"

    def weather_readings(self, status: p.Status) -> dict[str, Reading]:
        """Each weather parameter's reading and the sensor it comes from (or why there is none). Humidity and dew
        point fall back to sensor 2 (the USB's extended sensor) when sensor 1 is gone; Weather says so."""
        s1, s2 = status.sensor1, status.sensor2
        climate_sources = ("SENSOR_1", "SENSOR_2") if status.layout is p.Layout.USB else ("SENSOR_1",)

        def climate(attribute: str) -> Reading:
            if s1 is not None:
                return Reading(getattr(s1, attribute), SENSOR_NAMES["SENSOR_1"])
            if s2 is not None:
                return Reading(getattr(s2, attribute), SENSOR_NAMES["SENSOR_2"])
            return Reading(None, self._missing(*climate_sources))

        sky_source = SENSOR_NAMES["SKY_SENSOR"]
        no_sky = self._missing("SKY_SENSOR")
        cover = self.cloud_cover(status)
        return {
            "WEATHER_TEMPERATURE": Reading(s1.temperature, SENSOR_NAMES["SENSOR_1"])
            if s1
            else Reading(None, self._missing("SENSOR_1")),
            "WEATHER_HUMIDITY": climate("humidity"),
            "WEATHER_DEWPOINT": climate("dew_point"),
            "WEATHER_SKY_TEMPERATURE": Reading(status.sky.sky_temperature, sky_source)
            if status.sky
            else Reading(None, no_sky),
            "WEATHER_CLOUD_COVER": Reading(cover, sky_source) if cover is not None else Reading(None, no_sky),
            "WEATHER_SKY_BRIGHTNESS": (
                Reading(brightness, SENSOR_NAMES["SKY_QUALITY"])
                if (brightness := self.sky_brightness(status)) is not None
                else Reading(None, self._missing("SKY_QUALITY"))
            ),
        }

    # --- lifetime ----------------------------------------------------------------------------------------------

    def connecting(self, layout: p.Layout) -> None:
        """A new connection: forget what the last one saw, and offer only the parameters this device can have."""
        self.present = {name: None for name in SENSOR_NAMES}
        self.last_fresh = None
        self.stale = False
        names = (
            WEATHER_PARAMETERS if layout is p.Layout.USB else [n for n in WEATHER_PARAMETERS if n not in SKY_PARAMETERS]
        )
        self.weather.use_parameters(names)
        self.weather.readings = {name: Reading(None, "no reading yet") for name in self.weather.parameters}

    def stale_after(self) -> float:
        return max(STALE_POLLS * self.polling_period(), STALE_MINIMUM_S)

    async def run(self) -> None:
        """The weather's periodic publication, and the watch on how fresh the readings are."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.weather.run)
            while True:
                await trio.sleep(0.5)
                if self.last_fresh is None or self.stale:
                    continue
                age = trio.current_time() - self.last_fresh
                if age > self.stale_after():
                    self.readings_lost(f"no complete status from the device for {age:.0f} s")

    def device_silent(self) -> None:
        """A poll failed: nothing on screen is live any more."""
        self.readings_lost(SILENT)

    def readings_lost(self, reason: str) -> None:
        self.stale = True
        for name in ("SENSOR_1", "SENSOR_2", "SKY_SENSOR", "SKY_QUALITY", "SKY_CONDITION", "FOCUS_TEMPERATURE"):
            if name in self.props.defined and self.props[name].state is not State.IDLE:
                self.publisher.update(name, State.IDLE)
        self.weather.lose_all(reason)

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
            self.publisher.update(name, State.OK if present else State.IDLE, message)

    def _show(self, name: str, values: dict[str, float] | None) -> None:
        if name not in self.props.defined:
            return
        self._presence(name, values is not None)
        if values is not None:
            self.props.number(name).apply(values)
            self.publisher.update(name, State.OK)

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
        difference = readings.ambient_minus_sky(status)
        cover = self.cloud_cover(status)
        if status.sky is not None and difference is not None and cover is not None:
            self._show(
                "SKY_SENSOR", {"SKY_TEMP": status.sky.sky_temperature, "SKY_DIFF": difference, "CLOUD_COVER": cover}
            )
            condition = self.props.text("SKY_CONDITION")
            text = sky_condition(difference, self.thresholds())
            if condition["CONDITION"].value != text or condition.state is not State.OK:
                condition["CONDITION"].value = text
                self.publisher.update(condition.name, State.OK)
        else:
            self._show("SKY_SENSOR", None)
            if "SKY_CONDITION" in self.props.defined and self.props["SKY_CONDITION"].state is not State.IDLE:
                self.publisher.update("SKY_CONDITION", State.IDLE)
        brightness = self.sky_brightness(status)
        raw = status.sky_brightness
        self._show(
            "SKY_QUALITY",
            {"SKY_BRIGHTNESS": brightness, "SKY_BRIGHTNESS_RAW": raw}
            if brightness is not None and raw is not None
            else None,
        )
        temperature = self.compensation_temperature(status)
        focus = self.props.number("FOCUS_TEMPERATURE")
        if temperature is not None:
            focus["TEMPERATURE"].value = temperature
            self.publisher.update(focus.name, State.OK)
        elif focus.state is not State.IDLE:
            self.publisher.update(focus.name, State.IDLE)  # the chosen sensor is gone: its last value is not live
        first = self.last_fresh is None
        self.last_fresh = trio.current_time()
        self.stale = False
        self.weather.set_readings(self.weather_readings(status))
        if first:
            self.weather.publish()  # the first readings are shown at once, then every WEATHER_UPDATE period

    # --- requests --------------------------------------------------------------------------------------------

    async def _on_thresholds(self, update: Update) -> None:
        proposed = CloudThresholds(update["OVERCAST"], update["CLOUDY"], update["PARTLY"], update["CLEAR"])
        if not proposed.ordered():
            raise ValidationError("the cloud thresholds must rise: overcast < cloudy < partly cloudy < clear")
        self.publisher.accept(update)
        self.weather.refresh_now()

    async def _on_calibration(self, update: Update) -> None:
        self.publisher.accept(update)
