"""AstroLink 4: 12 V outputs, dew heaters, power monitoring and protection, sensors and weather, alerts, session
data and device-wide settings, under a real indiserver with pyindi-client, against the emulator on a pty."""

from __future__ import annotations

import csv
import time

import pytest


def test_outputs_switch_and_follow_the_device(astrolink) -> None:
    snapshot = astrolink.set_and_settle("POWER_CHANNELS", {"POWER_CHANNEL_2": True}, kind="Switch", states=("Ok",))
    astrolink.wait_value("POWER_CHANNELS", "POWER_CHANNEL_2", lambda v: v is True)
    assert "C:1:1" in astrolink.commands()
    assert astrolink.emulator.get("outputs") == [True, True, False]  # output 1 is on at power-up (u[15])
    # a change made elsewhere (hand controller, panel, protection) shows up too
    astrolink.emulator.control("set outputs [False, False, True]")
    astrolink.wait_value("POWER_CHANNELS", "POWER_CHANNEL_3", lambda v: v is True)
    assert astrolink.values("POWER_CHANNELS") == {"POWER_CHANNEL_1": False, "POWER_CHANNEL_2": False, "POWER_CHANNEL_3": True}


def test_locked_outputs_refuse_changes(astrolink) -> None:
    astrolink.set_and_settle("POWER_LOCK", ["INDI_ENABLED"], kind="Switch")
    mark = len(astrolink.commands())
    snapshot = astrolink.set_and_settle("POWER_CHANNELS", {"POWER_CHANNEL_3": True}, kind="Switch")
    assert snapshot.state == "Alert"
    assert not any(c.startswith("C:") for c in astrolink.commands_since(mark))
    assert "locked" in astrolink.client.wait_message(astrolink.device, "locked")
    astrolink.set_and_settle("POWER_LOCK", ["INDI_DISABLED"], kind="Switch")
    astrolink.set_and_settle("POWER_CHANNELS", {"POWER_CHANNEL_3": True}, kind="Switch")
    assert astrolink.emulator.get("outputs")[2] is True


def test_labels_rename_the_outputs(astrolink) -> None:
    astrolink.set_text("POWER_LABELS", {"POWER_CHANNEL_1": "Mount", "POWER_CHANNEL_2": "Camera & cooler"})
    astrolink.client.wait_for(
        lambda: (astrolink.device, "POWER_CHANNELS") in astrolink.client.removed, 5, "POWER_CHANNELS redefined"
    )
    astrolink.client.wait_for(
        lambda: (p := astrolink.client.get(astrolink.device, "POWER_CHANNELS")) is not None, 5, "POWER_CHANNELS back"
    )
    device = astrolink.client.client.getDevice(astrolink.device)
    switches = device.getSwitch("POWER_CHANNELS")
    labels = [switches[i].getLabel() for i in range(3)]
    assert labels == ["Mount", "Camera & cooler", "Port 3"]


def test_power_on_defaults_are_written_to_the_device(astrolink) -> None:
    astrolink.set_and_settle("POW_DEF_ON", {"POW_DEF_ON1": False, "POW_DEF_ON2": True, "POW_DEF_ON3": True}, kind="Switch")
    assert astrolink.emulator.get("u")[14:17] == ["0", "1", "1"]


def test_dew_channels_manual_duty_and_off(astrolink) -> None:
    astrolink.set_number("DEW_DUTY_CYCLES", {"DEW_CHANNEL_1": 40})
    astrolink.set_and_settle("DEW_CHANNELS", {"DEW_CHANNEL_1": True}, kind="Switch")
    astrolink.wait_value("DEW_DUTY_CYCLES", "DEW_CHANNEL_1", lambda v: v == 40)
    assert "B:0:40" in astrolink.commands()
    astrolink.set_number("DEW_DUTY_CYCLES", {"DEW_CHANNEL_1": 70})
    astrolink.wait_value("DEW_DUTY_CYCLES", "DEW_CHANNEL_1", lambda v: v == 70)
    assert astrolink.emulator.get("pwm_setting")[0] == 70
    astrolink.set_and_settle("DEW_CHANNELS", {"DEW_CHANNEL_1": False}, kind="Switch")
    astrolink.wait_value("DEW_DUTY_CYCLES", "DEW_CHANNEL_1", lambda v: v == 0)
    assert astrolink.commands()[-5:].count("B:0:0") >= 1 or "B:0:0" in astrolink.commands()


def test_auto_dew_control_uses_the_device_automatic_mode(astrolink) -> None:
    astrolink.set_and_settle("AUTO_DEW_CONTROL", {"DEW_CHANNEL_2": True}, kind="Switch")
    assert "B:1:255" in astrolink.commands()
    assert astrolink.values("DEW_MODE_2")["DEW_DEVICE"] is True
    assert astrolink.values("DEW_CHANNELS")["DEW_CHANNEL_2"] is True
    # the device computes the duty itself (62 % humidity: 44 % in the emulator's ramp) and the driver shows it
    astrolink.wait_value("DEW_DUTY_CYCLES", "DEW_CHANNEL_2", lambda v: v == 44)
    # a manual duty is refused while the channel is automatic
    snapshot = astrolink.set_and_settle("DEW_DUTY_CYCLES", {"DEW_CHANNEL_2": 10})
    assert snapshot.state == "Alert"


def test_heat_mode_follows_humidity(astrolink) -> None:
    astrolink.set_and_settle("DEW_HEAT_SETTINGS", {"MAX_POWER": 80, "START_HUMIDITY": 50})
    astrolink.set_and_settle("DEW_MODE_1", ["DEW_HEAT"], kind="Switch")
    astrolink.set_and_settle("DEW_CHANNELS", {"DEW_CHANNEL_1": True}, kind="Switch")
    # 62 % humidity: (62 - 50) / 50 x 80 % = 19 %
    astrolink.wait_value("DEW_DUTY_CYCLES", "DEW_CHANNEL_1", lambda v: v == 19)
    astrolink.emulator.control("set environment.start_humidity 95.0")
    astrolink.wait_value("DEW_DUTY_CYCLES", "DEW_CHANNEL_1", lambda v: v == 72)


def test_hold_mode_heats_when_colder_than_the_preset(astrolink) -> None:
    astrolink.set_and_settle("DEW_HOLD_SETTINGS", {"TARGET": 15.0, "GAIN": 20})
    astrolink.set_and_settle("DEW_MODE_2", ["DEW_HOLD"], kind="Switch")
    astrolink.set_and_settle("DEW_CHANNELS", {"DEW_CHANNEL_2": True}, kind="Switch")
    # sensor 2 reads about 11.4 C: 3.6 C below the preset, 20 %/C → about 72 % and rising with the integral
    duty = astrolink.wait_value("DEW_DUTY_CYCLES", "DEW_CHANNEL_2", lambda v: v is not None and v >= 70)
    assert duty.values["DEW_CHANNEL_2"] <= 100
    astrolink.emulator.control("set environment.start_temperature 20.0")  # warmer than the preset: heating stops
    astrolink.wait_value("DEW_DUTY_CYCLES", "DEW_CHANNEL_2", lambda v: v == 0, 15)


def test_pwm_frequency_prescaler(astrolink) -> None:
    astrolink.set_and_settle("DEW_PWM_FREQUENCY", {"PRESCALER": 2})
    assert astrolink.emulator.get("u")[9] == "2"


def test_power_sensors_and_energy(astrolink) -> None:
    sensors = astrolink.wait_state("POWER_SENSORS", "Ok").values
    assert sensors["SENSOR_POWER"] == pytest.approx(sensors["SENSOR_VOLTAGE"] * sensors["SENSOR_CURRENT"], rel=1e-3)
    first = astrolink.values("POWER_ENERGY")["ENERGY_WH"]
    astrolink.wait_value("POWER_ENERGY", "ENERGY_WH", lambda v: v is not None and v > first, 15)


def test_protection_trip_is_reported_at_once_with_its_value(astrolink) -> None:
    astrolink.set_and_settle("POWER_CHANNELS", {"POWER_CHANNEL_2": True}, kind="Switch")
    start = len(astrolink.client.messages)
    astrolink.emulator.control("set input_voltage_override 14.6")
    snapshot = astrolink.wait_state("PROTECTION_STATUS", "Alert", 5)
    assert snapshot.values == {"OVER_VOLTAGE": "Alert", "OVER_CURRENT": "Ok"}
    text = astrolink.client.wait_message(astrolink.device, "protection tripped", start=start)
    assert "Over-voltage protection tripped at 14.60 V" in text
    astrolink.wait_value("POWER_CHANNELS", "POWER_CHANNEL_2", lambda v: v is False)
    astrolink.emulator.control("set input_voltage_override None")
    astrolink.set_and_settle("POWER_CHANNELS", {"POWER_CHANNEL_2": True}, kind="Switch")  # clears the flag
    astrolink.wait_state("PROTECTION_STATUS", "Ok", 5)


def test_protection_settings_use_the_device_scaling(astrolink) -> None:
    values = astrolink.values("OTHER_SETTINGS")
    assert (values["SET_OVER_VOLT"], values["SET_OVER_AMP"], values["SET_OVER_TIME"]) == (14.0, 10.0, 100)
    astrolink.set_and_settle("OTHER_SETTINGS", {"SET_OVER_VOLT": 13.5, "SET_OVER_AMP": 8.5, "SET_OVER_TIME": 50})
    assert astrolink.emulator.get("n") == ["1077", "135", "85", "50"]
    snapshot = astrolink.set_and_settle("OTHER_SETTINGS", {"SET_OVER_VOLT": 16})
    assert snapshot.state == "Alert"  # above the 14 V the device is rated for
    assert astrolink.emulator.get("n")[1] == "135"


def test_alerts_warn_then_alert_with_a_message(astrolink) -> None:
    current = astrolink.wait_state("POWER_SENSORS", "Ok").values["SENSOR_CURRENT"]
    start = len(astrolink.client.messages)
    astrolink.set_number("POWER_ALERTS", {"CURRENT_WARN": round(current * 1.05, 2)})
    astrolink.wait_value("ALERTS", "TOTAL_CURRENT", lambda v: v == "Busy")
    astrolink.set_number("POWER_ALERTS", {"CURRENT_WARN": round(current * 0.5, 2)})
    snapshot = astrolink.wait_value("ALERTS", "TOTAL_CURRENT", lambda v: v == "Alert")
    assert snapshot.state == "Alert"
    assert any("Total current" in m for m in astrolink.messages_since(start))
    astrolink.set_number("ENVIRONMENT_ALERTS", {"SKY_DIFF_WARN": 30})  # the emulator's sky is 19.8 C colder: clouds
    astrolink.wait_value("ALERTS", "CLOUDS", lambda v: v == "Alert")


def test_temperature_change_alert(astrolink) -> None:
    astrolink.set_number("ENVIRONMENT_ALERTS", {"TEMP_CHANGE_WARN": 2.0})
    astrolink.wait_value("ALERTS", "TEMPERATURE_CHANGE", lambda v: v == "Ok")
    astrolink.emulator.control("set environment.start_temperature 9.0")  # 3 C colder than at the start
    astrolink.wait_value("ALERTS", "TEMPERATURE_CHANGE", lambda v: v == "Alert")


def test_sensors_weather_and_clouds(astrolink) -> None:
    s1 = astrolink.wait_state("SENSOR_1", "Ok").values
    assert s1["DEW_1"] < s1["TEMP_1"]
    s2 = astrolink.wait_state("SENSOR_2", "Ok").values
    assert s2["TEMP_2"] == pytest.approx(s1["TEMP_1"] - 0.6, abs=0.1)
    sky = astrolink.wait_state("SKY_SENSOR", "Ok").values
    assert sky["SKY_DIFF"] == pytest.approx(19.8, abs=0.2)
    assert sky["CLOUD_COVER"] == pytest.approx(100 / 3 * (25 - 19.8) / 7 + 0, abs=2) or sky["CLOUD_COVER"] < 33.4
    assert astrolink.values("SKY_CONDITION")["CONDITION"] == "Mostly clear"
    weather = astrolink.wait_state("WEATHER_PARAMETERS", "Ok").values
    assert weather["WEATHER_TEMPERATURE"] == pytest.approx(s1["TEMP_1"], abs=0.1)
    assert weather["WEATHER_SKY_BRIGHTNESS"] == pytest.approx(20.6, abs=0.1)
    assert astrolink.wait_state("WEATHER_STATUS", ("Ok", "Busy")).state in ("Ok", "Busy")
    # clouds come: the sky warms up towards the air temperature
    astrolink.emulator.control("set environment.cloudiness 0.8")
    astrolink.wait_value("SKY_CONDITION", "CONDITION", lambda v: v == "Overcast")
    astrolink.set_switch("WEATHER_REFRESH", ["REFRESH"])
    status = astrolink.wait_state("WEATHER_STATUS", "Alert")
    assert status.values["WEATHER_CLOUD_COVER"] == "Alert"
    assert astrolink.values("SKY_CONDITION")["CONDITION"] == "Overcast"
    # override reports safe, as libindi does
    astrolink.set_switch("WEATHER_OVERRIDE", {"OVERRIDE": True})
    astrolink.wait_state("WEATHER_STATUS", "Ok")


def test_sky_brightness_calibration(astrolink) -> None:
    raw = astrolink.wait_state("SKY_QUALITY", "Ok").values["SKY_BRIGHTNESS_RAW"]
    astrolink.set_and_settle("SKY_QUALITY_CALIBRATION", {"OFFSET": 0.3, "COEFFICIENT": 1.0})
    astrolink.wait_value("SKY_QUALITY", "SKY_BRIGHTNESS", lambda v: v == pytest.approx(raw - 0.3, abs=0.05))


def test_cloud_thresholds_must_rise(astrolink) -> None:
    snapshot = astrolink.set_and_settle("CLOUD_THRESHOLDS", {"OVERCAST": 20, "CLOUDY": 12, "PARTLY": 18, "CLEAR": 25})
    assert snapshot.state == "Alert"
    assert astrolink.values("CLOUD_THRESHOLDS")["OVERCAST"] == 8


def test_absent_sensors_read_as_absent_never_as_junk(astrolink_factory) -> None:
    rig = astrolink_factory("--no-sky", "--no-sensor2")
    assert rig.wait_state("SENSOR_1", "Ok")
    time.sleep(2.5)
    sky = rig.client.get(rig.device, "SKY_SENSOR")
    assert sky.state == "Idle"
    assert 1037.5 not in sky.values.values()
    assert rig.client.get(rig.device, "SENSOR_2").state == "Idle"
    weather = rig.values("WEATHER_PARAMETERS")
    assert weather["WEATHER_SKY_TEMPERATURE"] != pytest.approx(1037.5)
    assert rig.values("WEATHER_STATUS")["WEATHER_CLOUD_COVER"] == "Idle"
    # Clouds unknown: unsafe, in WEATHER_STATUS and SAFETY_STATUS alike, and the parameters are not all live.
    assert rig.wait_state("WEATHER_STATUS", "Alert").state == "Alert"
    assert rig.wait_state("SAFETY_STATUS", "Alert").values == {"SAFETY": "Alert"}
    assert rig.client.get(rig.device, "WEATHER_PARAMETERS").state == "Idle"


def test_mini_layout_hides_what_the_mini_does_not_have(astrolink_factory) -> None:
    rig = astrolink_factory("--mini")
    assert rig.values("DEVICE_INFO")["MODEL"] == "AstroLink 4 mini"
    assert rig.client.get(rig.device, "MOTOR_HOLD") is None
    assert rig.client.get(rig.device, "SKY_SENSOR") is None
    assert "z" not in rig.commands()
    sensor2 = rig.wait_state("SENSOR_2", "Ok").values
    assert sensor2["TEMP_2"] == pytest.approx(rig.values("SENSOR_1")["TEMP_1"] - 0.6, abs=0.2)
    assert set(sensor2) == {"TEMP_2"}  # the mini's sensor 2 is a temperature probe: no humidity, no dew point
    # Settings the mini lacks are not offered: no motor current, no 1/32 microstepping.
    assert "FS_CURRENT" not in rig.values("FOCUSER_SETTINGS")
    assert "FS_MODE_MICRO_H" not in rig.values("FOCUSER_MODE")
    assert "PRESET_MICRO_32" not in rig.values("MOTOR_PRESET")
    # No sky readings at all (never 0.00 in Ok): the weather is its sensor 1, judged on humidity.
    weather = rig.wait_state("WEATHER_PARAMETERS", "Ok").values
    assert set(weather) == {"WEATHER_TEMPERATURE", "WEATHER_HUMIDITY", "WEATHER_DEWPOINT"}
    assert set(rig.wait_state("WEATHER_STATUS", "Ok").values) == {"WEATHER_HUMIDITY"}
    assert rig.wait_state("SAFETY_STATUS", "Ok").values == {"SAFETY": "Ok"}
    assert rig.client.get(rig.device, "WEATHER_CLOUD_COVER") is None
    # Found at 115200 baud although the default (38400) was selected, and shown.
    assert rig.values("DEVICE_BAUD_RATE")["115200"] is True


def test_session_data_goes_to_a_dated_csv(astrolink_factory, tmp_path) -> None:
    rig = astrolink_factory()
    rig.wait_value("DATA_LOG_DIR", "FILE", bool)  # the default file is open: no update of it in between
    outside = tmp_path / "outside-the-home"
    refused = rig.set_and_settle("DATA_LOG_DIR", {"DIRECTORY": str(outside)}, kind="Text")
    assert refused.state == "Alert" and refused.values["DIRECTORY"] == ""
    assert not outside.exists()
    directory = rig.server.home / "sessions"  # the driver's HOME
    rig.set_and_settle("DATA_LOG_DIR", {"DIRECTORY": str(directory)}, kind="Text")
    snapshot = rig.wait_value("DATA_LOG_DIR", "FILE", lambda v: bool(v) and str(directory) in v)
    path = snapshot.values["FILE"]
    time.sleep(2.5)
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 4  # sampled twice a second while the log is on
    assert rows[-1]["voltage"] and float(rows[-1]["voltage"]) > 11
    assert rows[-1]["position"] == "0"
    rig.set_and_settle("DATA_LOG", ["INDI_DISABLED"], kind="Switch")
    count = len(open(path).readlines())
    time.sleep(2.0)
    assert len(open(path).readlines()) == count


def test_buzzer_manual_controller_and_factory_defaults(astrolink) -> None:
    astrolink.set_and_settle("BUZZER", {"BUZZER": True}, kind="Switch")
    assert astrolink.emulator.get("buzzer") == 1 and "J:1:" in astrolink.commands()
    astrolink.set_and_settle("MANUAL_CONTROLLER", ["FS_MANUAL_OFF"], kind="Switch")
    assert astrolink.emulator.get("hand_controller") == 0 and "F:0" in astrolink.commands()
    astrolink.set_and_settle("OTHER_SETTINGS", {"SET_OVER_VOLT": 12.5})
    u_before = astrolink.emulator.get("u")
    snapshot = astrolink.set_and_settle("FACTORY_DEFAULTS", ["RESET"], kind="Switch", states=("Busy", "Alert"))
    assert snapshot.state == "Busy"  # the first press asks for confirmation
    assert astrolink.emulator.get("n") == ["1077", "125", "100", "100"]
    snapshot = astrolink.set_and_settle("FACTORY_DEFAULTS", ["RESET"], kind="Switch", states=("Ok", "Alert"))
    assert snapshot.state == "Ok"
    assert astrolink.emulator.get("n") == ["1077", "140", "100", "100"]  # the unit's ADC calibration is kept
    assert astrolink.emulator.get("u") == u_before  # maximum, motor, outputs on at power-up: all kept
    assert astrolink.emulator.get("z") == ["400", "2"]
    assert astrolink.values("OTHER_SETTINGS")["SET_OVER_VOLT"] == 14.0


def test_config_keeps_labels_and_driver_settings(astrolink_factory) -> None:
    rig = astrolink_factory()
    rig.set_and_settle("DEW_LABELS", {"DEW_CHANNEL_1": "OTA dew cap", "DEW_CHANNEL_2": "Guider"}, kind="Text")
    rig.set_and_settle("CLOUD_THRESHOLDS", {"OVERCAST": 6, "CLOUDY": 11, "PARTLY": 17, "CLEAR": 24})
    rig.set_and_settle("FOCUS_BACKLASH_STEPS", {"FOCUS_BACKLASH_VALUE": -30})
    rig.set_and_settle("CONFIG_PROCESS", ["CONFIG_SAVE"], kind="Switch")
    text = (rig.server.home / ".indi" / "AstroLink 4 USB_config.xml").read_text()
    assert "OTA dew cap" in text and "FOCUS_BACKLASH_STEPS" in text
    assert "FOCUSER_SETTINGS" not in text  # device settings live in the device
    # reconnect: the saved values come back without a client asking
    rig.set_and_settle("CONNECTION", ["DISCONNECT"], kind="Switch", states=("Idle",))
    rig.client.connect_device(rig.device)
    rig.wait_value("DEW_LABELS", "DEW_CHANNEL_1", lambda v: v == "OTA dew cap")
    rig.wait_value("CLOUD_THRESHOLDS", "CLEAR", lambda v: v == 24)
    rig.wait_value("FOCUS_BACKLASH_STEPS", "FOCUS_BACKLASH_VALUE", lambda v: v == -30)
    assert rig.wait_state("CONFIG_PROCESS", "Ok")


def test_reconnect_and_config_load_leave_running_heaters_alone(astrolink_factory) -> None:
    """Under a real indiserver: a heater at 40 %, the config saved; reconnecting and loading the config send no
    writes at all (the emulator's command log), and the heater keeps its duty."""
    rig = astrolink_factory()
    rig.set_number("DEW_DUTY_CYCLES", {"DEW_CHANNEL_1": 40})
    rig.set_and_settle("DEW_CHANNELS", {"DEW_CHANNEL_1": True}, kind="Switch")
    rig.set_and_settle("CONFIG_PROCESS", ["CONFIG_SAVE"], kind="Switch")
    rig.set_and_settle("CONNECTION", ["DISCONNECT"], kind="Switch", states=("Idle",))
    mark = len(rig.commands())
    start = len(rig.client.messages)
    rig.client.connect_device(rig.device)
    rig.wait_state("CONFIG_PROCESS", "Ok")
    rig.set_and_settle("CONFIG_PROCESS", ["CONFIG_LOAD"], kind="Switch")
    assert "nothing changed" in rig.client.wait_message(rig.device, "Configuration loaded", start=start)
    sent = rig.commands_since(mark)
    reads = ("#", "q", "u", "e", "n", "j", "f", "z")
    assert "u" in sent and [command for command in sent if command.split(":")[0] not in reads] == []
    assert rig.emulator.get("pwm_setting") == [40, 0]
