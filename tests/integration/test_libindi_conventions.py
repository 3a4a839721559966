"""Where the drivers follow libindi 2.x's conventions, and where they deliberately differ (README, Differences from
libindi), each seen by a real client through indiserver: pyindi-client, the emulators on ptys."""

from __future__ import annotations

import calendar
import time

from nexstar_rig import DEVICE as NEXSTAR

from indi_astrojolo.astrolink4.sensors import WEATHER_PARAMETERS
from indi_astrojolo.nexstar.motion import GOTO_MAX_S

WEATHER_RANGES = tuple(WEATHER_PARAMETERS)  # each parameter's range vector has the parameter's name


def utc_seconds(text: str) -> float:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))


def refused(client, device: str, name: str, send, reason: str) -> str:
    """Send a request the driver must refuse: the property goes Alert and a message gives the reason."""
    mark, start = client.mark(device, name), len(client.messages)
    send()
    client.wait_for(
        lambda: any(s.state == "Alert" for s in client.updates_since(device, name, mark)),
        10,
        f"{name} Alert",
    )
    return client.wait_message(device, reason, timeout=5, start=start)


def test_mount_time_coordinates_groups_park_position_timeouts_and_goto_messages(
    mount_factory,
) -> None:
    before = time.time()
    mount = mount_factory(send_time=False)  # the site as Ekos sends it, but no time from the client yet
    after = time.time()
    client = mount.client

    # TIME_UTC: filled at connect from the clock the driver goes by, as libindi's sendTimeFromSystem does, but Idle:
    # no client has vouched for it (KStars then still sends its own time; it would adopt an Ok one).
    clock = mount.prop("TIME_UTC")
    assert clock.state == "Idle"
    assert before - 1 <= utc_seconds(clock.values["UTC"]) <= after + 1
    assert clock.values["OFFSET"] == f"{time.localtime().tm_gmtoff / 3600:.2f}"
    sent = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    assert mount.settle("TIME_UTC", {"UTC": sent, "OFFSET": "1"}, kind="Text").state == "Ok"

    # ON_COORD_SET starts Idle, as libindi defines it, and is Ok once a client has chosen.
    assert mount.prop("ON_COORD_SET").state == "Idle"
    assert mount.prop("ON_COORD_SET").values["TRACK"] is True
    assert mount.settle("ON_COORD_SET", ["TRACK"], kind="Switch").state == "Ok"

    # Groups as libindi's Telescope puts them.
    assert mount.prop("TELESCOPE_MOUNT_TYPE").group == "Motion Control"
    assert mount.prop("TELESCOPE_HOME").group == "Main Control"

    # TELESCOPE_PARK_POSITION: libindi's Az/Alt park form, sexagesimal, AZ 0…360, ALT -90…90.
    park = mount.prop("TELESCOPE_PARK_POSITION")
    assert park.formats == {"PARK_AZ": "%10.6m", "PARK_ALT": "%10.6m"}
    assert park.limits["PARK_AZ"][:2] == (0.0, 360.0) and park.limits["PARK_ALT"][:2] == (-90.0, 90.0)
    said = refused(
        client, NEXSTAR, "TELESCOPE_PARK_POSITION",
        lambda: client.set_number(NEXSTAR, "TELESCOPE_PARK_POSITION", {"PARK_AZ": -30.0, "PARK_ALT": 10.0}),
        "outside the allowed range",
    )  # fmt: skip
    assert "PARK_AZ" in said
    assert mount.settle("TELESCOPE_PARK_POSITION", {"PARK_AZ": 330.0, "PARK_ALT": 10.0}).values["PARK_AZ"] == 330.0

    # Timeouts: a goto, park or home may take up to the driver's own limit, so the timeout says that much.
    for name in (
        "EQUATORIAL_EOD_COORD",
        "HORIZONTAL_COORD",
        "TELESCOPE_PARK",
        "TELESCOPE_HOME",
    ):
        assert mount.prop(name).timeout == GOTO_MAX_S, name
    assert mount.prop("ON_COORD_SET").timeout == 60

    # POLLING_PERIOD keeps its 100 ms minimum (libindi allows 10 ms): a shorter period is refused, nothing changed.
    assert mount.prop("POLLING_PERIOD").limits["PERIOD_MS"][0] == 100.0
    period = mount.values("POLLING_PERIOD")["PERIOD_MS"]
    said = refused(
        client, NEXSTAR, "POLLING_PERIOD",
        lambda: client.set_number(NEXSTAR, "POLLING_PERIOD", {"PERIOD_MS": 50}),
        "outside the allowed range",
    )  # fmt: skip
    assert "PERIOD_MS" in said
    assert mount.values("POLLING_PERIOD")["PERIOD_MS"] == period

    # A goto's start is announced with its target, as libindi's drivers do ("Slewing to RA … DEC …").
    start = len(client.messages)
    assert mount.goto_sky(3.5, 80.0).state == "Ok"
    assert client.wait_message(NEXSTAR, "Slewing to RA 3:30:00, Dec 80:00:00", start=start)
    start = len(client.messages)
    assert mount.goto_horizontal(120.0, 40.0, track=False).state in ("Idle", "Ok")
    assert client.wait_message(NEXSTAR, "Slewing to Az 120:00:00, Alt 40:00:00", start=start)


def test_weather_ranges_alert_type_backlash_range_and_polling_minimum(
    astrolink,
) -> None:
    client, device = astrolink.client, astrolink.device

    # Every weather range vector has libindi 2.1.3's ALERT_TYPE (0 or 1, 0 by default).
    for name in WEATHER_RANGES:
        vector = astrolink.prop(name)
        assert vector.values["ALERT_TYPE"] == 0 and vector.limits["ALERT_TYPE"] == (
            0.0,
            1.0,
            1.0,
        ), name

    # The emulator's humidity starts near 62 %: inside 50…80 %, so Ok; ALERT_TYPE 1 flips it to Alert (and the
    # weather, humidity being critical), 0 back.
    humidity = astrolink.values("WEATHER_PARAMETERS")["WEATHER_HUMIDITY"]
    assert 55 < humidity < 75
    ranges = {"MIN_OK": 50.0, "MAX_OK": 80.0, "PERC_WARN": 10.0}
    astrolink.set_number("WEATHER_HUMIDITY", {**ranges, "ALERT_TYPE": 0})
    astrolink.wait_value("WEATHER_HUMIDITY", "MIN_OK", lambda v: v == 50.0)
    astrolink.wait_state("WEATHER_HUMIDITY", "Ok")
    astrolink.set_number("WEATHER_HUMIDITY", {**ranges, "ALERT_TYPE": 1})
    astrolink.wait_state("WEATHER_HUMIDITY", "Alert")
    assert astrolink.wait_state("WEATHER_STATUS", "Alert").values["WEATHER_HUMIDITY"] == "Alert"
    refused(
        client,
        device,
        "WEATHER_HUMIDITY",
        lambda: astrolink.set_number("WEATHER_HUMIDITY", {"ALERT_TYPE": 0.5}),
        "ALERT_TYPE is 0",
    )
    assert astrolink.values("WEATHER_HUMIDITY")["ALERT_TYPE"] == 1
    astrolink.set_number("WEATHER_HUMIDITY", {**ranges, "ALERT_TYPE": 0})
    astrolink.wait_state("WEATHER_HUMIDITY", "Ok")

    # FOCUS_BACKLASH_STEPS keeps its sign (the AstroLink manual's: negative takes up play on inward moves), so its
    # range goes below libindi's 0; Ekos sets its backlash field's range from the property's, so it offers it too.
    backlash = astrolink.prop("FOCUS_BACKLASH_STEPS")
    assert backlash.limits["FOCUS_BACKLASH_VALUE"][:2] == (-10000.0, 10000.0)
    astrolink.set_number("FOCUS_BACKLASH_STEPS", {"FOCUS_BACKLASH_VALUE": -120})
    astrolink.wait_value("FOCUS_BACKLASH_STEPS", "FOCUS_BACKLASH_VALUE", lambda v: v == -120)
    assert astrolink.wait_state("FOCUS_BACKLASH_STEPS", "Ok").values["FOCUS_BACKLASH_VALUE"] == -120

    # POLLING_PERIOD: 100 ms at least here too.
    assert astrolink.prop("POLLING_PERIOD").limits["PERIOD_MS"][0] == 100.0
    said = refused(
        client,
        device,
        "POLLING_PERIOD",
        lambda: astrolink.set_number("POLLING_PERIOD", {"PERIOD_MS": 10}),
        "PERIOD_MS",
    )
    assert "outside the allowed range" in said
