"""The NexStar following other devices on the same indiserver (ACTIVE_DEVICES): Debian's GPS and dome simulators
(libindi's own drivers, the devices libindi's Telescope follows by default) and the AstroLink 4 USB in simulation as
the weather device for refraction."""

from __future__ import annotations

import pytest

MOUNT, ASTROLINK, GPS, DOME = "NexStar AUX", "AstroLink 4 USB", "GPS Simulator", "Dome Simulator"
SLOW = 60.0  # seconds: generous, four drivers share a loaded machine


@pytest.fixture
def observatory(server_factory, client_factory):
    server = server_factory("indi_nexstar_aux", "indi_astrolink4_usb", "indi_simulator_gps", "indi_simulator_dome")
    client = client_factory(server)
    for device in (MOUNT, ASTROLINK):
        client.wait_property(device, "SIMULATION", timeout=SLOW)
        client.set_switch(device, "SIMULATION", ["ENABLE"])
        client.wait_state(device, "SIMULATION", "Ok", timeout=SLOW)
    client.wait_property(MOUNT, "ACTIVE_DEVICES", timeout=SLOW)
    return server, client


def test_the_site_and_time_follow_the_gps_simulator(observatory) -> None:
    server, client = observatory
    client.wait_property(GPS, "CONNECTION", timeout=SLOW)
    client.connect_device(MOUNT, timeout=SLOW)
    geo = client.wait_property(MOUNT, "GEOGRAPHIC_COORD", timeout=SLOW)
    assert client.wait_property(MOUNT, "TIME_UTC").state == "Idle"  # no client (nor GPS) has set the time yet
    client.connect_device(GPS, timeout=SLOW)
    gps = client.wait_state(GPS, "GEOGRAPHIC_COORD", "Ok", timeout=SLOW).values
    assert abs(gps["LAT"] - geo.values["LAT"]) > 1e-3 or abs(gps["LONG"] - geo.values["LONG"]) > 1e-3  # a change to see

    def followed():
        mine = client.get(MOUNT, "GEOGRAPHIC_COORD")
        return mine is not None and all(abs(mine.values[m] - gps[m]) < 1e-6 for m in ("LAT", "LONG", "ELEV"))

    client.wait_for(followed, SLOW, "the mount's site to follow the GPS")
    gps_time = client.wait_state(GPS, "TIME_UTC", "Ok", timeout=SLOW).values

    def time_followed():
        mine = client.get(MOUNT, "TIME_UTC")
        return mine is not None and mine.state == "Ok" and mine.values["UTC"][:10] == gps_time["UTC"][:10]

    client.wait_for(time_followed, SLOW, "the mount's time to follow the GPS")
    assert client.get(MOUNT, "TIME_UTC").values["OFFSET"] == gps_time["OFFSET"]


def test_a_parked_dome_refuses_goto_and_unpark_with_dome_locks_only(observatory) -> None:
    server, client = observatory
    client.connect_device(MOUNT, timeout=SLOW)
    client.connect_device(DOME, timeout=SLOW)
    client.wait_property(DOME, "DOME_PARK", timeout=SLOW)
    if not client.get(DOME, "DOME_PARK").values.get("PARK"):
        # Park where the dome is: otherwise the simulator first turns to its park azimuth at its own (simulated)
        # speed, which on a loaded machine ate the whole of SLOW in a run.
        client.wait_property(DOME, "DOME_PARK_OPTION", timeout=SLOW)
        client.set_switch(DOME, "DOME_PARK_OPTION", ["PARK_CURRENT"])
        client.wait_state(DOME, "DOME_PARK_OPTION", "Ok", timeout=SLOW)
        client.set_switch(DOME, "DOME_PARK", ["PARK"])
    client.wait_for(lambda: (s := client.get(DOME, "DOME_PARK")) and s.state == "Ok" and s.values["PARK"],
                    2 * SLOW, "the dome to park")  # fmt: skip

    client.set_switch(MOUNT, "DOME_POLICY", ["DOME_LOCKS"])
    client.wait_state(MOUNT, "DOME_POLICY", "Ok", timeout=SLOW)
    def refused(name: str, request) -> None:
        """The request is refused (its vector goes to Alert, saying why), seen among every update since it."""
        mark, start = client.mark(MOUNT, name), len(client.messages)
        request()
        client.wait_for(lambda: any(s.state == "Alert" for s in client.updates_since(MOUNT, name, mark)), SLOW, name)
        client.wait_message(MOUNT, "the dome Dome Simulator is parked", timeout=SLOW, start=start)
        assert not any(s.state == "Busy" for s in client.updates_since(MOUNT, name, mark))  # nothing set off

    refused("EQUATORIAL_EOD_COORD", lambda: client.set_number(MOUNT, "EQUATORIAL_EOD_COORD", {"RA": 3.0, "DEC": 60.0}))
    refused("TELESCOPE_PARK", lambda: client.set_switch(MOUNT, "TELESCOPE_PARK", ["UNPARK"]))

    client.set_switch(MOUNT, "DOME_POLICY", ["DOME_IGNORED"])
    client.wait_state(MOUNT, "DOME_POLICY", "Ok", timeout=SLOW)
    mark = client.mark(MOUNT, "HORIZONTAL_COORD")
    client.set_number(MOUNT, "HORIZONTAL_COORD", {"AZ": 180.0, "ALT": 45.0})  # above the horizon at any hour
    client.wait_for(  # the goto goes ahead
        lambda: any(s.state == "Busy" for s in client.updates_since(MOUNT, "HORIZONTAL_COORD", mark)), SLOW, "the goto"
    )
    client.set_switch(MOUNT, "TELESCOPE_ABORT_MOTION", ["ABORT"])


def test_refraction_uses_the_astrolink_readings(observatory) -> None:
    server, client = observatory
    client.connect_device(MOUNT, timeout=SLOW)
    client.wait_property(MOUNT, "REFRACTION_SOURCE", timeout=SLOW)
    client.connect_device(ASTROLINK, timeout=SLOW)
    source = client.wait_for(
        lambda: (s := client.get(MOUNT, "REFRACTION_SOURCE")) and s.values["SOURCE"].startswith("weather device") and s,
        SLOW,
        "refraction to use the AstroLink",
    )
    assert source.values["SOURCE"].startswith("weather device AstroLink 4 USB: temperature, humidity")
    assert "assumed: pressure of the standard atmosphere" in source.values["SOURCE"]  # it has no barometer

    def same_readings():  # the AstroLink's readings drift: compared as both stand, until they agree
        weather, conditions = client.get(ASTROLINK, "WEATHER_PARAMETERS"), client.get(MOUNT, "REFRACTION_CONDITIONS")
        return (
            conditions.state == "Ok"
            and abs(conditions.values["TEMPERATURE"] - weather.values["WEATHER_TEMPERATURE"]) < 0.05
            and abs(conditions.values["HUMIDITY"] - weather.values["WEATHER_HUMIDITY"]) < 0.05
        )

    client.wait_for(same_readings, SLOW, "the mount to show the AstroLink's temperature and humidity")

    client.set_switch(ASTROLINK, "CONNECTION", ["DISCONNECT"])
    client.wait_for(
        lambda: client.get(MOUNT, "REFRACTION_SOURCE").values["SOURCE"].startswith("no weather device"),
        SLOW,
        "refraction to fall back to the standard atmosphere",
    )
