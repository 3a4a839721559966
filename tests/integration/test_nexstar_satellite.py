"""Satellite tracking under a real indiserver with pyindi-client, against the emulated mount on a pty: the TLE, the
pass prediction, following a pass already under way, and halting it. Whole passes run on trio's fake clock in
tests/unit/test_satellite_tracking.py; here the clock is the wall clock, moved to the pass by TIME_UTC."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone

import pytest

from indi_astrojolo.nexstar.astrometry import Weather
from indi_astrojolo.nexstar.orbit import Orbit, parse_tle
from indi_astrojolo.nexstar.passplan import separation
from nexstar_rig import ALT, AZM, DEVICE
from passes import pass_scenario
from satellite_sim import EPOCH, ISS_TLE, iso


def rms_of(values: list[float]) -> float:
    return math.sqrt(sum(v * v for v in values) / len(values))


@pytest.fixture(scope="module")
def iss() -> Orbit:
    return Orbit(parse_tle(ISS_TLE, EPOCH))


def test_a_pass_under_way_is_followed_and_halted(mount_factory, iss) -> None:
    site, found = pass_scenario(iss, EPOCH + 3600, 30.0)
    mount = mount_factory(site=(site.latitude, site.longitude))
    client = mount.client
    mount.settle("CORDWRAP", ["INDI_DISABLED"], kind="Switch")
    pass_time = float(round(found.rise.unix + 120.0))  # TIME_UTC carries whole seconds
    sent_at = time.time()
    mount.settle("TIME_UTC", {"UTC": iso(pass_time), "OFFSET": "0"}, kind="Text")
    answered_at = time.time()
    # The driver puts its clock at the middle of the client's whole second when the request reaches it, somewhere
    # between sending and the answer: driver time = wall time + an offset within this window (as wide as the
    # request's latency, which a loaded machine stretches).
    offsets = (pass_time + 0.5 - answered_at, pass_time + 0.5 - sent_at)
    offset = sum(offsets) / 2

    bad = ISS_TLE.replace("15.50103472202482", "15.50103472202483")
    assert mount.settle("SAT_TLE_TEXT", {"TLE": bad}, kind="Text").state == "Alert"
    assert mount.settle("SAT_TLE_TEXT", {"TLE": ISS_TLE}, kind="Text").state == "Ok"
    prediction = mount.fresh("SAT_PASS_TIMES").values
    assert prediction["SATELLITE"] == "ISS (ZARYA)"
    set_at = datetime.strptime(prediction["SET"], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    assert abs(set_at - found.set.unix) < 10.0  # refraction keeps the satellite up a few seconds longer

    # Start near where the satellite will be, as an observer would: the driver allows 2 °/s for the slew to it.
    ahead = iss.topocentric(site, time.time() + offset + 40.0, Weather())
    mount.goto_horizontal(float(ahead.azimuth), float(ahead.elevation), track=False)
    mark = client.mark(DEVICE, "SAT_TRACKING_STAT")
    client.set_switch(DEVICE, "SAT_TRACKING_STAT", ["SAT_TRACK"])
    # Planning the pass takes seconds on a loaded machine.
    started_tracking = lambda: any(s.state == "Busy" for s in client.updates_since(DEVICE, "SAT_TRACKING_STAT", mark))  # noqa: E731
    client.wait_for(started_tracking, 60, "tracking to start")

    def following() -> bool:
        status = mount.values("SAT_STATUS")
        return mount.prop("SAT_STATUS").state == "Busy" and status["FOLLOW_ERROR"] < 5.0

    started = time.monotonic()
    client.wait_for(following, 90, "the mount to catch the satellite")
    print(f"caught the satellite after {time.monotonic() - started:.1f} s")
    readings = []
    for _ in range(10):
        readings.append(mount.true_axes())
        time.sleep(1.0)

    def errors_at(offset: float) -> list[float]:
        """The pointing errors (arcmin) if the driver's clock is wall time + offset (optical pointing: refracted)."""
        looks = [(azm, alt, iss.topocentric(site, read_at + offset, Weather())) for azm, alt, read_at in readings]
        return [float(separation(azm, alt, look.azimuth, look.elevation)) * 60.0 for azm, alt, look in looks]

    # The clock offset is known only to the window above: judge at the offset within it that fits best.
    candidates = [offsets[0] + (offsets[1] - offsets[0]) * k / 20 for k in range(21)]
    rms, offset, errors = min((rms_of(errors), o, errors) for o in candidates for errors in [errors_at(o)])
    window_ms = (offsets[1] - offsets[0]) * 1000
    print(f"following RMS {rms:.2f}′ at clock offset {offset - offsets[0]:.3f} s into a {window_ms:.0f} ms window")
    assert rms < 5.0, f"RMS {rms:.2f}′ ({', '.join(f'{e:.1f}' for e in errors)}; clock window {window_ms:.0f} ms)"
    assert mount.values("TELESCOPE_TRACK_STATE")["TRACK_ON"]
    assert mount.prop("EQUATORIAL_EOD_COORD").state == "Ok"

    halted = mount.settle("SAT_TRACKING_STAT", ["SAT_HALT"], kind="Switch", states=("Idle",))
    assert halted.values["SAT_HALT"]
    time.sleep(1.5)  # the axes decelerate
    first = (mount.axis(AZM), mount.axis(ALT))
    time.sleep(2.0)
    assert (mount.axis(AZM), mount.axis(ALT)) == pytest.approx(first, abs=0.001)


def test_no_pass_in_the_window_is_refused_clearly(mount_factory, iss) -> None:
    site, found = pass_scenario(iss, EPOCH + 3600, 30.0)
    mount = mount_factory(site=(site.latitude, site.longitude))
    mount.settle("TIME_UTC", {"UTC": iso(found.set.unix + 60), "OFFSET": "0"}, kind="Text")
    assert mount.settle("SAT_TLE_TEXT", {"TLE": ISS_TLE}, kind="Text").state == "Ok"
    window = {"SAT_PASS_WINDOW_START": iso(found.set.unix + 120), "SAT_PASS_WINDOW_END": iso(found.set.unix + 600)}
    assert mount.settle("SAT_PASS_WINDOW", window, kind="Text").state == "Ok"
    refused = mount.settle("SAT_TRACKING_STAT", ["SAT_TRACK"], kind="Switch", states=("Alert",))
    assert refused.values["SAT_HALT"]
    mount.client.wait_message(DEVICE, "no pass of ISS (ZARYA)")


def test_the_pass_list_its_choice_frequencies_and_offsets_through_indiserver(mount_factory, iss) -> None:
    """The satellite properties added for radio amateurs, set and read by pyindi-client through indiserver (their
    behaviour through whole passes is on the fake clock, in the unit tests)."""
    site, found = pass_scenario(iss, EPOCH + 3600, 30.0)
    mount = mount_factory(site=(site.latitude, site.longitude))
    mount.settle("TIME_UTC", {"UTC": iso(EPOCH + 600), "OFFSET": "0"}, kind="Text")
    assert mount.settle("SAT_TLE_TEXT", {"TLE": ISS_TLE}, kind="Text").state == "Ok"

    def lines() -> list[str]:
        return [text for text in mount.values("SAT_PASS_LIST").values() if text]

    mount.client.wait_for(lambda: len(lines()) == 10, 30, "ten passes listed")
    second = lines()[1]
    # Each answer below is followed by the list's and the choice's own updates: wait for what they show.
    mount.client.set_switch(DEVICE, "SAT_PASS_CHOICE", ["PASS_2"])
    rise = datetime.strptime(second[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    mount.client.wait_for(
        lambda: mount.values("SAT_PASS_TIMES")["RISE"] == rise.strftime("%Y-%m-%dT%H:%M:%S"), 30, "the pass chosen"
    )
    mount.client.wait_for(
        lambda: mount.prop("SAT_PASS_CHOICE").state == "Ok" and mount.values("SAT_PASS_CHOICE")["PASS_2"], 30, "PASS_2"
    )
    assert mount.values("SAT_PASS_WINDOW")["SAT_PASS_WINDOW_START"]

    assert mount.settle("SAT_PASS_LIST_SETTINGS", {"COUNT": 3}).state == "Ok"
    mount.client.wait_for(lambda: len(lines()) == 3, 30, "three passes listed")
    mount.client.wait_for(lambda: mount.values("SAT_PASS_CHOICE")["PASS_2"], 30, "the choice kept in its place")

    mount.client.set_switch(DEVICE, "SAT_PASS_CHOICE", {"PASS_2": False})
    mount.client.wait_for(lambda: not mount.values("SAT_PASS_WINDOW")["SAT_PASS_WINDOW_START"], 30, "no window")
    mount.client.wait_for(lambda: not any(mount.values("SAT_PASS_CHOICE").values()), 30, "no pass chosen")
    assert mount.prop("SAT_PASS_CHOICE").state == "Idle"

    frequencies = mount.settle("SAT_FREQUENCY", {"DOWNLINK": 437.8, "UPLINK": 145.99})
    assert frequencies.state == "Ok" and frequencies.values == {"DOWNLINK": 437.8, "UPLINK": 145.99}
    assert mount.settle("SAT_TIME_OFFSET", {"OFFSET": -7.5}).values == {"OFFSET": -7.5}
    assert mount.settle("SAT_CROSS_TRACK_OFFSET", {"OFFSET": 0.25}).values == {"OFFSET": 0.25}
    refused = mount.settle("SAT_TIME_OFFSET", {"OFFSET": 900.0})  # beyond its range: refused, kept
    assert refused.state == "Alert" and mount.values("SAT_TIME_OFFSET") == {"OFFSET": -7.5}
