"""AstroLink 4: connection, focuser, motor settings and temperature compensation, under a real indiserver with
pyindi-client, against the emulator on a pty."""

from __future__ import annotations

import pytest

READS = {"#", "q", "u", "e", "n", "j", "f", "z"}


def test_connecting_reads_everything_and_writes_nothing(astrolink) -> None:
    commands = astrolink.commands()
    assert set(commands) <= READS, [c for c in commands if c not in READS]
    assert {"u", "e", "n", "j", "f", "z"} <= set(commands)
    settings = astrolink.values("FOCUSER_SETTINGS")
    assert settings["FS_SPEED"] == 220 and settings["FS_ACCELERATION"] == 440
    assert settings["FS_STEP_SIZE"] == pytest.approx(2.57)
    assert settings["FS_CURRENT"] == 400
    assert astrolink.values("FOCUS_MAX")["FOCUS_MAX_VALUE"] == 25000
    limits = astrolink.prop("ABS_FOCUS_POSITION").limits["FOCUS_ABSOLUTE_POSITION"]
    assert limits[:2] == (0, 25000)
    assert astrolink.values("COMP_SETTINGS") == {"FS_COMPENSATION": 12.0, "FS_COMP_THRESHOLD": 20}
    assert astrolink.values("OTHER_SETTINGS")["SET_OVER_VOLT"] == pytest.approx(14.0)
    assert astrolink.values("MANUAL_CONTROLLER")["FS_MANUAL_ON"] is True
    assert astrolink.values("DEVICE_INFO")["MODEL"] == "AstroLink 4 USB"


def test_absolute_move_goes_busy_with_progress_then_ok(astrolink) -> None:
    client, device = astrolink.client, astrolink.device
    mark = client.mark(device, "ABS_FOCUS_POSITION")
    astrolink.set_number("ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": 800})
    final = astrolink.wait_value("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", lambda v: v == 800, 20)
    final = astrolink.wait_state("ABS_FOCUS_POSITION", "Ok")
    updates = client.updates_since(device, "ABS_FOCUS_POSITION", mark)
    busy = [u.values["FOCUS_ABSOLUTE_POSITION"] for u in updates if u.state == "Busy"]
    assert len(set(busy)) >= 3, "progress while moving"
    assert busy == sorted(busy)
    assert final.values["FOCUS_ABSOLUTE_POSITION"] == 800
    assert astrolink.emulator.get("position") == 800
    assert "R:0:800" in astrolink.commands()
    step = astrolink.values("FOCUSER_SETTINGS")["FS_STEP_SIZE"]
    astrolink.wait_value("FOC_POS_MM", "FOC_POS_MM", lambda v: v == pytest.approx(800 * step / 1000, abs=1e-3))


def test_move_beyond_max_is_refused_and_nothing_moves(astrolink) -> None:
    mark = len(astrolink.commands())
    start = len(astrolink.client.messages)
    astrolink.request("Number", "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": 30000})
    astrolink.wait_state("ABS_FOCUS_POSITION", "Alert")
    assert any("outside the allowed range 0 … 25000" in m for m in astrolink.messages_since(start))
    assert not any(c.startswith("R:") for c in astrolink.commands_since(mark))
    assert astrolink.emulator.get("target") == 0


def test_relative_moves_follow_focus_motion_and_stop_at_zero(astrolink) -> None:
    astrolink.set_switch("FOCUS_MOTION", ["FOCUS_OUTWARD"])
    astrolink.wait_state("FOCUS_MOTION", "Ok")
    astrolink.set_number("REL_FOCUS_POSITION", {"FOCUS_RELATIVE_POSITION": 300})
    astrolink.wait_value("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", lambda v: v == 300, 20)
    astrolink.wait_state("REL_FOCUS_POSITION", "Ok")
    astrolink.set_switch("FOCUS_MOTION", ["FOCUS_INWARD"])
    astrolink.set_number("REL_FOCUS_POSITION", {"FOCUS_RELATIVE_POSITION": 100})
    astrolink.wait_value("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", lambda v: v == 200, 20)
    # inward past zero: refused, the focuser stays where it is
    start = len(astrolink.client.messages)
    astrolink.wait_state("ABS_FOCUS_POSITION", "Ok")
    astrolink.set_number("REL_FOCUS_POSITION", {"FOCUS_RELATIVE_POSITION": 500})
    astrolink.wait_state("REL_FOCUS_POSITION", "Alert")
    assert any("would leave the range 0 … 25000" in m for m in astrolink.messages_since(start))
    assert astrolink.emulator.get("target") == 200


def test_abort_stops_the_motor_and_leaves_idle(astrolink) -> None:
    astrolink.set_number("FOCUSER_SETTINGS", {"FS_SPEED": 100})
    astrolink.wait_value("FOCUSER_SETTINGS", "FS_SPEED", lambda v: v == 100)
    astrolink.set_number("ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": 5000})
    astrolink.wait_value("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", lambda v: v > 50, 10)
    astrolink.set_switch("FOCUS_ABORT_MOTION", ["ABORT"])
    astrolink.wait_state("ABS_FOCUS_POSITION", "Idle")
    assert astrolink.wait_state("FOCUS_ABORT_MOTION", "Ok").values["ABORT"] is False
    assert "H" in astrolink.commands()
    stopped = astrolink.emulator.get("position")
    assert 50 < stopped < 5000
    assert astrolink.emulator.get("target") == stopped


def test_sync_sets_the_position_without_moving(astrolink) -> None:
    astrolink.set_number("FOCUS_SYNC", {"FOCUS_SYNC_VALUE": 12345})
    astrolink.wait_value("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", lambda v: v == 12345)
    assert "P:0:12345" in astrolink.commands()
    assert astrolink.emulator.get("target") == 12345


def test_focus_max_is_written_and_limits_follow(astrolink) -> None:
    # Each step waits for the driver's own answer to that request, with the rig's generous settle timeout: on a loaded
    # machine a starved emulator costs the driver reply timeouts and retries, and 5 or 10 s were not always enough.
    written = astrolink.set_and_settle("FOCUS_MAX", {"FOCUS_MAX_VALUE": 30000})
    assert written.state == "Ok" and written.values["FOCUS_MAX_VALUE"] == 30000
    assert astrolink.emulator.get("u")[0] == "30000"
    astrolink.client.wait_for(
        lambda: astrolink.prop("ABS_FOCUS_POSITION").limits["FOCUS_ABSOLUTE_POSITION"][1] == 30000, 30, "new limit"
    )
    # a maximum below the current position is refused
    mark = len(astrolink.commands())
    assert astrolink.set_and_settle("FOCUS_SYNC", {"FOCUS_SYNC_VALUE": 20000}).state == "Ok"
    try:
        astrolink.wait_value("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", lambda v: v == 20000, timeout=30)
    except TimeoutError:  # rare under load (issue 12): say what the device was told and where it is
        shown = astrolink.prop("ABS_FOCUS_POSITION")
        raise AssertionError(
            f"ABS_FOCUS_POSITION shows {shown.values} ({shown.state}); the device was sent "
            f"{[c for c in astrolink.commands_since(mark) if not c.startswith('q')]} and is at {astrolink.emulator.get('position')}, going to {astrolink.emulator.get('target')}"
        ) from None
    assert astrolink.set_and_settle("FOCUS_MAX", {"FOCUS_MAX_VALUE": 10000}).state == "Alert"
    assert astrolink.emulator.get("u")[0] == "30000"


def test_reverse_is_written_and_read_back(astrolink) -> None:
    snapshot = astrolink.set_and_settle("FOCUS_REVERSE_MOTION", ["INDI_ENABLED"], kind="Switch")
    assert snapshot.state == "Ok" and snapshot.values["INDI_ENABLED"] is True
    expected = "25000:220:0:100:440:1:0:1:257:0:0:0:0:0:1:0:0".split(":")  # field 6 set, every other field kept
    assert astrolink.emulator.get("u") == expected


@pytest.mark.parametrize("backlash, start, target, first", [(50, 1000, 2000, 2050), (-50, 2000, 1000, 950)])
def test_backlash_is_signed_and_approaches_from_one_side(astrolink, backlash, start, target, first) -> None:
    astrolink.sync_to(start)
    astrolink.set_switch("FOCUS_BACKLASH_TOGGLE", ["INDI_ENABLED"])
    astrolink.set_number("FOCUS_BACKLASH_STEPS", {"FOCUS_BACKLASH_VALUE": backlash})
    astrolink.wait_value("FOCUS_BACKLASH_STEPS", "FOCUS_BACKLASH_VALUE", lambda v: v == backlash)
    mark = len(astrolink.commands())
    assert astrolink.move_to(target).values["FOCUS_ABSOLUTE_POSITION"] == target
    moves = [c for c in astrolink.commands_since(mark) if c.startswith("R:")]
    assert moves == [f"R:0:{first}", f"R:0:{target}"]
    # the other direction takes no backlash
    mark = len(astrolink.commands())
    assert astrolink.move_to(start).values["FOCUS_ABSOLUTE_POSITION"] == start
    assert [c for c in astrolink.commands_since(mark) if c.startswith("R:")] == [f"R:0:{start}"]


def test_backlash_overshoot_never_passes_the_maximum(astrolink) -> None:
    astrolink.set_switch("FOCUS_BACKLASH_TOGGLE", ["INDI_ENABLED"])
    astrolink.set_number("FOCUS_BACKLASH_STEPS", {"FOCUS_BACKLASH_VALUE": 500})
    astrolink.wait_value("FOCUS_BACKLASH_STEPS", "FOCUS_BACKLASH_VALUE", lambda v: v == 500)
    astrolink.sync_to(24000)
    mark = len(astrolink.commands())
    assert astrolink.move_to(24900).values["FOCUS_ABSOLUTE_POSITION"] == 24900
    assert [c for c in astrolink.commands_since(mark) if c.startswith("R:")] == ["R:0:25000", "R:0:24900"]


def test_focus_temperature_is_the_compensation_sensor(astrolink) -> None:
    astrolink.set_and_settle("COMP_SENSOR", ["SENSOR_1"], kind="Switch")
    assert astrolink.emulator.get("e")[2] == "0"
    sensor1 = astrolink.wait_state("SENSOR_1", "Ok").values["TEMP_1"]
    astrolink.wait_value("FOCUS_TEMPERATURE", "TEMPERATURE", lambda v: v == pytest.approx(sensor1, abs=0.1))
    astrolink.set_switch("COMP_SENSOR", ["SENSOR_2"])
    astrolink.wait_value("COMP_SENSOR", "SENSOR_2", lambda v: v is True)
    assert astrolink.emulator.get("e")[2] == "1"
    sensor2 = astrolink.wait_state("SENSOR_2", "Ok").values["TEMP_2"]
    astrolink.wait_value("FOCUS_TEMPERATURE", "TEMPERATURE", lambda v: v == pytest.approx(sensor2, abs=0.1))


def test_motor_settings_change_only_what_the_user_changed(astrolink) -> None:
    astrolink.set_number("FOCUSER_SETTINGS", {"FS_SPEED": 300, "FS_STEP_SIZE": 3.5, "FS_CURRENT": 800})
    astrolink.wait_value("FOCUSER_SETTINGS", "FS_CURRENT", lambda v: v == 800)
    u = astrolink.emulator.get("u")
    assert (u[1], u[4], u[8]) == ("300", "440", "350")  # acceleration kept (the C++ driver forced 2 x speed)
    assert astrolink.emulator.get("z") == ["800", "2"]
    assert astrolink.emulator.get("e") == ["30", "1200", "1", "0", "20"]  # compensation block untouched


def test_hold_torque_and_stepper_type_carry_the_manual_warnings(astrolink) -> None:
    start = len(astrolink.client.messages)
    astrolink.set_switch("MOTOR_HOLD", ["FS_HOLD_OFF"])
    astrolink.wait_value("MOTOR_HOLD", "FS_HOLD_OFF", lambda v: v is True)
    assert astrolink.emulator.get("z")[1] == "3"
    astrolink.set_switch("MOTOR_HOLD", ["FS_HOLD_ON"])
    astrolink.wait_value("MOTOR_HOLD", "FS_HOLD_ON", lambda v: v is True)
    assert astrolink.emulator.get("z")[1] == "2"
    astrolink.set_switch("FOCUSER_MODE", ["FS_MODE_MICRO_H"])
    astrolink.wait_value("FOCUSER_MODE", "FS_MODE_MICRO_H", lambda v: v is True)
    assert astrolink.emulator.get("u")[6] == "3"
    messages = " ".join(astrolink.messages_since(start))
    assert "motor stays powered when stopped" in messages
    assert "Do not connect or disconnect the stepper motor while the power is on" in messages


def test_motor_preset_for_the_astrojolo_geared_motor(astrolink) -> None:
    astrolink.set_switch("MOTOR_PRESET", ["PRESET_ASTROJOLO_GEARED"])
    snapshot = astrolink.wait_state("MOTOR_PRESET", "Ok")
    assert not any(snapshot.values.values())
    assert astrolink.emulator.get("z") == ["400", "3"]
    u = astrolink.emulator.get("u")
    assert (u[1], u[4], u[6]) == ("120", "240", "0")


def test_compensation_settings_keep_cycle_and_sensor(astrolink) -> None:
    astrolink.set_number("COMP_SETTINGS", {"FS_COMPENSATION": -2.5, "FS_COMP_THRESHOLD": 15})
    astrolink.wait_value("COMP_SETTINGS", "FS_COMP_THRESHOLD", lambda v: v == 15)
    assert astrolink.emulator.get("e") == ["30", "-250", "1", "0", "15"]


def test_auto_compensation_needs_it_enabled_then_follows_the_temperature(astrolink) -> None:
    # The emulator's coefficient is 12 steps/C: enabled at connect because a coefficient is set.
    assert astrolink.values("COMP_ENABLE")["INDI_ENABLED"] is True
    astrolink.set_switch("COMP_ENABLE", ["INDI_DISABLED"])
    astrolink.wait_value("COMP_ENABLE", "INDI_DISABLED", lambda v: v is True)
    astrolink.set_switch("COMP_MODE", ["FS_COMP_AUTO"])
    astrolink.wait_state("COMP_MODE", "Alert")
    assert astrolink.emulator.get("e")[3] == "0"
    astrolink.set_switch("COMP_ENABLE", ["INDI_ENABLED"])
    astrolink.set_switch("COMP_MODE", ["FS_COMP_AUTO"])
    astrolink.wait_value("COMP_MODE", "FS_COMP_AUTO", lambda v: v is True)
    assert astrolink.emulator.get("e")[3] == "1"
    # 3 C warmer: 36 steps pending is over the 20-step threshold, so the device moves outward by itself
    astrolink.sync_to(10000)
    astrolink.emulator.control("set environment.start_temperature 15.0")
    astrolink.wait_value("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", lambda v: v != 10000, 10)
    astrolink.wait_state("ABS_FOCUS_POSITION", "Ok")
    assert astrolink.values("ABS_FOCUS_POSITION")["FOCUS_ABSOLUTE_POSITION"] == pytest.approx(10036, abs=3)


def test_pending_compensation_and_compensate_if_over(astrolink) -> None:
    astrolink.sync_to(10000)
    astrolink.emulator.control("set environment.start_temperature 14.0")  # 2 C warmer: 24 steps pending
    pending = astrolink.wait_value("COMP_STEPS", "COMP_VALUE", lambda v: v is not None and abs(v) >= 20)
    steps = pending.values["COMP_VALUE"]
    start = len(astrolink.client.messages)
    astrolink.set_number("COMP_IF_OVER", {"THRESHOLD": 30})
    astrolink.wait_state("COMP_IF_OVER", "Ok")
    assert "S:30" in astrolink.commands()
    assert any("No compensation needed" in m for m in astrolink.messages_since(start))
    assert astrolink.emulator.get("target") == 10000
    astrolink.set_number("COMP_IF_OVER", {"THRESHOLD": 10})
    astrolink.wait_value("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", lambda v: v == pytest.approx(10000 + steps, abs=2), 10)
    assert "S:10" in astrolink.commands()


def test_compensation_calculator_keeps_points_and_applies_the_fit(astrolink) -> None:
    env = astrolink.emulator
    for temperature, position in ((4.0, 14860), (8.0, 15000), (12.0, 15140)):
        assert astrolink.set_and_settle("COMP_CALC_POINT", {"INDEX": 0, "TEMPERATURE": temperature, "POSITION": position}).state == "Ok"
    # "add current": the compensation sensor's temperature and the focuser position
    astrolink.set_and_settle("COMP_SENSOR", ["SENSOR_1"], kind="Switch")
    env.control("set environment.start_temperature 16.0")
    astrolink.sync_to(15280)
    astrolink.wait_value("FOCUS_TEMPERATURE", "TEMPERATURE", lambda v: v == pytest.approx(16.0, abs=0.2))
    assert astrolink.set_and_settle("COMP_CALC_ADD", ["ADD_CURRENT"], kind="Switch").state == "Ok"
    result = astrolink.wait_value("COMP_CALC_RESULT", "POINTS", lambda v: v == 4)
    assert result.values["COEFFICIENT"] == pytest.approx(35.0, abs=0.6)
    assert result.values["TEMPERATURE_RANGE"] == pytest.approx(12.0, abs=0.3)
    assert result.values["R2"] > 0.99
    points_file = astrolink.server.home / ".indi" / "AstroLink 4 USB_compensation.json"
    assert points_file.exists()
    # edit, delete, then apply to the device
    assert astrolink.set_and_settle("COMP_CALC_POINT", {"INDEX": 1, "TEMPERATURE": 4.0, "POSITION": 14900}).state == "Ok"
    astrolink.set_number("COMP_CALC_DELETE", {"INDEX": 1})
    astrolink.wait_value("COMP_CALC_RESULT", "POINTS", lambda v: v == 3)
    # the emulator follows the manual's rule (a positive coefficient moves inward as it cools), so the device's
    # coefficient is the points' slope; the driver may also have learnt that by now
    astrolink.set_and_settle("COMP_SIGN", ["COLDER_INWARD"], kind="Switch")
    assert astrolink.set_and_settle("COMP_CALC_ADD", ["APPLY"], kind="Switch").state == "Ok"
    coefficient = astrolink.values("COMP_CALC_RESULT")["COEFFICIENT"]
    assert env.get("e")[1] == str(round(coefficient * 100))
    assert astrolink.wait_value("COMP_SETTINGS", "FS_COMPENSATION", lambda v: v == pytest.approx(coefficient, abs=0.01))
    # a narrow range warns, as the manual does
    astrolink.set_and_settle("COMP_CALC_ADD", ["CLEAR"], kind="Switch")
    astrolink.wait_value("COMP_CALC_RESULT", "POINTS", lambda v: v == 0)
    start = len(astrolink.client.messages)
    for temperature, position in ((10.0, 15000), (11.5, 15050)):
        assert astrolink.set_and_settle("COMP_CALC_POINT", {"INDEX": 0, "TEMPERATURE": temperature, "POSITION": position}).state == "Ok"
    astrolink.wait_state("COMP_CALC_RESULT", "Busy")
    assert any("5 to 10" in m for m in astrolink.messages_since(start))
