"""NexStar AUX mount under a real indiserver with pyindi-client, against the emulator on a pty and over TCP."""

from __future__ import annotations

import math
import time

import pytest

from harness import wait_until
from nexstar_rig import ALT, AZM, DEVICE, Mount


@pytest.fixture
def mount(mount_factory) -> Mount:
    return mount_factory()


def test_connect_defines_the_telescope_and_reports_position(mount) -> None:
    assert mount.values("DRIVER_INFO")["DRIVER_INTERFACE"] == "5"
    assert mount.values("TELESCOPE_MOUNT_TYPE")["ALTAZ"] is True
    horizontal = mount.client.wait_for(lambda: mount.client.get(DEVICE, "HORIZONTAL_COORD"), 10)
    # the power-on position is home: north, level (refraction lifts the apparent altitude a little)
    assert abs((horizontal.values["AZ"] + 180) % 360 - 180) < 0.01
    assert abs(horizontal.values["ALT"]) < 0.7
    labels = [w for w in mount.values("TELESCOPE_SLEW_RATE")]
    assert len(labels) == 9


def test_goto_tracks_the_target_with_busy_then_ok(mount) -> None:
    final = mount.goto_horizontal(135.0, 40.0)
    assert final.state == "Ok"
    assert mount.values("TELESCOPE_TRACK_STATE")["TRACK_ON"] is True
    target = mount.values("TARGET_EOD_COORD")
    time.sleep(3)
    position = mount.values("EQUATORIAL_EOD_COORD")
    separation = math.hypot((position["RA"] - target["RA"]) * 15 * math.cos(math.radians(target["DEC"])), position["DEC"] - target["DEC"])
    assert separation * 3600 < 30, f"{separation * 3600:.1f} arcsec from the target while tracking"
    # the axes really move with the sky
    az0 = mount.axis(AZM)
    time.sleep(2)
    assert mount.axis(AZM) != az0


def test_slew_without_tracking_ends_idle(mount) -> None:
    final = mount.goto_horizontal(60.0, 25.0, track=False)
    assert final.state == "Idle"
    assert mount.values("TELESCOPE_TRACK_STATE")["TRACK_OFF"] is True
    assert mount.axis(ALT) == pytest.approx(25.0, abs=0.05)


def test_gotos_below_the_altitude_limit_are_refused(mount) -> None:
    start = len(mount.client.messages)
    mount.client.set_number(DEVICE, "HORIZONTAL_COORD", {"AZ": 200.0, "ALT": -10.0})
    assert "below the lowest allowed 0°" in mount.client.wait_message(DEVICE, "below the lowest allowed", start=start)
    time.sleep(1)
    assert abs(mount.axis(ALT)) < 0.01 and abs(mount.axis(AZM)) < 0.01  # nothing moved


def test_manual_motion_stops_at_the_altitude_limit(mount) -> None:
    mount.settle("ALTITUDE_LIMITS", {"MIN_ALT": 5.0, "MAX_ALT": 85.0})
    mount.goto_horizontal(90.0, 8.0, track=False)
    mount.settle("TELESCOPE_SLEW_RATE", ["7x"], kind="Switch")
    mount.client.set_switch(DEVICE, "TELESCOPE_MOTION_NS", {"MOTION_NORTH": False, "MOTION_SOUTH": True})
    mount.client.wait_state(DEVICE, "TELESCOPE_MOTION_NS", "Alert", timeout=60)
    assert mount.axis(ALT) >= 4.8
    time.sleep(1)
    stopped = mount.axis(ALT)
    time.sleep(1)
    assert mount.axis(ALT) == pytest.approx(stopped, abs=0.001)


def test_manual_motion_and_abort(mount) -> None:
    mount.goto_horizontal(90.0, 30.0, track=False)
    mount.settle("TELESCOPE_SLEW_RATE", ["8x"], kind="Switch")
    start = mount.axis(ALT)
    mount.client.set_switch(DEVICE, "TELESCOPE_MOTION_NS", {"MOTION_NORTH": True, "MOTION_SOUTH": False})
    time.sleep(1.5)
    assert mount.axis(ALT) > start + 0.5
    mount.settle("TELESCOPE_MOTION_NS", {"MOTION_NORTH": False, "MOTION_SOUTH": False}, kind="Switch", states=("Idle",))
    time.sleep(0.5)
    held = mount.axis(ALT)
    time.sleep(1)
    assert mount.axis(ALT) == pytest.approx(held, abs=0.001)
    # abort stops a goto in progress and everything else
    mount.client.set_number(DEVICE, "HORIZONTAL_COORD", {"AZ": 270.0, "ALT": 60.0})
    mount.client.wait_state(DEVICE, "EQUATORIAL_EOD_COORD", "Busy")
    time.sleep(1)
    mount.settle("TELESCOPE_ABORT_MOTION", ["ABORT"], kind="Switch")
    mount.client.wait_state(DEVICE, "EQUATORIAL_EOD_COORD", "Idle")
    time.sleep(1.0)  # the motors ramp down from full speed
    here = mount.axis(AZM)
    time.sleep(1.5)
    assert mount.axis(AZM) == pytest.approx(here, abs=0.01)


def test_sync_builds_the_pointing_model(mount) -> None:
    mount.goto_horizontal(100.0, 45.0, track=False)
    position = mount.values("EQUATORIAL_EOD_COORD")
    mount.settle("ON_COORD_SET", ["SYNC"], kind="Switch")
    mount.settle("EQUATORIAL_EOD_COORD", {"RA": (position["RA"] + 0.01) % 24, "DEC": position["DEC"] + 0.1})
    model = mount.client.wait_for(lambda: (p := mount.client.get(DEVICE, "POINTING_MODEL")) and p.values["POINTS"] == 1 and p, 10)
    assert abs(model.values["OFFSET_1"]) + abs(model.values["OFFSET_2"]) > 0.05
    mount.client.wait_for(
        lambda: abs(mount.client.get(DEVICE, "EQUATORIAL_EOD_COORD").values["DEC"] - (position["DEC"] + 0.1)) < 0.01,
        10,
        "the position to show the synced coordinates",
    )
    assert (mount.server.home / ".indi" / "NexStar AUX_pointing.json").exists()
    mount.settle("POINTING_CLEAR", ["CLEAR"], kind="Switch")
    assert mount.values("POINTING_MODEL")["POINTS"] == 0


def test_park_and_restore_after_a_power_cycle(mount_factory, tmp_path) -> None:
    workdir = tmp_path / "night"
    workdir.mkdir()
    mount = mount_factory(workdir=workdir)
    mount.settle("TELESCOPE_PARK_POSITION", {"PARK_AZ": 180.0, "PARK_ALT": 10.0})
    snapshot = mount.settle("TELESCOPE_PARK", ["PARK"], kind="Switch", states=("Ok", "Alert"), timeout=180)
    assert snapshot.state == "Ok" and snapshot.values["PARK"] is True
    assert mount.axis(AZM) == pytest.approx(180.0, abs=0.01)
    assert mount.axis(ALT) == pytest.approx(10.0, abs=0.01)
    # a parked mount refuses gotos
    start = len(mount.client.messages)
    mount.client.set_number(DEVICE, "HORIZONTAL_COORD", {"AZ": 100.0, "ALT": 30.0})
    assert "parked" in mount.client.wait_message(DEVICE, "unpark it first", start=start)
    assert mount.axis(AZM) == pytest.approx(180.0, abs=0.01)
    # the night ends: driver stopped, mount powered down (its encoders restart at 0), and back the next evening
    mount.server.stop()
    mount.emulator.stop()
    again = mount_factory(workdir=workdir)
    assert again.values("TELESCOPE_PARK")["PARK"] is True
    assert again.axis(AZM) == pytest.approx(180.0, abs=0.01)  # the encoders were set back, nothing moved
    again.client.wait_for(
        lambda: (h := again.client.get(DEVICE, "HORIZONTAL_COORD")) and abs(h.values["AZ"] - 180.0) < 0.05, 10, "the position"
    )
    assert again.settle("TELESCOPE_PARK", ["UNPARK"], kind="Switch").values["UNPARK"] is True


def test_home_finds_index_and_level(mount) -> None:
    mount.goto_horizontal(40.0, 20.0, track=False)
    snapshot = mount.settle("TELESCOPE_HOME", ["FIND"], kind="Switch", states=("Ok", "Alert"), timeout=120)
    assert snapshot.state == "Ok"
    assert abs((mount.axis(AZM) + 180) % 360 - 180) < 0.01
    assert abs(mount.axis(ALT)) < 0.01


def test_guide_pulses_go_busy_then_idle_and_move_the_axes(mount) -> None:
    mount.goto_horizontal(150.0, 40.0)
    time.sleep(3)
    mark = mount.client.mark(DEVICE, "TELESCOPE_TIMED_GUIDE_NS")
    mount.client.set_number(DEVICE, "TELESCOPE_TIMED_GUIDE_NS", {"TIMED_GUIDE_N": 1000, "TIMED_GUIDE_S": 0})
    mount.client.wait_for(
        lambda: any(s.state == "Idle" for s in mount.client.updates_since(DEVICE, "TELESCOPE_TIMED_GUIDE_NS", mark)), 10
    )
    states = [s.state for s in mount.client.updates_since(DEVICE, "TELESCOPE_TIMED_GUIDE_NS", mark)]
    assert "Busy" in states
    assert mount.values("TELESCOPE_TIMED_GUIDE_NS") == {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 0}
    assert "AUX_GUIDE" in mount.emulator.control("call received_summary")


def test_equatorial_wedge_tracks_with_the_motor_sidereal_rate(mount_factory) -> None:
    mount = mount_factory()
    mount.client.set_switch(DEVICE, "CONNECTION", ["DISCONNECT"])
    mount.client.wait_state(DEVICE, "CONNECTION", "Idle")
    mount.settle("MOUNT_GEOMETRY", ["EQ_WEDGE"], kind="Switch")
    mount.client.connect_device(DEVICE)
    assert mount.values("TELESCOPE_MOUNT_TYPE")["EQ_FORK"] is True
    position = mount.values("EQUATORIAL_EOD_COORD")
    mount.settle("TELESCOPE_TRACK_STATE", ["TRACK_ON"], kind="Switch", states=("Busy",))
    wait_until(lambda: "SET_POS_GUIDERATE 10 ffff" in mount.emulator.control("call received_summary"), 5)


def test_over_wifi_tcp_with_split_packets(mount_factory) -> None:
    mount = mount_factory(tcp=True)
    mount.emulator.control("set faults.split_replies True")
    assert mount.goto_horizontal(250.0, 35.0, track=False).state == "Idle"
    assert mount.axis(AZM) == pytest.approx(250.0, abs=0.05)


def test_through_the_hand_controller(mount_factory) -> None:
    mount = mount_factory("--passthrough")
    assert mount.values("MOUNT_INFO")["AZM_VERSION"] == "7.10.4109"
    baud = mount.values("DEVICE_BAUD_RATE")  # the speed in use, not the AUX port's 19200
    assert baud["9600"] is True and baud["19200"] is False
    assert mount.goto_horizontal(30.0, 20.0, track=False).state == "Idle"
    assert mount.axis(ALT) == pytest.approx(20.0, abs=0.05)
