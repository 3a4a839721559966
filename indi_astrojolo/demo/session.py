"""The scripted session: what an astronomer does first with both devices, through indiserver, printed as it happens.

Read it from top to bottom. Each step sends a few INDI requests, with the standard property names that KStars/Ekos
and CCDciel use, and prints what the drivers answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from ..client import IndiClient
from ..indi.xmlstream import timestamp_now
from ..nexstar import astrometry as astro
from . import sky
from .watch import (
    DemoError,
    next_updates,
    request_numbers,
    request_switch,
    request_texts,
    say,
    send_and_follow,
    value,
    wait_value,
)

ASTROLINK = "AstroLink 4 USB"
NEXSTAR = "NexStar AUX"
CAMERA = "CCD Simulator"  # Debian's indi_simulator_ccd, which `--serve` runs too
# The Ekos profile that works, as the demo advises it and tests/integration/test_ekos.py runs it: each device once
# (Ekos finds the AstroLink's weather part by itself) and a camera, without which Ekos does not start.
EKOS_PROFILE = ((NEXSTAR, "Mount"), (ASTROLINK, "Focuser"), (CAMERA, "CCD"))
FOCUSER_MOVE = 1000  # steps
DEW_DUTY = 40  # percent
DEMO_GOTO_SPEED = 8.0  # degrees per second for the simulated mount; a real one slews at about 2.8


@dataclass(frozen=True)
class Place:
    name: str
    site: astro.Site


def run(client: IndiClient, place: Place) -> None:
    client.on_message = lambda device, text: say(f"      [{device}] {text.removeprefix('[INFO] ')}")
    client.get_properties()
    connect_both(client)
    move_the_focuser(client)
    switch_an_output(client)
    heat_against_dew(client)
    read_the_weather(client)
    set_site_and_time(client, place)
    star = choose_a_star(client, place.site)
    goto_and_track(client, star)
    park(client)
    disconnect_both(client)


def connect_both(client: IndiClient) -> None:
    say("\n1. Connect both devices in simulation: each driver has its device's emulator built in.")
    for device in (ASTROLINK, NEXSTAR):
        client.wait_prop(device, "SIMULATION")
        request_switch(client, device, "SIMULATION", ["ENABLE"], ["DISABLE"])
    request_numbers(client, NEXSTAR, "SIMULATION_GOTO_SPEED", {"FAST": DEMO_GOTO_SPEED})
    say(f"   SIMULATION is on for both. The simulated mount slews at {DEMO_GOTO_SPEED:g}°/s for this demo "
        "(SIMULATION_GOTO_SPEED; a real mount: about 2.8°/s).")  # fmt: skip
    for device in (ASTROLINK, NEXSTAR):
        client.set_switch(device, "CONNECTION", ["CONNECT"], ["DISCONNECT"])
    for device in (ASTROLINK, NEXSTAR):
        if client.wait_state(device, "CONNECTION", "Ok", "Alert", timeout=30).state != "Ok":
            raise DemoError(f"{device} did not connect")
    info = client.wait_prop(ASTROLINK, "DEVICE_INFO").values
    say(f"   {ASTROLINK}: connected, the device answered as {info['MODEL']} ({info['IDENTITY']}).")
    mount = client.wait_state(NEXSTAR, "MOUNT_INFO", "Ok", timeout=15).values  # the accessories, asked after Ok
    say(f"   {NEXSTAR}: connected, the mount answered as {mount['MODEL']} with motor controllers "
        f"{mount['AZM_VERSION']} and {mount['ALT_VERSION']}; also on the bus: {mount['BUS_DEVICES']}.")  # fmt: skip


def move_the_focuser(client: IndiClient) -> None:
    say("\n2. Move the focuser and watch it arrive.")
    start = round(value(client, ASTROLINK, "ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION"))
    highest = value(client, ASTROLINK, "FOCUS_MAX", "FOCUS_MAX_VALUE")
    target = start + FOCUSER_MOVE if start + FOCUSER_MOVE <= highest else start - FOCUSER_MOVE
    speed = value(client, ASTROLINK, "FOCUSER_SETTINGS", "FS_SPEED")
    say(f"   The focuser is at {start} steps. ABS_FOCUS_POSITION := {target} (the motor runs at {speed:.0f} steps/s).")

    def show_progress() -> None:
        position = value(client, ASTROLINK, "ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION")
        say(f"   ... moving (Busy), at {position:.0f} steps")

    final = send_and_follow(
        client, ASTROLINK, "ABS_FOCUS_POSITION",
        lambda: client.set_number(ASTROLINK, "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": target}),
        show_progress, every=0.5,
    )  # fmt: skip
    reached = round(final.values["FOCUS_ABSOLUTE_POSITION"])
    if reached != target:
        raise DemoError(f"the focuser stopped at {reached} steps, not {target}")
    millimetres = value(client, ASTROLINK, "FOC_POS_MM", "FOC_POS_MM")
    say(f"   Arrived: the focuser is at {reached} steps ({millimetres:.3f} mm), state {final.state}.")


def switch_an_output(client: IndiClient) -> None:
    say("\n3. Switch a 12 V output on.")
    labels = client.wait_prop(ASTROLINK, "POWER_LABELS").values
    outputs = client.wait_prop(ASTROLINK, "POWER_CHANNELS").values
    say("   Outputs now: " + ", ".join(f"{labels[n]} {'on' if on else 'off'}" for n, on in outputs.items()) + ".")
    before = next_updates(client, ASTROLINK, "POWER_SENSORS").values["SENSOR_CURRENT"]
    say(f"   POWER_CHANNELS: {labels['POWER_CHANNEL_2']} := On")
    client.set_switch(ASTROLINK, "POWER_CHANNELS", ["POWER_CHANNEL_2"])
    wait_value(client, ASTROLINK, "POWER_CHANNELS", "POWER_CHANNEL_2", lambda on: on is True)
    power = next_updates(client, ASTROLINK, "POWER_SENSORS", 2).values  # two polls: read after the switch for sure
    say(f"   {labels['POWER_CHANNEL_2']} is on. The AstroLink draws {power['SENSOR_CURRENT']:.2f} A now "
        f"({before:.2f} A before) at {power['SENSOR_VOLTAGE']:.2f} V.")  # fmt: skip


def heat_against_dew(client: IndiClient) -> None:
    say("\n4. Dew heaters: one at a duty cycle you choose, one in the device's automatic mode.")
    labels = client.wait_prop(ASTROLINK, "DEW_LABELS").values
    first, second = labels["DEW_CHANNEL_1"], labels["DEW_CHANNEL_2"]
    say(f"   DEW_CHANNELS: {first} := On, then DEW_DUTY_CYCLES: {first} := {DEW_DUTY} %")
    request_switch(client, ASTROLINK, "DEW_CHANNELS", ["DEW_CHANNEL_1"])
    client.set_number(ASTROLINK, "DEW_DUTY_CYCLES", {"DEW_CHANNEL_1": DEW_DUTY})
    duty = wait_value(client, ASTROLINK, "DEW_DUTY_CYCLES", "DEW_CHANNEL_1", lambda percent: percent == DEW_DUTY)
    say(f"   {first} heats at {duty.values['DEW_CHANNEL_1']:.0f} % (the duty the device reports).")
    say(f"   AUTO_DEW_CONTROL: {second} := On (the device sets the duty from the humidity)")
    request_switch(client, ASTROLINK, "AUTO_DEW_CONTROL", ["DEW_CHANNEL_2"])
    next_updates(client, ASTROLINK, "POWER_SENSORS", 2)  # two polls: the device's own duty is read back
    automatic = value(client, ASTROLINK, "DEW_DUTY_CYCLES", "DEW_CHANNEL_2")
    humidity = value(client, ASTROLINK, "SENSOR_1", "HUM_1")
    say(f"   At {humidity:.0f} % humidity the AstroLink chose {automatic:.0f} % for {second}.")
    say("   (The driver also runs two modes of its own, DEW_MODE_n: HEAT by humidity and AUTO to hold a temperature.)")


def read_the_weather(client: IndiClient) -> None:
    say("\n5. Read the weather (WEATHER_PARAMETERS, what Ekos's observatory and scheduler watch).")
    weather = client.wait_state(ASTROLINK, "WEATHER_PARAMETERS", "Ok").values
    status = client.wait_prop(ASTROLINK, "WEATHER_STATUS")
    condition = client.wait_prop(ASTROLINK, "SKY_CONDITION").values["CONDITION"]
    say(f"   Temperature {weather['WEATHER_TEMPERATURE']:.1f} °C, humidity {weather['WEATHER_HUMIDITY']:.0f} %, "
        f"dew point {weather['WEATHER_DEWPOINT']:.1f} °C.")  # fmt: skip
    say(f"   Sky temperature {weather['WEATHER_SKY_TEMPERATURE']:.1f} °C, cloud cover "
        f"{weather['WEATHER_CLOUD_COVER']:.0f} % ({condition}), sky brightness "
        f"{weather['WEATHER_SKY_BRIGHTNESS']:.2f} mag/arcsec².")  # fmt: skip
    say(f"   WEATHER_STATUS is {status.state}.")


def set_site_and_time(client: IndiClient, place: Place) -> None:
    say("\n6. Tell the mount where and when it is, as Ekos does when the mount connects.")
    utc = timestamp_now()
    local_offset = datetime.now().astimezone().utcoffset()
    offset = f"{local_offset.total_seconds() / 3600 if local_offset else 0.0:g}"
    say(f"   TIME_UTC := {utc}, OFFSET {offset} h (this computer's time zone)")
    request_texts(client, NEXSTAR, "TIME_UTC", {"UTC": utc, "OFFSET": offset})
    site = place.site
    longitude = site.longitude % 360  # INDI's longitudes run 0…360 east
    say(f"   GEOGRAPHIC_COORD := {place.name}: latitude {site.latitude:.4f}°, longitude {longitude:.4f}° east, "
        f"{site.elevation:.0f} m")  # fmt: skip
    location = {"LAT": site.latitude, "LONG": longitude, "ELEV": site.elevation}
    request_numbers(client, NEXSTAR, "GEOGRAPHIC_COORD", location)


def choose_a_star(client: IndiClient, site: astro.Site) -> sky.Star:
    say("\n7. Choose a bright star that is well up now (J2000 places converted to the place of date with pyerfa).")
    # as the site was answered: an update comes only when the place moves by more than 0.1″
    pointing = client.wait_prop(NEXSTAR, "HORIZONTAL_COORD").values
    stars = sky.well_up(sky.stars_now(astro.Instant.from_unix(time.time()), site))
    if not stars:
        raise DemoError("none of the bright stars is well up here now")
    say("   Altitude " + ", ".join(f"{s.name} {s.altitude:.0f}°" for s in stars[:8]) + ".")
    star = sky.nearest(stars, pointing["AZ"], pointing["ALT"])
    say(f"   {star.name}: the shortest slew from where the telescope points (azimuth {_azimuth(pointing['AZ'])}°, "
        f"altitude {pointing['ALT']:.1f}°).")  # fmt: skip
    say(f"   J2000 RA {sky.format_ra(star.ra_j2000)} Dec {sky.format_dec(star.dec_j2000)} -> JNow (of date) "
        f"RA {sky.format_ra(star.ra)} Dec {sky.format_dec(star.dec)}; azimuth {star.azimuth:.1f}°, "
        f"altitude {star.altitude:.1f}°.")  # fmt: skip
    return star


def goto_and_track(client: IndiClient, star: sky.Star) -> None:
    say(f"\n8. Goto {star.name} and track it.")
    request_switch(client, NEXSTAR, "ON_COORD_SET", ["TRACK"], ["SLEW", "SYNC"])
    say(f"   ON_COORD_SET := TRACK, then EQUATORIAL_EOD_COORD := RA {sky.format_ra(star.ra)} "
        f"Dec {sky.format_dec(star.dec)}")  # fmt: skip
    started = time.monotonic()
    final = send_and_follow(
        client, NEXSTAR, "EQUATORIAL_EOD_COORD",
        lambda: client.set_number(NEXSTAR, "EQUATORIAL_EOD_COORD", {"RA": star.ra, "DEC": star.dec}),
        lambda: say(f"   ... slewing (Busy): {_where(client)}"),
    )  # fmt: skip
    tracking = client.wait_prop(NEXSTAR, "TELESCOPE_TRACK_STATE").values["TRACK_ON"]
    if final.state != "Ok" or not tracking:
        raise DemoError(f"the goto ended {final.state} with tracking {'on' if tracking else 'off'}")
    say(f"   On target after {time.monotonic() - started:.0f} s: EQUATORIAL_EOD_COORD is Ok, the mount is tracking.")
    say("   Three reports, a second apart: the axes follow the sky while RA/Dec hold on the star (so still that the")
    say(
        "   driver does not send them again: it sends coordinates that move by more than 0.1″, as libindi's mounts do)."
    )
    for _ in range(3):
        horizon = next_updates(client, NEXSTAR, "HORIZONTAL_COORD").values
        position = client.wait_prop(NEXSTAR, "EQUATORIAL_EOD_COORD")
        if position.state != "Ok":
            raise DemoError(f"tracking stopped: EQUATORIAL_EOD_COORD is {position.state}")
        ra, dec = position.values["RA"], position.values["DEC"]
        offset = astro.angular_separation(ra, dec, star.ra, star.dec) * 3600
        say(f"   tracking (Ok): RA {sky.format_ra(ra)} Dec {sky.format_dec(dec)}, {offset:.1f}″ from {star.name}; "
            f"azimuth {horizon['AZ']:.4f}° altitude {horizon['ALT']:.4f}°")  # fmt: skip


def park(client: IndiClient) -> None:
    say("\n9. Park the mount.")
    say("   TELESCOPE_PARK := PARK")
    started = time.monotonic()
    final = send_and_follow(
        client, NEXSTAR, "TELESCOPE_PARK",
        lambda: client.set_switch(NEXSTAR, "TELESCOPE_PARK", ["PARK"], ["UNPARK"]),
        lambda: say(f"   ... parking (Busy): {_where(client)}"),
    )  # fmt: skip
    if final.state != "Ok" or not final.values["PARK"]:
        raise DemoError(f"parking ended {final.state}")
    home = client.wait_prop(NEXSTAR, "TELESCOPE_PARK_POSITION").values
    tracking = client.wait_prop(NEXSTAR, "TELESCOPE_TRACK_STATE").values["TRACK_ON"]
    say(f"   Parked after {time.monotonic() - started:.0f} s: TELESCOPE_PARK is Ok with PARK on, at the park position "
        f"(azimuth axis {home['PARK_AZ']:.1f}°, altitude axis {home['PARK_ALT']:.1f}°); "
        f"tracking is {'on' if tracking else 'off'}.")  # fmt: skip


def disconnect_both(client: IndiClient) -> None:
    say("\n10. Disconnect both devices.")
    for device in (ASTROLINK, NEXSTAR):
        client.set_switch(device, "CONNECTION", ["DISCONNECT"], ["CONNECT"])
        client.wait_state(device, "CONNECTION", "Idle")
    say("   Both are disconnected.")


def _where(client: IndiClient) -> str:
    position = client.wait_prop(NEXSTAR, "EQUATORIAL_EOD_COORD").values
    horizon = client.wait_prop(NEXSTAR, "HORIZONTAL_COORD").values
    return (f"RA {sky.format_ra(position['RA'])} Dec {sky.format_dec(position['DEC'])}, "
            f"azimuth {_azimuth(horizon['AZ'])}° altitude {horizon['ALT']:.1f}°")  # fmt: skip


def _azimuth(degrees: float) -> str:
    return f"{round(degrees, 1) % 360:.1f}"  # 359.96° reads 0.0°, not 360.0°
