"""The emulated AstroLink 4: identification, stepper physics, settings, power, dew point, protection, compensation,
faults, and serving on a byte stream (on trio's fake clock)."""

from __future__ import annotations

import math

import pytest
import trio
import trio.testing

from indi_astrojolo.astrolink4 import protocol as p
from indi_astrojolo.astrolink4.emulator import (
    DEFAULT_U,
    AstroLink4Emulator,
    EmulatorConfig,
    Faults,
    dew_point,
    serve,
)
from indi_astrojolo.astrolink4.protocol import Layout, ProtocolError
from indi_astrojolo.link.framing import Line, LineFramer


def q(emu: AstroLink4Emulator, now: float) -> list[str]:
    reply = emu.handle("q", now)
    assert reply is not None
    return reply.split(":")


def run_until(emu: AstroLink4Emulator, start: float, end: float, dt: float = 0.05) -> list[tuple[float, float]]:
    """Advance in small steps; return (time, position) samples."""
    samples = []
    t = start
    while t < end - 1e-9:
        t = min(end, t + dt)
        emu.advance(t)
        samples.append((t, emu.position))
    return samples


# --- identification and layouts ---------------------------------------------------------------------------------


def test_identity_usb() -> None:
    emu = AstroLink4Emulator()
    assert emu.handle("#", 0.0) == "#:AstroLink4USB"
    assert p.parse_identity(emu.handle("#", 0.0)) == "AstroLink4USB"


def test_usb_status_has_32_elements_and_parses() -> None:
    emu = AstroLink4Emulator()
    line = emu.handle("q", 1.0)
    assert len(line.split(":")) == 32
    assert p.detect_layout(line) is Layout.USB
    status = p.parse_status(line, Layout.USB)
    assert status.complete
    assert status.position == 0 and status.steps_to_go == 0
    assert status.outputs == (True, False, False)  # power-up defaults u[15..17] = 1, 0, 0
    assert status.sensor1 is not None and status.sensor2 is not None and status.sky is not None
    assert status.sky_brightness == pytest.approx(20.6, abs=0.05)
    assert status.protection is None


def test_mini_identity_and_23_element_status() -> None:
    emu = AstroLink4Emulator(EmulatorConfig.mini())
    assert emu.handle("#", 0.0) == "#:AstroLink4mini"
    line = emu.handle("q", 0.5)
    assert len(line.split(":")) == 23
    assert p.detect_layout(line) is Layout.MINI
    status = p.parse_status(line, Layout.MINI)
    assert status.sensor2_temperature == pytest.approx(emu.sensor2_temperature(), abs=0.01)
    assert status.regulated_voltage == pytest.approx(5.0)
    assert status.dc_motor_moving is False


def test_absent_sky_sensor_sends_junk_behind_a_zero_flag() -> None:
    emu = AstroLink4Emulator(EmulatorConfig(sky_sensor=False, sky_brightness_sensor=False, sensor2=False))
    fields = q(emu, 0.0)
    assert fields[23:26] == ["0", "1037.50", "1037.50"]
    assert fields[8] == "0" and fields[26] == "0" and fields[30] == "0"
    status = p.parse_status(":".join(fields), Layout.USB)
    assert status.sky is None and status.sensor2 is None and status.sky_brightness is None


def test_unknown_and_malformed_commands_answer_err() -> None:
    emu = AstroLink4Emulator()
    assert emu.handle("X", 0.0) == "ERR"
    assert emu.handle("qq", 0.0) == "ERR"
    assert emu.handle("R:0:abc", 0.0) == "ERR"
    assert emu.handle("R:1:100", 0.0) == "ERR"  # the USB has only stepper 0
    assert emu.handle("C:3:1", 0.0) == "ERR"
    assert emu.handle("B:0:101", 0.0) == "ERR"
    assert emu.handle("G:1:70:800", 0.0) == "ERR"  # DC focuser: mini only
    assert emu.handle("_cmd_q", 0.0) == "ERR"
    assert emu.handle("", 0.0) is None
    assert emu.handle("q", 0.0).startswith("q:")  # still fine afterwards


# --- stepper physics -------------------------------------------------------------------------------------------------


def trapezoid_time(distance: float, speed: float, acceleration: float) -> float:
    ramp_distance = speed**2 / acceleration  # accelerate and decelerate
    if ramp_distance >= distance:
        return 2.0 * math.sqrt(distance / acceleration)
    return 2.0 * speed / acceleration + (distance - ramp_distance) / speed


def test_move_follows_a_trapezoid_and_arrives_exactly() -> None:
    emu = AstroLink4Emulator()
    assert emu.stepper_speed() == 220 and emu.stepper_acceleration() == 440
    assert emu.handle("R:0:1000", 0.0) == "R:"
    samples = run_until(emu, 0.0, 8.0, dt=0.02)
    positions = [pos for _, pos in samples]
    assert all(b >= a for a, b in zip(positions, positions[1:])), "position must rise monotonically"
    assert max(positions) == 1000, "never overshoots"
    arrival = next(t for t, pos in samples if pos == 1000)
    predicted = trapezoid_time(1000, 220, 440)
    assert predicted == pytest.approx(5.045, abs=0.001)
    assert arrival == pytest.approx(predicted, rel=0.05)
    # the speed never exceeds the configured one
    speeds = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(samples, samples[1:])]
    assert max(speeds) <= 220 * 1.01
    status = p.parse_status(emu.handle("q", 8.0), Layout.USB)
    assert (status.position, status.steps_to_go) == (1000, 0)


def test_status_reports_remaining_steps_while_moving() -> None:
    emu = AstroLink4Emulator()
    emu.handle("R:0:1000", 0.0)
    status = p.parse_status(emu.handle("q", 2.0), Layout.USB)
    assert 0 < status.position < 1000
    assert status.steps_to_go == 1000 - status.position
    assert status.moving


def test_move_inwards() -> None:
    emu = AstroLink4Emulator()
    emu.handle("P:0:500", 0.0)
    emu.handle("R:0:100", 0.0)
    samples = run_until(emu, 0.0, 4.0)
    positions = [pos for _, pos in samples]
    assert all(b <= a for a, b in zip(positions, positions[1:]))
    assert min(positions) == 100
    assert emu.position == 100 and emu.velocity == 0.0


def test_short_move_is_triangular() -> None:
    emu = AstroLink4Emulator()
    emu.handle("R:0:20", 0.0)
    samples = run_until(emu, 0.0, 2.0, dt=0.01)
    arrival = next(t for t, pos in samples if pos == 20)
    assert arrival == pytest.approx(trapezoid_time(20, 220, 440), rel=0.1)


def test_halt_stops_at_once() -> None:
    emu = AstroLink4Emulator()
    emu.handle("R:0:1000", 0.0)
    emu.advance(2.0)
    assert emu.handle("H", 2.0) == "H:"
    stopped = emu.position
    assert 0 < stopped < 1000
    assert stopped == round(stopped)
    emu.advance(5.0)
    assert emu.position == stopped
    status = p.parse_status(emu.handle("q", 5.0), Layout.USB)
    assert status.position == stopped and status.steps_to_go == 0


def test_target_beyond_max_is_clamped() -> None:
    emu = AstroLink4Emulator()
    emu.handle("U:" + DEFAULT_U.replace("25000", "300", 1) + ":", 0.0)
    assert emu.max_position() == 300
    assert emu.handle("R:0:5000", 0.0) == "R:"
    assert emu.target == 300
    emu.advance(5.0)
    assert emu.position == 300


def test_sync_sets_position_without_moving() -> None:
    emu = AstroLink4Emulator()
    assert emu.handle("P:0:2000", 0.0) == "P:"
    emu.advance(3.0)
    assert emu.position == 2000
    status = p.parse_status(emu.handle("q", 3.0), Layout.USB)
    assert (status.position, status.steps_to_go) == (2000, 0)
    assert emu.handle("p", 3.0) == "p:2000"


def test_short_status_while_moving() -> None:
    emu = AstroLink4Emulator(EmulatorConfig(short_status_while_moving=True))
    emu.handle("R:0:1000", 0.0)
    line = emu.handle("q", 1.0)
    assert len(line.split(":")) == 4
    status = p.parse_status(line, Layout.USB)
    assert not status.complete and status.moving
    emu.advance(10.0)
    assert len(emu.handle("q", 10.0).split(":")) == 32


# --- settings --------------------------------------------------------------------------------------------------------


def test_default_settings_blocks() -> None:
    emu = AstroLink4Emulator()
    assert emu.handle("u", 0.0) == "u:25000:220:0:100:440:0:0:1:257:0:0:0:0:0:1:0:0"
    assert emu.handle("e", 0.0) == "e:30:1200:1:0:20"
    assert emu.handle("n", 0.0) == "n:1077:140:100:100"
    assert emu.handle("z", 0.0) == "z:400:2"
    assert emu.handle("j", 0.0) == "j:0"
    assert emu.handle("f", 0.0) == "f:1"


@pytest.mark.parametrize(
    ("write", "read", "expected"),
    [
        ("U:30000:300:0:100:600:1:0:1:350:0:0:0:0:0:1:0:0:", "u", "u:30000:300:0:100:600:1:0:1:350:0:0:0:0:0:1:0:0"),
        ("E:30:-250:0:1:15:", "e", "e:30:-250:0:1:15"),
        ("N:1100:135:85:200:", "n", "n:1100:135:85:200"),
        ("Z:800:3:", "z", "z:800:3"),
        ("Z:800:2:7:9:", "z", "z:800:2:7:9"),  # unknown trailing fields are kept
        ("U:25000:220:0:100:440:0:0:1:257:0:0:0:0:0:1:0:0:42:", "u", "u:25000:220:0:100:440:0:0:1:257:0:0:0:0:0:1:0:0:42"),
    ],
)
def test_settings_written_are_read_back(write: str, read: str, expected: str) -> None:
    emu = AstroLink4Emulator()
    assert emu.handle(write, 0.0) == write[0] + ":"
    assert emu.handle(read, 0.0) == expected
    block = p.parse_settings(emu.handle(read, 0.0), read)
    assert block.write_command() == write


def test_read_modify_write_round_trip_through_the_protocol() -> None:
    emu = AstroLink4Emulator()
    block = p.parse_settings(emu.handle("u", 0.0), "u").with_values({p.U_SPEED: 300, p.U_ACCELERATION: 600})
    assert emu.handle(block.write_command(), 0.0) == "U:"
    assert emu.stepper_speed() == 300 and emu.stepper_acceleration() == 600
    settings = p.FocuserSettings.from_block(p.parse_settings(emu.handle("u", 0.0), "u"))
    assert settings.speed == 300 and settings.acceleration == 600 and settings.step_size_um == pytest.approx(2.57)


@pytest.mark.parametrize("write", ["U:1:2:3:", "E:30:1200:", "N:1:2:3:", "Z:800:", "E:30:x:1:0:20:"])
def test_short_or_non_numeric_setting_writes_are_refused(write: str) -> None:
    emu = AstroLink4Emulator()
    before = emu.handle(write[0].lower(), 0.0)
    assert emu.handle(write, 0.0) == "ERR"
    assert emu.handle(write[0].lower(), 0.0) == before


def test_decimal_setting_values_do_not_break_the_model() -> None:
    # The drivers write integers, but the emulator accepts any number; it must keep working with what it accepted.
    emu = AstroLink4Emulator()
    emu.environment.noise = 0.0
    emu.environment.cooling_per_hour = 0.0
    assert emu.handle("E:30:1200:1:1.0:20.0:", 0.0) == "E:"
    emu.handle("P:0:1000", 0.0)
    emu.environment.start_temperature -= 2.0
    emu.advance(5.0)
    assert emu.position == 976  # auto compensation ran with the decimal flag and threshold
    assert p.parse_status(emu.handle("q", 5.0), Layout.USB).position == 976


def test_z_is_usb_only() -> None:
    emu = AstroLink4Emulator(EmulatorConfig.mini())
    assert emu.handle("z", 0.0) == "ERR"
    assert emu.handle("Z:800:2:", 0.0) == "ERR"


def test_buzzer_and_hand_controller() -> None:
    emu = AstroLink4Emulator()
    assert emu.handle("J:1:", 0.0) == "J:"
    assert emu.handle("j", 0.0) == "j:1"
    assert emu.handle("J:0:", 0.0) == "J:"
    assert emu.handle("j", 0.0) == "j:0"
    assert emu.handle("F:0", 0.0) == "F:"
    assert emu.handle("f", 0.0) == "f:0"
    assert emu.handle("F:1", 0.0) == "F:"
    assert emu.handle("f", 0.0) == "f:1"


def test_speed_setting_changes_the_move_time() -> None:
    emu = AstroLink4Emulator()
    emu.handle("U:25000:440:0:100:880:0:0:1:257:0:0:0:0:0:1:0:0:", 0.0)
    emu.handle("R:0:1000", 0.0)
    samples = run_until(emu, 0.0, 5.0, dt=0.02)
    arrival = next(t for t, pos in samples if pos == 1000)
    assert arrival == pytest.approx(trapezoid_time(1000, 440, 880), rel=0.05)


# --- outputs, PWM, energy ------------------------------------------------------------------------------------------


def test_outputs_are_reflected_in_status() -> None:
    emu = AstroLink4Emulator()
    assert q(emu, 0.0)[12:15] == ["1", "0", "0"]
    assert emu.handle("C:1:1", 0.0) == "C:"
    assert emu.handle("C:0:0", 0.0) == "C:"
    assert emu.handle("C:2:1", 0.0) == "C:"
    assert q(emu, 0.0)[12:15] == ["0", "1", "1"]
    assert p.parse_status(emu.handle("q", 0.0), Layout.USB).outputs == (False, True, True)


def test_manual_pwm_is_reported() -> None:
    emu = AstroLink4Emulator()
    assert emu.handle("B:0:40", 0.0) == "B:"
    assert emu.handle("B:1:75", 0.0) == "B:"
    assert q(emu, 0.0)[10:12] == ["40", "75"]


@pytest.mark.parametrize(("humidity", "duty"), [(30.0, 0), (40.0, 0), (65.0, 50), (80.0, 80), (90.0, 100), (98.0, 100)])
def test_automatic_pwm_follows_humidity(humidity: float, duty: int) -> None:
    emu = AstroLink4Emulator()
    emu.environment.start_humidity = humidity
    emu.environment.humidity_per_hour = 0.0
    assert emu.handle("B:1:255", 0.0) == "B:"
    emu.handle("B:0:10", 0.0)
    fields = q(emu, 0.0)
    assert fields[11] == str(duty)  # the actual duty, never 255
    assert fields[10] == "10"


def test_automatic_pwm_rises_as_the_night_gets_damp() -> None:
    emu = AstroLink4Emulator()
    emu.environment.start_humidity = 50.0
    emu.environment.humidity_per_hour = 36000.0  # 10 %/s, so a few seconds do what a night does
    emu.handle("B:0:255", 0.0)
    duties = [int(q(emu, float(second))[10]) for second in range(4)]
    assert duties == [20, 40, 60, 80]


def test_total_current_counts_outputs_heaters_and_motor() -> None:
    cfg = EmulatorConfig()
    emu = AstroLink4Emulator(cfg)
    base = cfg.idle_current + cfg.output_current[0]
    assert emu.total_current() == pytest.approx(base)
    emu.handle("B:0:50", 0.0)
    assert emu.total_current() == pytest.approx(base + 0.5 * cfg.heater_current[0])
    emu.handle("R:0:1000", 0.0)
    emu.advance(1.0)
    assert emu.total_current() == pytest.approx(base + 0.5 * cfg.heater_current[0] + 0.4)  # z current 400 mA


def test_energy_integrates_current_and_voltage() -> None:
    emu = AstroLink4Emulator()
    emu.handle("C:1:1", 0.0)
    emu.handle("B:0:60", 0.0)
    current, voltage = emu.total_current(), emu.input_voltage()
    assert voltage == pytest.approx(12.4 - 0.05 * current)
    emu.advance(90.0)
    expected_ah = current * 90.0 / 3600.0
    assert emu.amp_hours == pytest.approx(expected_ah, rel=1e-6)
    assert emu.watt_hours == pytest.approx(expected_ah * voltage, rel=1e-6)
    emu.advance(180.0)
    assert emu.amp_hours == pytest.approx(2 * expected_ah, rel=1e-6)
    status = p.parse_status(emu.handle("q", 180.0), Layout.USB)
    assert status.amp_hours == pytest.approx(emu.amp_hours, abs=0.005)
    assert status.watt_hours == pytest.approx(emu.watt_hours, abs=0.005)
    assert status.watt_hours == pytest.approx(status.amp_hours * status.input_voltage, rel=0.05)
    assert status.current == pytest.approx(current, abs=0.005)
    assert status.input_voltage == pytest.approx(voltage, abs=0.005)


def test_energy_counts_the_motor_only_while_it_moves() -> None:
    still = AstroLink4Emulator()
    moving = AstroLink4Emulator()
    moving.handle("R:0:1000", 0.0)
    still.advance(10.0)
    moving.advance(10.0)
    extra_ah = moving.amp_hours - still.amp_hours
    # the motor draws 0.4 A for the ~5.05 s the move lasts
    assert extra_ah == pytest.approx(0.4 * trapezoid_time(1000, 220, 440) / 3600.0, rel=0.05)


def test_dc_focuser_runs_for_its_time_on_the_mini() -> None:
    emu = AstroLink4Emulator(EmulatorConfig.mini())
    assert emu.handle("G:1:70:800", 0.0) == "G:"
    assert q(emu, 0.5)[19] == "1"
    assert q(emu, 0.9)[19] == "0"
    emu.handle("G:0:50:5000", 1.0)
    assert q(emu, 2.0)[19] == "1"
    assert emu.handle("K", 2.0) == "K:"
    assert q(emu, 2.0)[19] == "0"


# --- dew point and sensors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temperature", "humidity", "expected"),
    [(20.0, 50.0, 9.25), (25.0, 60.0, 16.69), (10.0, 80.0, 6.71), (0.0, 100.0, 0.0), (30.0, 30.0, 10.52)],
)
def test_dew_point_magnus(temperature: float, humidity: float, expected: float) -> None:
    assert dew_point(temperature, humidity) == pytest.approx(expected, abs=0.02)


def test_dew_point_is_below_temperature_and_rises_with_humidity() -> None:
    values = [dew_point(15.0, rh) for rh in (20, 40, 60, 80, 99)]
    assert values == sorted(values)
    assert all(v < 15.0 for v in values)


def test_status_dew_point_is_consistent_with_reported_temperature_and_humidity() -> None:
    emu = AstroLink4Emulator()
    emu.environment.noise = 0.5  # large sensor noise makes any inconsistency visible
    for second in range(0, 200, 10):
        fields = q(emu, float(second))
        t1, h1, d1 = float(fields[5]), float(fields[6]), float(fields[7])
        # temperature and humidity are rounded to 0.005; the dew point moves by < 1 °C per °C
        assert d1 == pytest.approx(dew_point(t1, h1), abs=0.012), f"at {second}s: {fields[5:8]}"
        t2, h2, d2 = float(fields[27]), float(fields[28]), float(fields[29])
        assert d2 == pytest.approx(dew_point(t2, h2), abs=0.012)
        assert d1 < t1 and d2 < t2


def test_status_temperature_follows_the_environment() -> None:
    emu = AstroLink4Emulator()
    emu.environment.noise = 0.0
    fields = q(emu, 0.0)
    assert float(fields[5]) == pytest.approx(emu.environment.temperature(0.0), abs=0.006)
    assert float(fields[6]) == pytest.approx(62.0, abs=0.006)
    sky = p.parse_status(":".join(fields), Layout.USB).sky
    assert sky is not None
    assert sky.sky_minus_ambient == pytest.approx(-22.0 * 0.9, abs=0.02)


# --- protection ------------------------------------------------------------------------------------------------------


def test_over_voltage_trips_after_the_reaction_time() -> None:
    emu = AstroLink4Emulator()
    emu.handle("C:1:1", 0.0)
    emu.handle("B:0:50", 0.0)
    emu.input_voltage_override = 14.6
    fields = q(emu, 0.05)  # shorter than n[4] = 100 ms
    assert fields[21] == "0"
    fields = q(emu, 0.3)
    assert fields[21] == "1"
    assert float(fields[22]) == pytest.approx(14.6)
    assert fields[12:15] == ["0", "0", "0"]
    assert fields[10:12] == ["0", "0"]
    status = p.parse_status(":".join(fields), Layout.USB)
    assert status.protection == p.ProtectionTrip("over-voltage", 14.6)


def test_voltage_at_the_limit_does_not_trip() -> None:
    emu = AstroLink4Emulator()
    emu.input_voltage_override = 14.0
    assert q(emu, 1.0)[21] == "0"


def test_reaction_time_follows_n4() -> None:
    emu = AstroLink4Emulator()
    emu.handle("N:1077:140:100:500:", 0.0)
    emu.input_voltage_override = 15.0
    assert q(emu, 0.4)[21] == "0"
    assert q(emu, 0.6)[21] == "1"


def test_brief_over_voltage_does_not_trip() -> None:
    emu = AstroLink4Emulator()
    emu.input_voltage_override = 15.0
    emu.advance(0.05)
    emu.input_voltage_override = None
    emu.advance(0.1)
    emu.input_voltage_override = 15.0
    emu.advance(0.19)
    assert q(emu, 0.19)[21] == "0"


def test_over_current_trips_with_the_current() -> None:
    emu = AstroLink4Emulator()
    emu.extra_current = 10.5
    fields = q(emu, 0.5)
    assert fields[21] == "2"
    assert float(fields[22]) > 10.0
    assert fields[12:15] == ["0", "0", "0"]
    assert p.parse_status(":".join(fields), Layout.USB).protection.kind == "over-current"


def test_protection_clears_on_an_output_command() -> None:
    emu = AstroLink4Emulator()
    emu.input_voltage_override = 15.0
    assert q(emu, 0.5)[21] == "1"
    assert q(emu, 5.0)[21] == "1"  # latched
    emu.input_voltage_override = None
    assert q(emu, 6.0)[21] == "1"  # still latched after the cause is gone
    assert emu.handle("C:0:1", 6.0) == "C:"
    fields = q(emu, 6.5)
    assert fields[21] == "0" and fields[22] == "0"
    assert fields[12] == "1"


# --- temperature compensation --------------------------------------------------------------------------------------


def cooled_emulator(drop: float, settings: str = "e:30:1200:1:0:20") -> AstroLink4Emulator:
    emu = AstroLink4Emulator()
    emu.environment.noise = 0.0
    emu.environment.cooling_per_hour = 0.0
    emu.handle("E" + settings[1:] + ":", 0.0)
    emu.environment.start_temperature -= drop  # the air cools at once
    return emu


def test_pending_compensation_in_status() -> None:
    emu = cooled_emulator(2.0)
    reference, now = emu.compensation_reference, emu.temperature()
    assert now - reference == pytest.approx(-2.0)
    fields = q(emu, 0.0)
    # the manual's sign: a positive coefficient moves inward (to smaller positions) as the air cools
    assert int(fields[20]) == round((now - reference) * 12.0) == -24
    assert emu.position == 0  # manual mode: nothing moves


def test_pending_compensation_sign_and_coefficient() -> None:
    emu = cooled_emulator(-1.5, "e:30:-250:0:0:15")  # warmer, negative coefficient
    # T_now − T_ref = +1.5 °C, coefficient −2.5 steps/°C: −3.75 → −4 steps
    assert int(q(emu, 0.0)[20]) == round(1.5 * -2.5) == -4


def test_pending_compensation_sign_is_configurable() -> None:
    emu = AstroLink4Emulator(EmulatorConfig(compensation_sign=-1))
    emu.environment.start_temperature -= 2.0
    assert int(q(emu, 0.0)[20]) == 24


def test_auto_compensation_moves_when_threshold_reached() -> None:
    emu = cooled_emulator(2.0, "e:30:1200:1:1:20")
    emu.handle("P:0:1000", 0.0)
    emu.advance(5.0)
    assert emu.position == 976
    fields = q(emu, 5.0)
    assert fields[1] == "976" and fields[2] == "0"
    assert fields[20] == "0"  # the reference was reset


def test_auto_compensation_waits_below_threshold() -> None:
    emu = cooled_emulator(1.0, "e:30:1200:1:1:20")
    emu.handle("P:0:1000", 0.0)
    emu.advance(5.0)
    assert emu.position == 1000
    assert q(emu, 5.0)[20] == "-12"


def test_compensate_if_over_applies_only_past_the_threshold() -> None:
    emu = cooled_emulator(1.0)
    emu.handle("P:0:1000", 0.0)
    assert q(emu, 0.0)[20] == "-12"
    assert emu.handle("S:15", 0.0) == "S:"  # 12 steps pending do not exceed 15: nothing happens
    emu.advance(3.0)
    assert q(emu, 3.0)[1] == "1000"
    assert emu.handle("S:10", 3.0) == "S:"
    emu.advance(6.0)
    fields = q(emu, 6.0)
    assert fields[1] == "988" and fields[20] == "0"


# --- faults ---------------------------------------------------------------------------------------------------------


def test_fault_silent() -> None:
    emu = AstroLink4Emulator()
    emu.faults.silent = True
    assert emu.handle("#", 0.0) is None
    assert emu.handle("q", 0.0) is None
    assert emu.commands == ["#", "q"]


def test_fault_wrong_letter() -> None:
    emu = AstroLink4Emulator()
    emu.faults.wrong_letter = True
    reply = emu.handle("R:0:100", 0.0)
    assert reply == "ERR"
    assert p.reply_matcher("R:0:100")(Line(reply)) is p.Verdict.IGNORE
    assert emu.target == 0  # the command was not carried out


def test_fault_drop_replies_counts_down() -> None:
    emu = AstroLink4Emulator()
    emu.faults = Faults(drop_replies=2)
    assert emu.handle("q", 0.0) is None
    assert emu.handle("j", 0.0) is None
    assert emu.handle("f", 0.0) == "f:1"
    assert emu.faults.drop_replies == 0


def test_fault_truncate_status() -> None:
    emu = AstroLink4Emulator()
    emu.faults.truncate_status = True
    line = emu.handle("q", 0.0)
    assert line.startswith("q:")
    with pytest.raises(ProtocolError):
        p.parse_status(line, Layout.USB)
    assert emu.handle("u", 0.0) == "u:" + DEFAULT_U  # other replies are whole


# --- serving on a stream ----------------------------------------------------------------------------------------


class Client:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.framer = LineFramer()
        self.lines: list[str] = []
        self.raw = b""

    async def ask(self, command: str, timeout: float = 1.0) -> str | None:
        """Send a command; return the first line the reply matcher accepts, or None on timeout."""
        match = p.reply_matcher(command)
        await self.stream.send_all(self.framer.encode(command))
        with trio.move_on_after(timeout):
            while True:
                data = await self.stream.receive_some(1024)
                self.raw += data
                for item in self.framer.feed(data):
                    if isinstance(item, Line):
                        self.lines.append(item.text)
                        if match(item) is p.Verdict.ACCEPT:
                            return item.text
        return None


async def test_serve_round_trip(autojump_clock: trio.testing.MockClock) -> None:
    emu = AstroLink4Emulator(now=trio.current_time())
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        client = Client(client_side)
        assert await client.ask("#") == "#:AstroLink4USB"
        assert client.raw == b"#:AstroLink4USB\n"  # bare LF
        assert await client.ask("R:0:1000") == "R:"
        await trio.sleep(10.0)  # fake time: the focuser gets there meanwhile
        status = p.parse_status(await client.ask("q"), Layout.USB)
        assert (status.position, status.steps_to_go) == (1000, 0)
        assert emu.commands == ["#", "R:0:1000", "q"]
        await client_side.aclose()
    # serve() returns once the stream closes


async def test_serve_crlf(autojump_clock: trio.testing.MockClock) -> None:
    emu = AstroLink4Emulator(EmulatorConfig(line_ending="\r\n"), now=trio.current_time())
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        client = Client(client_side)
        assert await client.ask("j") == "j:0"
        assert client.raw == b"j:0\r\n"
        await client_side.aclose()


async def test_serve_accepts_crlf_commands(autojump_clock: trio.testing.MockClock) -> None:
    emu = AstroLink4Emulator(now=trio.current_time())
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        await client_side.send_all(b"f\r\n")
        data = b""
        with trio.move_on_after(1.0):
            while not data.endswith(b"\n"):
                data += await client_side.receive_some(100)
        assert data == b"f:1\n"
        await client_side.aclose()


async def test_serve_garbage_before_reply(autojump_clock: trio.testing.MockClock) -> None:
    emu = AstroLink4Emulator(now=trio.current_time())
    emu.faults.garbage = True
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        client = Client(client_side)
        assert await client.ask("#") == "#:AstroLink4USB"
        assert client.lines[0] != "#:AstroLink4USB"  # junk came first
        line = await client.ask("q")
        assert p.parse_status(line, Layout.USB).complete
        await client_side.aclose()


async def test_serve_stale_reply_first(autojump_clock: trio.testing.MockClock) -> None:
    emu = AstroLink4Emulator(now=trio.current_time())
    emu.faults.reply_for_other_command = True
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        client = Client(client_side)
        assert await client.ask("j") == "j:0"
        assert client.lines == ["U:", "j:0"]
        await client_side.aclose()


async def test_serve_silent_times_out(autojump_clock: trio.testing.MockClock) -> None:
    emu = AstroLink4Emulator(now=trio.current_time())
    emu.faults.silent = True
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        client = Client(client_side)
        start = trio.current_time()
        assert await client.ask("#", timeout=3.0) is None
        assert trio.current_time() - start == pytest.approx(3.0)
        emu.faults.silent = False
        assert await client.ask("#") == "#:AstroLink4USB"
        await client_side.aclose()


# --- faults for the reliability campaign ------------------------------------------------------------------------------


def test_fault_truncate_cuts_every_reply_but_bare_acknowledgements() -> None:
    emu = AstroLink4Emulator()
    emu.faults.truncate = True
    assert emu.handle("u", 0.0) == ("u:" + DEFAULT_U)[: len("u:" + DEFAULT_U) // 2]
    with pytest.raises(ProtocolError):
        p.parse_status(emu.handle("q", 0.0), Layout.USB)
    assert emu.handle("R:0:100", 0.0) == "R:"  # two characters: nothing left to cut
    assert emu.target == 100  # the command itself was carried out


def test_fault_oversize_runs_past_the_line_limit() -> None:
    emu = AstroLink4Emulator()
    emu.faults.oversize = True
    reply = emu.handle("j", 0.0)
    assert reply.startswith("j:0:") and len(reply) > 512
    framer = LineFramer(max_line=256)
    assert [type(item).__name__ for item in framer.feed(reply.encode() + b"\n")] == ["FramingError"]


def test_positions_in_replies_are_recorded_with_their_time() -> None:
    emu = AstroLink4Emulator()
    emu.handle("R:0:50", 0.0)
    emu.handle("q", 0.0)
    emu.handle("q", 30.0)
    emu.handle("p", 31.0)
    assert emu.reported_positions_since(0) == [(0.0, 0), (30.0, 50), (31.0, 50)]
    assert emu.reported_positions_since(2) == [(31.0, 50)]


async def test_serve_late_replies_stay_in_order_behind_later_commands(autojump_clock: trio.testing.MockClock) -> None:
    emu = AstroLink4Emulator(now=trio.current_time())
    emu.faults.late_reply_s = 1.5
    client_side, device_side = trio.testing.memory_stream_pair()
    arrivals: list[tuple[float, str]] = []
    framer = LineFramer()

    async def listen() -> None:
        while True:
            data = await client_side.receive_some(1024)
            if not data:
                return
            arrivals.extend((trio.current_time() - start, item.text) for item in framer.feed(data))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, emu, device_side)
        nursery.start_soon(listen)
        start = trio.current_time()
        await client_side.send_all(b"j\n")
        await trio.sleep(1.0)  # the driver gives up and asks again
        await client_side.send_all(b"f\n")
        await trio.sleep(3.0)
        nursery.cancel_scope.cancel()
    assert arrivals == [(1.5, "j:0"), (2.5, "f:1")]


# --- the emulator program's link controls (real ptys and sockets, real clock, short waits) ------------------------------


async def wait_until_true(condition, timeout: float) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.005)


async def test_unplug_removes_the_pty_and_its_link_for_a_while(tmp_path, capsys) -> None:
    import os

    from indi_astrojolo.emulation import _link_command, _serve_pty

    link = str(tmp_path / "astrolink")
    async with trio.open_nursery() as nursery:
        control = await nursery.start(_serve_pty, AstroLink4Emulator(now=trio.current_time()), serve, link)
        assert os.path.exists(link)
        unplugged = trio.current_time()
        assert _link_command(control, "unplug 1.0")
        # Waits for what happens, not fixed sleeps: a loaded machine may take its time (the bounds only grow then).
        await wait_until_true(lambda: not os.path.lexists(link), 30)  # the device node is gone with the cable
        await wait_until_true(lambda: os.path.exists(link), 30)  # plugged in again (perhaps with the old pty number)
        assert trio.current_time() - unplugged >= 1.0  # not before the cable's time was up
        nursery.cancel_scope.cancel()
    assert capsys.readouterr().out.startswith("READY pty ")


async def test_reset_ends_a_tcp_connection_with_a_reset(capsys) -> None:
    from indi_astrojolo.emulation import _link_command, _serve_tcp

    async with trio.open_nursery() as nursery:
        control = await nursery.start(_serve_tcp, AstroLink4Emulator(now=trio.current_time()), serve, 0)
        port = int(capsys.readouterr().out.split(":")[-1])
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"j\n")
        assert await stream.receive_some(100) == b"j:0\n"
        assert _link_command(control, "reset")
        with pytest.raises(trio.BrokenResourceError) as caught:
            await stream.receive_some(100)
        assert isinstance(caught.value.__cause__, ConnectionResetError)
        assert _link_command(control, "unplug 5")
        refused = await trio.open_tcp_stream("127.0.0.1", port)  # the listener takes it, and resets it at once
        with pytest.raises(trio.BrokenResourceError):
            await refused.receive_some(100)
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("start, target", [(0, 120), (500, 380)])
def test_a_move_reports_nothing_left_to_go_only_once_its_last_step_is_made(start, target) -> None:
    emu = AstroLink4Emulator()
    emu.handle(f"P:0:{start}", 0.0)
    emu.handle(f"R:0:{target}", 0.0)
    t = 0.0
    while emu.position != target or emu.velocity != 0.0:
        t += 0.003
        fields = q(emu, t)
        position, to_go = int(fields[1]), int(fields[2])
        assert position + to_go == target
        if emu.position != target:
            assert to_go != 0, f"nothing to go reported at {emu.position} (still moving at {emu.velocity:.2f} steps/s)"
    assert q(emu, t + 0.1)[1:3] == [str(target), "0"]


# --- serial speed and absent sensors -------------------------------------------------------------------------------


def test_each_model_talks_at_its_own_speed() -> None:
    assert EmulatorConfig().baud == 38400 and EmulatorConfig.mini().baud == 115200
    usb = AstroLink4Emulator()
    assert usb.understands(38400) and not usb.understands(115200)
    assert usb.understands(None)  # a link without a speed (TCP)
    assert AstroLink4Emulator(EmulatorConfig(baud=None)).understands(9600)


@pytest.mark.parametrize("noise", [False, True])
async def test_serve_at_a_wrong_speed_never_answers_a_command(autojump_clock: trio.testing.MockClock, noise: bool) -> None:
    emu = AstroLink4Emulator(EmulatorConfig(wrong_baud_noise=noise), now=trio.current_time())
    client_side, device_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: serve(emu, device_side, baud=115200))
        await client_side.send_all(b"#\n")
        received = b""
        with trio.move_on_after(1.0):
            while True:
                received += await client_side.receive_some(4096)
        assert b"AstroLink" not in received
        assert bool(received) is noise
        assert emu.commands == ["<2 bytes at 115200 baud, not understood>"]
        await client_side.aclose()


def test_serve_reads_the_speed_the_driver_set_on_a_pty() -> None:
    import types

    import serial

    from indi_astrojolo.astrolink4.emulator import _pty_baud
    from indi_astrojolo.link.transports import Pty

    pty = Pty.open()
    try:
        port = serial.Serial(pty.path, 115200)
        master = types.SimpleNamespace(fileno=lambda: pty.master)  # the emulator's side, as serve() holds it
        assert _pty_baud(master) == 115200
        port.baudrate = 38400
        assert _pty_baud(master) == 38400
        port.close()
        assert _pty_baud(types.SimpleNamespace()) is None  # not a terminal: a socket, a memory stream
    finally:
        pty.close()


@pytest.mark.parametrize(
    "absent, expected",
    [({}, ("0", "0.00")), ({"absent_flag_kept": True}, ("1", "0.00")), ({"absent_filler": "nan"}, ("0", "nan"))],
)
def test_an_unplugged_climate_sensor_shows_as_configured(absent: dict, expected: tuple[str, str]) -> None:
    emu = AstroLink4Emulator(EmulatorConfig(sensor1=False, **absent))
    fields = q(emu, 0.0)
    assert (fields[4], fields[5]) == expected
    assert p.parse_status(":".join(fields), Layout.USB).sensor1 is None  # whichever way, the parser sees it gone


def test_an_unplugged_sky_sensor_with_its_flag_kept_reads_as_absent() -> None:
    emu = AstroLink4Emulator(EmulatorConfig(sky_sensor=False, absent_flag_kept=True))
    fields = q(emu, 0.0)
    assert fields[23:26] == ["1", "1037.50", "1037.50"]
    assert p.parse_status(":".join(fields), Layout.USB).sky is None
