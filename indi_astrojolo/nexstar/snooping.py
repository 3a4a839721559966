"""The devices the mount follows through indiserver (libindi Telescope's ACTIVE_DEVICES and DOME_POLICY).

ACTIVE_DEVICES names, for each role, the device followed (empty: none):
- ACTIVE_GPS ("GPS Simulator", libindi's default): its GEOGRAPHIC_COORD and TIME_UTC, taken while the mount is
  connected and only when the GPS says Ok (a fix), through the same path as a client's request (so a site change
  while the mount moves is refused and said, as for a client).
- ACTIVE_DOME ("Dome Simulator", libindi's default): its DOME_PARK. With DOME_POLICY at DOME_LOCKS, a dome that is
  parked, parking or still unparking refuses the mount's gotos and unpark (libindi's "dome locks"); DOME_IGNORED
  (the default, as in libindi) ignores the dome.
- ACTIVE_WEATHER ("AstroLink 4 USB", this project's weather device, usually on the same indiserver): its
  WEATHER_PARAMETERS feed refraction (temperature, humidity, and pressure where the device has one). A reading counts
  only while it is live: its range vector (WEATHER_TEMPERATURE, ...) is not Idle, or, for a device that does not
  mark readings that way, WEATHER_PARAMETERS itself is not Idle. Without a live reading the standard atmosphere
  stands in (NexStarDriver.set_ambient).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from ..indi.part import Handler, Part
from ..indi.properties import State, Update, ValidationError
from ..indi.snoop import Snooper
from ..indi.xmlstream import NewVector, SnoopedVector, parse_timestamp
from . import astrometry as astro

if TYPE_CHECKING:
    from .driver import NexStarDriver

GPS_PROPERTIES = ("GEOGRAPHIC_COORD", "TIME_UTC")
DOME_PROPERTIES = ("DOME_PARK",)
# Readings for refraction: the member of WEATHER_PARAMETERS, which is also the name of its range vector (whose state
# says whether the reading is live).
WEATHER_TEMPERATURE, WEATHER_PRESSURE, WEATHER_HUMIDITY = "WEATHER_TEMPERATURE", "WEATHER_PRESSURE", "WEATHER_HUMIDITY"
WEATHER_READINGS = (WEATHER_TEMPERATURE, WEATHER_PRESSURE, WEATHER_HUMIDITY)
WEATHER_PROPERTIES = ("WEATHER_PARAMETERS",) + WEATHER_READINGS
# A GPS repeats its time every update; one the mount's clock already agrees with (TIME_UTC's whole seconds and their
# transit) changes nothing and is not applied again (each application recomputes a satellite pass prediction).
GPS_TIME_AGREES_S = 2.5

# The requests a locking dome refuses, each with what makes it one (a sync and a park never move through the dome).
DOME_LOCKED_REQUESTS: dict[str, Callable[[Update, NexStarDriver], bool]] = {
    "EQUATORIAL_EOD_COORD": lambda update, driver: driver.props.switch("ON_COORD_SET").selected() != "SYNC",
    "HORIZONTAL_COORD": lambda update, driver: driver.props.switch("ON_COORD_SET").selected() != "SYNC",
    "TELESCOPE_PARK": lambda update, driver: bool(update.values.get("UNPARK")),
}


class SnoopedDevices(Part):
    def __init__(self, driver: NexStarDriver) -> None:
        self.driver = driver
        self.props = driver.props
        self.snooper = Snooper(driver.outbox.send, driver.name)
        self.dome_locked = False  # the followed dome is parked, parking or unparking (said by its DOME_PARK)
        self.weather_values: dict[str, float] = {}
        self.weather_live: dict[str, bool] = {}  # per reading, from its range vector's state
        self.weather_vector_state: str | None = None  # WEATHER_PARAMETERS's own state
        self.gps_fix: dict[str, SnoopedVector] = {}  # the GPS's last Ok site and time, applied again at connect
        self.handlers: dict[str, Handler] = {
            "ACTIVE_DEVICES": self.on_active_devices,
            "DOME_POLICY": self.on_dome_policy,
        }
        self.follow()

    # --- what is followed ------------------------------------------------------------------------------------

    def active(self, member: str) -> str:
        return self.props.text("ACTIVE_DEVICES")[member].value.strip()

    def follow(self) -> None:
        """Subscribe to the devices ACTIVE_DEVICES names; forget what a device no longer followed said."""
        snooper = self.snooper
        if snooper.follow("gps", self.active("ACTIVE_GPS"), GPS_PROPERTIES, self._on_gps):
            self.gps_fix.clear()
        if snooper.follow("dome", self.active("ACTIVE_DOME"), DOME_PROPERTIES, self._on_dome):
            self._dome_gone()
        if snooper.follow("weather", self.active("ACTIVE_WEATHER"), WEATHER_PROPERTIES, self._on_weather):
            self._weather_gone()

    async def on_active_devices(self, update: Update) -> None:
        if any(value.strip() == self.driver.name for value in update.values.values()):
            raise ValidationError(f"{self.driver.name} cannot follow itself")
        self.driver.accept(update)
        self.follow()

    async def on_dome_policy(self, update: Update) -> None:
        self.driver.accept(update)
        if self.locks():
            dome = self.active("ACTIVE_DOME")
            self.driver.message(f"The dome {dome} is parked: gotos and unpark are refused until it opens")

    # --- GPS -------------------------------------------------------------------------------------------------

    async def on_connected(self) -> None:
        """A GPS that had its fix before the mount connected: its site and time are taken now, not at its next
        update (a GPS may say them only once)."""
        for vector in list(self.gps_fix.values()):
            await self._on_gps(vector)

    async def _on_gps(self, vector: SnoopedVector) -> None:
        driver = self.driver
        if vector.verb == "del":
            if vector.name:
                self.gps_fix.pop(vector.name, None)
            else:
                self.gps_fix.clear()
            return
        if vector.state != "Ok":
            return  # a GPS without a fix says nothing about the site (libindi takes only Ok)
        self.gps_fix[vector.name] = vector
        if not driver.connected:
            return
        if vector.name == "GEOGRAPHIC_COORD":
            readings = {member: vector.number(member) for member in ("LAT", "LONG", "ELEV")}
            site = {member: value for member, value in readings.items() if value is not None}
            if len(site) < len(readings):
                return
            shown = self.props.number("GEOGRAPHIC_COORD").values()
            if all(abs(shown[member] - value) < 1e-7 for member, value in site.items()):
                return  # the GPS repeats itself every few seconds: nothing to do, nothing to refuse
            members = tuple((member, repr(value)) for member, value in site.items())
            request = NewVector("Number", driver.name, "GEOGRAPHIC_COORD", members, None)
        else:
            utc = vector.members.get("UTC", "").strip()
            if not utc:
                return
            offset = vector.members.get("OFFSET", "0").strip() or "0"
            if self._time_agrees(utc, offset):
                return
            request = NewVector("Text", driver.name, "TIME_UTC", (("UTC", utc), ("OFFSET", offset)), None)
        await driver.handle_request(request)

    def _time_agrees(self, utc: str, offset: str) -> bool:
        shown = self.props.text("TIME_UTC")
        if shown.state is not State.OK or shown["OFFSET"].value.strip() != offset:
            return False
        try:
            when = parse_timestamp(utc)
        except ValueError:
            return False  # applied as a client's would be: refused, saying why
        return abs(self.driver.now_unix() - when.timestamp()) <= GPS_TIME_AGREES_S

    # --- dome ------------------------------------------------------------------------------------------------

    def locks(self) -> bool:
        """Motion through the dome is refused: DOME_LOCKS and the followed dome is not open."""
        return self.dome_locked and self.props.switch("DOME_POLICY")["DOME_LOCKS"].on

    async def _on_dome(self, vector: SnoopedVector) -> None:
        if vector.verb == "del":
            self._dome_gone()
            return
        # Parked or parking locks; so does unparking until the dome says it is done (unknown is never open).
        locked = bool(vector.switch("PARK")) or (bool(vector.switch("UNPARK")) and vector.state != "Ok")
        if locked != self.dome_locked:
            self.dome_locked = locked
            words = "parked" if locked else "unparked"
            self.driver.message(
                f"The dome {vector.device} is {words}"
                + ("; with the dome policy Dome locks, gotos and unpark are refused" if locked and self.locks() else "")
            )

    def _dome_gone(self) -> None:
        self.dome_locked = False  # a dome no longer followed (or gone from indiserver) locks nothing, as in libindi

    def guards(self) -> dict[str, Callable[[Handler], Handler]]:
        """What a locking dome refuses (DOME_LOCKED_REQUESTS), in front of the handlers that would do it."""
        return {name: partial(self.guard, locked=locked) for name, locked in DOME_LOCKED_REQUESTS.items()}

    def guard(self, handler: Handler, locked: Callable[[Update, NexStarDriver], bool]) -> Handler:
        async def guarded(update: Update) -> None:
            if self.locks() and locked(update, self.driver):
                dome = self.active("ACTIVE_DOME")
                raise ValidationError(
                    f"the dome {dome} is parked and the dome policy is Dome locks: open (unpark) the dome first, "
                    "or set the dome policy to Dome ignored"
                )
            await handler(update)

        return guarded

    # --- weather ---------------------------------------------------------------------------------------------

    async def _on_weather(self, vector: SnoopedVector) -> None:
        if vector.verb == "del":
            if vector.name in ("", "WEATHER_PARAMETERS"):
                self._weather_gone()
            return
        if vector.name == "WEATHER_PARAMETERS":
            self.weather_vector_state = vector.state or self.weather_vector_state
            for member in WEATHER_READINGS:
                value = vector.number(member)
                if value is not None:
                    self.weather_values[member] = value
                if member in vector.member_states:  # a device that marks each reading
                    self.weather_live[member] = vector.member_states[member] != "Idle"
        elif vector.state is not None:
            self.weather_live[vector.name] = vector.state != "Idle"
        self._feed_ambient(vector.device)

    def _live(self, member: str) -> bool:
        if member not in self.weather_values:
            return False
        if member in self.weather_live:
            return self.weather_live[member]
        return self.weather_vector_state not in (None, "Idle")

    def _feed_ambient(self, device: str) -> None:
        readings = {member: self.weather_values[member] if self._live(member) else None for member in WEATHER_READINGS}
        if all(value is None for value in readings.values()):
            if self.driver.ambient is not None:
                self.driver.set_ambient(None)  # no live reading: the standard atmosphere stands in
            return
        self.driver.set_ambient(
            astro.Ambient(device, readings[WEATHER_TEMPERATURE], readings[WEATHER_PRESSURE], readings[WEATHER_HUMIDITY])
        )

    def _weather_gone(self) -> None:
        self.weather_values.clear()
        self.weather_live.clear()
        self.weather_vector_state = None
        if self.driver.ambient is not None:
            self.driver.set_ambient(None)
