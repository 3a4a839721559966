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


@pytest.fixture(scope="module")
def iss() -> Orbit:
    return Orbit(parse_tle(ISS_TLE, EPOCH))


def test_a_pass_under_way_is_followed_and_halted(mount_factory, iss) -> None:
    site, found = pass_scenario(iss, EPOCH + 3600, 30.0)
    mount = mount_factory(site=(site.latitude, site.longitude))
    client = mount.client
    mount.settle("CORDWRAP", ["INDI_DISABLED"], kind="Switch")
    pass_time = float(round(found.rise.unix + 120.0))  # TIME_UTC carries whole seconds
    wall_at_set = time.time()
    mount.settle("TIME_UTC", {"UTC": iso(pass_time), "OFFSET": "0"}, kind="Text")
    offset = pass_time - wall_at_set  # driver time = wall time + offset, to the latency of one request

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
    client.wait_for(lambda: any(s.state == "Busy" for s in client.updates_since(DEVICE, "SAT_TRACKING_STAT", mark)), 10, "tracking to start")

    def following() -> bool:
        status = mount.values("SAT_STATUS")
        return mount.prop("SAT_STATUS").state == "Busy" and status["FOLLOW_ERROR"] < 5.0

    started = time.monotonic()
    client.wait_for(following, 90, "the mount to catch the satellite")
    print(f"caught the satellite after {time.monotonic() - started:.1f} s")
    errors = []
    for _ in range(10):
        azm, alt, read_at = mount.true_axes()
        look = iss.topocentric(site, read_at + offset, Weather())  # optical pointing: refracted
        errors.append(float(separation(azm, alt, look.azimuth, look.elevation)) * 60.0)
        time.sleep(1.0)
    rms = math.sqrt(sum(e * e for e in errors) / len(errors))
    assert rms < 5.0, f"RMS {rms:.2f}′ ({', '.join(f'{e:.1f}' for e in errors)}; request latency is worth about 1′)"
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
