"""The AstroLink 4 protocol, sans I/O: command texts, status and settings parsing, reply matching.

Expected wire texts come from the reference traces (astrolink4-protocol.md §9) and the drivers' sample replies (§4).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indi_astrojolo.astrolink4 import protocol as p
from indi_astrojolo.astrolink4.protocol import (
    Climate,
    CompensationSettings,
    DeviceSettings,
    FocuserSettings,
    Layout,
    MotorSettings,
    ProtectionTrip,
    ProtocolError,
    SkySensor,
)
from indi_astrojolo.link.errors import ReplyError, Verdict
from indi_astrojolo.link.framing import Line

USB_SAMPLE = (
    "q:0:0:0.34:1:21.30:49.50:10.20:0:0.00:0:0:1:1:1:12.05:5.00:0.01:0.14:0:0:0:0:0:1037.50:1037.50:0:0.00:0.00:0.00:0:0.00"
)
MINI_SAMPLE = "q:1234:0:1.47:1:2.12:45.1:-12.81:1:-25.22:45:0:0:0:1:12.1:5.0:1.12:13.41:0:34:0:0"
U_SAMPLE = "u:25000:220:0:100:440:0:0:1:257:0:0:0:0:0:1:0:0"
E_SAMPLE = "e:30:1200:1:0:20"
N_SAMPLE = "n:1077:140:100:100"


def usb_fields() -> list[str]:
    return USB_SAMPLE.split(":")


def join(fields: list[str]) -> str:
    return ":".join(fields)


# --- command builders -----------------------------------------------------------------------------------------------


class TestCommands:
    def test_fixed_commands(self) -> None:
        assert p.handshake() == "#"
        assert p.status() == "q"
        assert p.halt() == "H"
        assert p.stop_dc_focuser() == "K"

    def test_move_to_matches_traces(self) -> None:
        assert p.move_to(1500) == "R:0:1500"
        assert p.move_to(1584) == "R:0:1584"
        assert p.move_to(2550) == "R:0:2550"
        assert p.move_to(0) == "R:0:0"

    def test_move_to_rejects_negative(self) -> None:
        with pytest.raises(ValueError):
            p.move_to(-1)

    def test_sync_position(self) -> None:
        assert p.sync_position(2000) == "P:0:2000"
        with pytest.raises(ValueError):
            p.sync_position(-5)

    @pytest.mark.parametrize(
        ("index", "on", "text"),
        [(1, True, "C:1:1"), (0, False, "C:0:0"), (2, True, "C:2:1")],
    )
    def test_set_output(self, index: int, on: bool, text: str) -> None:
        assert p.set_output(index, on) == text

    @pytest.mark.parametrize("index", [-1, 3])
    def test_set_output_rejects_unknown_output(self, index: int) -> None:
        with pytest.raises(ValueError):
            p.set_output(index, True)

    def test_set_pwm(self) -> None:
        assert p.set_pwm(0, 40) == "B:0:40"
        assert p.set_pwm(1, 0) == "B:1:0"
        assert p.set_pwm(0, 100) == "B:0:100"
        assert p.set_pwm(1, 255) == "B:1:255"
        assert p.set_pwm(1, p.PWM_AUTO) == "B:1:255"

    @pytest.mark.parametrize("duty", [101, -1, 254, 256])
    def test_set_pwm_rejects_out_of_range_duty(self, duty: int) -> None:
        with pytest.raises(ValueError):
            p.set_pwm(0, duty)

    def test_set_pwm_rejects_unknown_channel(self) -> None:
        with pytest.raises(ValueError):
            p.set_pwm(2, 10)

    @pytest.mark.parametrize(("steps", "text"), [(34, "S:34"), (15, "S:15"), (0, "S:0"), (255, "S:255"), (300, "S:255"), (-3, "S:0")])
    def test_compensate_now_clamps_to_a_byte(self, steps: int, text: str) -> None:
        assert p.compensate_now(steps) == text

    def test_set_manual_controller(self) -> None:
        assert p.set_manual_controller(False) == "F:0"
        assert p.set_manual_controller(True) == "F:1"

    def test_run_dc_focuser(self) -> None:
        assert p.run_dc_focuser(True, 70, 800) == "G:1:70:800"
        assert p.run_dc_focuser(False, 10, 10) == "G:0:10:10"
        assert p.run_dc_focuser(True, 100, 5000) == "G:1:100:5000"

    @pytest.mark.parametrize(("pwm", "ms"), [(9, 800), (101, 800), (70, 9), (70, 5001)])
    def test_run_dc_focuser_limits(self, pwm: int, ms: int) -> None:
        with pytest.raises(ValueError):
            p.run_dc_focuser(True, pwm, ms)

    @pytest.mark.parametrize("letter", ["u", "e", "n", "j", "f", "z"])
    def test_read_settings(self, letter: str) -> None:
        assert p.read_settings(letter) == letter

    @pytest.mark.parametrize("letter", ["U", "q", "x", ""])
    def test_read_settings_rejects_unknown_block(self, letter: str) -> None:
        with pytest.raises(ValueError):
            p.read_settings(letter)


# --- reply matching and identity ---------------------------------------------------------------------------------


class TestReplyMatcher:
    def test_accepts_the_commands_letter(self) -> None:
        assert p.reply_matcher("R:0:5")(Line("R:")) is Verdict.ACCEPT
        assert p.reply_matcher("q")(Line(USB_SAMPLE)) is Verdict.ACCEPT
        assert p.reply_matcher("#")(Line("#:AstroLink4USB")) is Verdict.ACCEPT
        assert p.reply_matcher("U:1:2:")(Line("U:")) is Verdict.ACCEPT
        assert p.setter_matcher("J:1:")(Line("J:")) is Verdict.ACCEPT

    def test_ignores_other_letters_and_errors(self) -> None:
        match = p.reply_matcher("R:0:5")
        assert match(Line("q:1:2:3")) is Verdict.IGNORE
        assert match(Line("U:")) is Verdict.IGNORE
        assert match(Line("ERR")) is Verdict.IGNORE
        assert match(Line("RX:")) is Verdict.IGNORE  # same first character, but not the letter then ':'
        # an 'E' command must not take "ERR" for its reply
        assert p.reply_matcher("E:30:1200:1:0:20:")(Line("ERR")) is Verdict.IGNORE
        assert p.reply_matcher("e")(Line("ERR")) is Verdict.IGNORE
        # case matters: 'u' reads, 'U' writes
        assert p.reply_matcher("u")(Line("U:")) is Verdict.IGNORE


class TestIdentity:
    @pytest.mark.parametrize(("text", "name"), [("#:AstroLink4USB", "AstroLink4USB"), ("#:AstroLink4mini", "AstroLink4mini")])
    def test_accepts_astrolink(self, text: str, name: str) -> None:
        assert p.parse_identity(text) == name

    @pytest.mark.parametrize("text", ["#:Other", "#:", "AstroLink4USB", "q:1:2:3"])
    def test_rejects_others(self, text: str) -> None:
        with pytest.raises(ProtocolError):
            p.parse_identity(text)

    def test_protocol_error_is_a_reply_error(self) -> None:
        assert issubclass(ProtocolError, ReplyError)


# --- status -------------------------------------------------------------------------------------------------------


class TestLayout:
    def test_detects_both_layouts(self) -> None:
        assert p.detect_layout(USB_SAMPLE) is Layout.USB
        assert p.detect_layout(MINI_SAMPLE) is Layout.MINI
        assert Layout.USB.value == 32 and Layout.MINI.value == 23

    @pytest.mark.parametrize("count", [1, 4, 5, 22, 24, 31, 33])
    def test_rejects_other_counts(self, count: int) -> None:
        with pytest.raises(ProtocolError):
            p.detect_layout(join(usb_fields()[:count]) if count <= 32 else USB_SAMPLE + ":0")

    def test_rejects_non_status(self) -> None:
        with pytest.raises(ProtocolError):
            p.detect_layout("u:" + ":".join(["0"] * 31))


class TestParseStatus:
    def test_usb_sample_every_field(self) -> None:
        s = p.parse_status(USB_SAMPLE, Layout.USB)
        assert s.layout is Layout.USB
        assert s.complete is True
        assert s.position == 0
        assert s.steps_to_go == 0
        assert s.moving is False
        assert s.current == pytest.approx(0.34)
        assert s.sensor1 == Climate(21.30, 49.50, 10.20)
        assert s.sensor2 is None  # field 8 says no sensor 2
        assert s.sensor2_temperature is None  # the mini's probe field is not the USB's
        assert s.pwm == (0, 0)
        assert s.outputs == (True, True, True)
        assert s.input_voltage == pytest.approx(12.05)
        assert s.regulated_voltage is None  # sent, but the USB has no adjustable rail to report
        assert s.amp_hours == pytest.approx(0.01)
        assert s.watt_hours == pytest.approx(0.14)
        assert s.dc_motor_moving is None  # the USB has no DC focuser
        assert s.compensation_pending == 0
        assert s.protection is None
        assert s.sky is None  # flag 0: the 1037.50 junk must not surface
        assert s.sky_brightness is None

    def test_mini_sample_every_field(self) -> None:
        s = p.parse_status(MINI_SAMPLE, Layout.MINI)
        assert s.layout is Layout.MINI
        assert s.complete is True
        assert s.position == 1234
        assert s.steps_to_go == 0
        assert s.current == pytest.approx(1.47)
        assert s.sensor1 == Climate(2.12, 45.1, -12.81)
        assert s.sensor2_temperature == pytest.approx(-25.22)
        assert s.sensor2 is None
        assert s.pwm == (45, 0)
        assert s.outputs == (False, False, True)
        assert s.input_voltage == pytest.approx(12.1)
        assert s.regulated_voltage == pytest.approx(5.0)
        assert s.amp_hours == pytest.approx(1.12)
        assert s.watt_hours == pytest.approx(13.41)
        assert s.dc_motor_moving is False
        assert s.compensation_pending == 34
        assert s.protection is None
        assert s.sky is None
        assert s.sky_brightness is None

    def test_mini_flags_gate_sensors_and_dc_motor(self) -> None:
        fields = MINI_SAMPLE.split(":")
        fields[4] = "0"  # no sensor 1
        fields[8] = "0"  # no sensor 2
        fields[19] = "1"  # DC focuser running
        fields[2] = "-25"
        s = p.parse_status(join(fields), Layout.MINI)
        assert s.sensor1 is None
        assert s.sensor2_temperature is None
        assert s.dc_motor_moving is True
        assert s.steps_to_go == -25
        assert s.moving is True

    def test_usb_with_sky_sensor_sensor2_and_brightness(self) -> None:
        fields = usb_fields()
        fields[1], fields[2] = "2500", "120"
        fields[8] = "1"
        fields[10], fields[11] = "35", "100"
        fields[12], fields[13], fields[14] = "0", "1", "0"
        fields[20] = "-7"
        fields[23], fields[24], fields[25] = "1", "-18.40", "9.60"
        fields[26], fields[27], fields[28], fields[29] = "1", "8.10", "71.20", "3.17"
        fields[30], fields[31] = "1", "20.85"
        s = p.parse_status(join(fields), Layout.USB)
        assert s.position == 2500 and s.steps_to_go == 120 and s.moving
        assert s.pwm == (35, 100)
        assert s.outputs == (False, True, False)
        assert s.compensation_pending == -7
        assert s.sky == SkySensor(-18.40, 9.60)
        assert s.sky.sky_minus_ambient == pytest.approx(-28.0)
        assert s.sensor2 == Climate(8.10, 71.20, 3.17)
        assert s.sensor2_temperature is None
        assert s.sky_brightness == pytest.approx(20.85)

    @pytest.mark.parametrize(("flag", "kind"), [("1", "over-voltage"), ("2", "over-current"), ("3", "over-current")])
    def test_protection_flags(self, flag: str, kind: str) -> None:
        fields = usb_fields()
        fields[21], fields[22] = flag, "14.62"
        s = p.parse_status(join(fields), Layout.USB)
        assert s.protection == ProtectionTrip(kind, 14.62)
        mini = MINI_SAMPLE.split(":")
        mini[21], mini[22] = flag, "10.50"
        assert p.parse_status(join(mini), Layout.MINI).protection == ProtectionTrip(kind, 10.5)

    @pytest.mark.parametrize(
        "line",
        ["q:1500:-300:0.62", "q:1500:-300:0.62:1", "q:1500:-300:0.62:"],
    )
    def test_short_lines_give_a_partial_status(self, line: str) -> None:
        for layout in Layout:
            s = p.parse_status(line, layout)
            assert s.complete is False
            assert s.layout is None
            assert (s.position, s.steps_to_go, s.current) == (1500, -300, pytest.approx(0.62))
            assert s.moving is True
            assert s.sensor1 is None and s.outputs is None and s.pwm is None and s.input_voltage is None

    @pytest.mark.parametrize("line", ["q", "q:1", "q:1:2"])
    def test_too_short_lines(self, line: str) -> None:
        with pytest.raises(ProtocolError):
            p.parse_status(line, Layout.USB)

    @pytest.mark.parametrize("count", range(6, 23))
    def test_mini_lengths_between_short_and_full_are_errors(self, count: int) -> None:
        with pytest.raises(ProtocolError):
            p.parse_status(join(MINI_SAMPLE.split(":")[:count]), Layout.MINI)

    @pytest.mark.parametrize("count", [*range(6, 23), *range(24, 32)])
    def test_usb_lengths_other_than_32_are_errors(self, count: int) -> None:
        with pytest.raises(ProtocolError):
            p.parse_status(join(usb_fields()[:count]), Layout.USB)

    def test_layout_mismatch_is_an_error(self) -> None:
        with pytest.raises(ProtocolError):
            p.parse_status(MINI_SAMPLE, Layout.USB)
        with pytest.raises(ProtocolError):
            p.parse_status(USB_SAMPLE, Layout.MINI)
        with pytest.raises(ProtocolError):
            p.parse_status(USB_SAMPLE + ":0", Layout.USB)

    def test_wrong_letter_is_an_error(self) -> None:
        with pytest.raises(ProtocolError):
            p.parse_status("u" + USB_SAMPLE[1:], Layout.USB)

    @pytest.mark.parametrize(
        ("index", "name"),
        [
            (1, "position"),
            (2, "steps to go"),
            (3, "current"),
            (4, "sensor present"),
            (5, "temperature"),
            (6, "humidity"),
            (7, "dew point"),
            (8, "sensor 2 present"),
            (10, "PWM A"),
            (11, "PWM B"),
            (12, "output 1"),
            (14, "output 3"),
            (15, "input voltage"),
            (17, "Ah"),
            (18, "Wh"),
            (20, "pending compensation"),
            (21, "protection"),
            (23, "sky sensor present"),
            (30, "sky brightness present"),
        ],
    )
    def test_non_numeric_field_names_the_field(self, index: int, name: str) -> None:
        fields = usb_fields()
        fields[index] = "x1"
        with pytest.raises(ProtocolError, match=f"field {index} .*{name}"):
            p.parse_status(join(fields), Layout.USB)

    @pytest.mark.parametrize("flag", ["1.5", "OV", "?"])
    def test_garbled_protection_flag_is_an_error_not_a_trip(self, flag: str) -> None:
        fields = usb_fields()
        fields[21] = flag
        with pytest.raises(ProtocolError, match="field 21"):
            p.parse_status(join(fields), Layout.USB)

    def test_protection_value_is_checked_when_flagged(self) -> None:
        fields = usb_fields()
        fields[21], fields[22] = "1", "volts"
        with pytest.raises(ProtocolError, match="protection value"):
            p.parse_status(join(fields), Layout.USB)

    def test_gated_junk_is_not_parsed(self) -> None:
        # Fields of an absent sensor are junk; even unparseable junk must not fail the line.
        fields = usb_fields()
        fields[24] = fields[25] = "----"
        fields[27] = "?"
        assert p.parse_status(join(fields), Layout.USB).sky is None

    @pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "1e999"])
    @pytest.mark.parametrize("index", [3, 15])
    def test_non_finite_values_are_errors(self, bad: str, index: int) -> None:
        fields = usb_fields()
        fields[index] = bad
        with pytest.raises(ProtocolError, match=f"field {index}"):
            p.parse_status(join(fields), Layout.USB)

    @pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "1e999"])
    def test_a_non_finite_sensor_reading_is_a_sensor_that_cannot_be_read(self, bad: str) -> None:
        # An Arduino prints a failed float reading as "nan": that sensor is gone, the rest of the line is live.
        fields = usb_fields()
        fields[5] = bad
        status = p.parse_status(join(fields), Layout.USB)
        assert status.sensor1 is None and status.input_voltage == 12.05

    @pytest.mark.parametrize(
        "index, filler, gone",
        [
            (5, "-127.00", "sensor1"),  # a DS18B20-type probe that fails
            (6, "120.00", "sensor1"),
            (24, "1037.50", "sky"),  # the sky sensor's filler with its present flag still set
            (25, "1037.50", "sky"),
            (31, "0.00", "sky_brightness"),
        ],
    )
    def test_filler_readings_with_the_present_flag_set_read_as_absent(self, index: int, filler: str, gone: str) -> None:
        fields = usb_fields()
        fields[4] = fields[23] = fields[30] = "1"
        fields[24], fields[25], fields[31] = "-10.00", "12.00", "20.50"
        assert getattr(p.parse_status(join(fields), Layout.USB), gone) is not None
        fields[index] = filler
        assert getattr(p.parse_status(join(fields), Layout.USB), gone) is None

    def test_the_all_zero_filler_of_a_climate_sensor_reads_as_absent(self) -> None:
        fields = usb_fields()
        fields[4], fields[5], fields[6], fields[7] = "1", "0.00", "0.00", "0.00"
        fields[8], fields[27], fields[28], fields[29] = "1", "0.00", "0.00", "0.00"
        status = p.parse_status(join(fields), Layout.USB)
        assert status.sensor1 is None and status.sensor2 is None
        fields[5] = "0.00"
        fields[6] = "85.00"  # freezing, humid: a real reading
        fields[7] = "-2.30"
        assert p.parse_status(join(fields), Layout.USB).sensor1 == Climate(0.0, 85.0, -2.3)

    @pytest.mark.parametrize("index", [1, 2, 10, 20])
    def test_integer_fields_reject_fractions(self, index: int) -> None:
        fields = usb_fields()
        fields[index] = "3.5"
        with pytest.raises(ProtocolError, match=f"field {index}"):
            p.parse_status(join(fields), Layout.USB)

    def test_trailing_space_is_tolerated(self) -> None:
        assert p.parse_status(USB_SAMPLE + " ", Layout.USB) == p.parse_status(USB_SAMPLE, Layout.USB)
        assert p.parse_status(MINI_SAMPLE + " ", Layout.MINI) == p.parse_status(MINI_SAMPLE, Layout.MINI)
        assert p.detect_layout(USB_SAMPLE + " ") is Layout.USB


# --- status round trip (hypothesis) --------------------------------------------------------------------------------

two_dp = st.integers(min_value=-99999, max_value=99999).map(lambda n: n / 100)
positive_two_dp = st.integers(min_value=0, max_value=99999).map(lambda n: n / 100)


def hundredths(low: float, high: float) -> st.SearchStrategy[float]:
    return st.integers(min_value=round(low * 100), max_value=round(high * 100)).map(lambda n: n / 100)


# What sensors can measure: readings outside these ranges are the device's fillers (tested apart below).
air = hundredths(*p.PLAUSIBLE_AIR_TEMPERATURE)
humidity = hundredths(0.01, 100.0)  # 0.00 % with 0.00 °C and 0.00 dew point is the all-zero filler
sky_temperature = hundredths(*p.PLAUSIBLE_SKY_TEMPERATURE)


@st.composite
def usb_status(draw: st.DrawFn) -> p.Status:
    def climate() -> Climate | None:
        if not draw(st.booleans()):
            return None
        return Climate(draw(air), draw(humidity), draw(air))

    protection = draw(
        st.one_of(
            st.none(),
            st.builds(ProtectionTrip, st.sampled_from(["over-voltage", "over-current"]), positive_two_dp),
        )
    )
    sky = draw(st.one_of(st.none(), st.builds(SkySensor, sky_temperature, sky_temperature)))
    return p.Status(
        layout=Layout.USB,
        position=draw(st.integers(0, 10**6)),
        steps_to_go=draw(st.integers(-(10**6), 10**6)),
        current=draw(positive_two_dp),
        sensor1=climate(),
        sensor2=climate(),
        pwm=(draw(st.integers(0, 100)), draw(st.integers(0, 100))),
        outputs=(draw(st.booleans()), draw(st.booleans()), draw(st.booleans())),
        input_voltage=draw(positive_two_dp),
        amp_hours=draw(positive_two_dp),
        watt_hours=draw(positive_two_dp),
        compensation_pending=draw(st.integers(-5000, 5000)),
        protection=protection,
        sky=sky,
        sky_brightness=draw(st.one_of(st.none(), hundredths(*p.PLAUSIBLE_SKY_BRIGHTNESS))),
    )


def render_usb(s: p.Status, junk: str) -> str:
    """The q line a USB unit would send for `s`, absent sensors filled with `junk`."""
    f = lambda x: f"{x:.2f}"  # noqa: E731
    fields = ["q", str(s.position), str(s.steps_to_go), f(s.current)]
    fields += ["1", f(s.sensor1.temperature), f(s.sensor1.humidity), f(s.sensor1.dew_point)] if s.sensor1 else ["0", junk, junk, junk]
    fields += ["1" if s.sensor2 else "0", junk]
    fields += [str(s.pwm[0]), str(s.pwm[1])]
    fields += ["1" if on else "0" for on in s.outputs]
    fields += [f(s.input_voltage), "5.00", f(s.amp_hours), f(s.watt_hours), "0", str(s.compensation_pending)]
    if s.protection is None:
        fields += ["0", "0"]
    else:
        fields += ["1" if s.protection.kind == "over-voltage" else "2", f(s.protection.value)]
    fields += ["1", f(s.sky.sky_temperature), f(s.sky.ambient_temperature)] if s.sky else ["0", "1037.50", "1037.50"]
    if s.sensor2:
        fields += ["1", f(s.sensor2.temperature), f(s.sensor2.humidity), f(s.sensor2.dew_point)]
    else:
        fields += ["0", junk, junk, junk]
    fields += ["1", f(s.sky_brightness)] if s.sky_brightness is not None else ["0", junk]
    assert len(fields) == 32
    return ":".join(fields)


@settings(max_examples=150, deadline=None)
@given(usb_status(), st.sampled_from(["0.00", "1037.50", "-99.99"]))
def test_usb_status_round_trip(status: p.Status, junk: str) -> None:
    line = render_usb(status, junk)
    assert p.detect_layout(line) is Layout.USB
    assert p.parse_status(line, Layout.USB) == status


# --- settings -----------------------------------------------------------------------------------------------------


class TestParseSettings:
    def test_u_sample(self) -> None:
        block = p.parse_settings(U_SAMPLE, "u")
        assert block.letter == "u"
        assert block.fields == tuple(U_SAMPLE.split(":")[1:])
        assert len(block.fields) == 17
        assert block.integer(p.U_MAX_POSITION) == 25000
        assert block.integer(p.U_SPEED) == 220
        assert block.integer(p.U_ACCELERATION) == 440
        assert block.integer(p.U_STEP_SIZE) == 257
        assert block.integer(p.U_OUTPUT_1_DEFAULT) == 1

    def test_e_n_j_f_z_samples(self) -> None:
        assert p.parse_settings(E_SAMPLE, "e").fields == ("30", "1200", "1", "0", "20")
        assert p.parse_settings(N_SAMPLE, "n").fields == ("1077", "140", "100", "100")
        assert p.parse_settings("j:0", "j").fields == ("0",)
        assert p.parse_settings("f:1", "f").fields == ("1",)
        assert p.parse_settings("z:400:2", "z").fields == ("400", "2")

    def test_negative_coefficient(self) -> None:
        assert p.parse_settings("e:30:-250:0:1:15", "e").integer(p.E_COEFFICIENT) == -250

    @pytest.mark.parametrize(
        ("text", "letter"),
        [
            ("u:25000:220:0:100:440:0:0:1:257:0:0:0:0:0:1:0", "u"),  # 16 fields
            ("e:30:1200:1:0", "e"),
            ("n:1077:140:100", "n"),
            ("j", "j"),
            ("f:", "f"),
            ("z:400", "z"),
        ],
    )
    def test_too_few_fields(self, text: str, letter: str) -> None:
        with pytest.raises(ProtocolError):
            p.parse_settings(text, letter)

    def test_wrong_letter_or_non_numeric(self) -> None:
        with pytest.raises(ProtocolError):
            p.parse_settings(E_SAMPLE, "n")
        with pytest.raises(ProtocolError):
            p.parse_settings("n:1077:abc:100:100", "n")

    def test_number_and_integer_bounds(self) -> None:
        block = p.parse_settings("z:400:2", "z")
        with pytest.raises(ProtocolError):
            block.integer(3)


class TestUnitScales:
    SCALED = [("u", p.U_STEP_SIZE, 2.57, 257), ("e", p.E_COEFFICIENT, -2.5, -250), ("n", p.N_AREF_COEFFICIENT, 1.077, 1077),
              ("n", p.N_OVER_VOLTAGE, 14.0, 140), ("n", p.N_OVER_CURRENT, 10.0, 100)]  # fmt: skip

    @pytest.mark.parametrize(("letter", "index", "shown", "held"), SCALED)
    def test_each_scale_encodes_and_decodes(self, letter: str, index: int, shown: float, held: int) -> None:
        assert p.encode_setting(letter, index, shown) == held
        assert p.decode_setting(letter, index, held) == pytest.approx(shown)

    def test_unscaled_fields_are_plain_whole_numbers(self) -> None:
        assert p.encode_setting("u", p.U_SPEED, 219.6) == 220
        assert p.encode_setting("n", p.N_OVER_TIME, 100) == 100
        assert p.decode_setting("z", p.Z_CURRENT, 400) == 400

    def test_the_typed_views_decode_with_the_same_scales(self) -> None:
        block = p.parse_settings("n:1077:140:100:100", "n")
        settings = p.DeviceSettings.from_block(block)
        assert (settings.aref_coefficient, settings.over_voltage, settings.over_current) == (1.077, 14.0, 10.0)
        assert block.value(p.N_OVER_VOLTAGE) == 14.0
        assert p.CompensationSettings.from_block(p.parse_settings("e:30:-250:0:1:15", "e")).coefficient == -2.5

    @settings(deadline=None)
    @given(st.floats(-300.0, 300.0))
    def test_a_written_value_reads_back_within_half_a_step(self, value: float) -> None:
        for letter, index, _, _ in self.SCALED:
            step = 1 / p.SETTING_SCALES[(letter, index)]
            assert abs(p.decode_setting(letter, index, p.encode_setting(letter, index, value)) - value) <= step / 2 + 1e-9


class TestReadModifyWrite:
    def test_enable_reverse_matches_the_reference(self) -> None:
        block = p.parse_settings(U_SAMPLE, "u").with_values({p.U_REVERSED: 1})
        assert block.write_command() == "U:25000:220:0:100:440:1:0:1:257:0:0:0:0:0:1:0:0:"

    def test_unchanged_block_writes_back_as_read(self) -> None:
        assert p.parse_settings(U_SAMPLE, "u").write_command() == "U:" + U_SAMPLE[2:] + ":"

    def test_focuser_settings_trace(self) -> None:
        u = p.parse_settings(U_SAMPLE, "u").with_values(
            {p.U_MAX_POSITION: 30000, p.U_SPEED: 300, p.U_ACCELERATION: 600, p.U_REVERSED: 1, p.U_STEP_SIZE: p.encode_setting("u", p.U_STEP_SIZE, 3.5)}
        )
        assert u.write_command() == "U:30000:300:0:100:600:1:0:1:350:0:0:0:0:0:1:0:0:"
        e = p.parse_settings(E_SAMPLE, "e").with_values(
            {p.E_CYCLE: 30, p.E_COEFFICIENT: p.encode_setting("e", p.E_COEFFICIENT, -2.5), p.E_SENSOR: 0, p.E_THRESHOLD: 15}
        )
        assert e.write_command() == "E:30:-250:0:0:15:"
        assert e.with_values({p.E_AUTO: 1}).write_command() == "E:30:-250:0:1:15:"

    def test_other_settings_trace(self) -> None:
        n = p.parse_settings(N_SAMPLE, "n").with_values(
            {p.N_AREF_COEFFICIENT: p.encode_setting("n", p.N_AREF_COEFFICIENT, 1.1), p.N_OVER_VOLTAGE: p.encode_setting("n", p.N_OVER_VOLTAGE, 13.5),
             p.N_OVER_CURRENT: p.encode_setting("n", p.N_OVER_CURRENT, 8.5), p.N_OVER_TIME: 200}  # fmt: skip
        )
        assert n.write_command() == "N:1100:135:85:200:"

    def test_small_blocks(self) -> None:
        assert p.parse_settings("j:0", "j").with_values({1: 1}).write_command() == "J:1:"
        assert p.parse_settings("f:1", "f").with_values({1: 0}).write_command() == "F:0"
        z = p.parse_settings("z:400:2", "z").with_values({p.Z_CURRENT: 800})
        assert z.write_command() == "Z:800:2:"
        assert z.with_values({p.Z_HOLD: p.Z_HOLD_OFF}).write_command() == "Z:800:3:"

    def test_with_values_changes_only_the_named_fields(self) -> None:
        block = p.parse_settings(U_SAMPLE, "u")
        changed = block.with_values({p.U_STEPPER_MODE: 2})
        assert block.fields == tuple(U_SAMPLE.split(":")[1:])  # the original is untouched
        diff = [i for i, (a, b) in enumerate(zip(block.fields, changed.fields), 1) if a != b]
        assert diff == [p.U_STEPPER_MODE]
        assert changed.fields[p.U_STEPPER_MODE - 1] == "2"

    def test_unknown_extra_fields_are_kept(self) -> None:
        z = p.parse_settings("z:400:2:7:19", "z")
        assert z.fields == ("400", "2", "7", "19")
        assert z.with_values({p.Z_CURRENT: 800}).write_command() == "Z:800:2:7:19:"
        u = p.parse_settings(U_SAMPLE + ":42", "u")
        assert len(u.fields) == 18
        assert u.with_values({p.U_REVERSED: 1}).write_command() == "U:25000:220:0:100:440:1:0:1:257:0:0:0:0:0:1:0:0:42:"
        # an extra field may be written too: it exists in what was read
        assert u.with_values({18: 7}).fields[-1] == "7"

    @pytest.mark.parametrize("index", [0, 3, -1])
    def test_with_values_rejects_missing_fields(self, index: int) -> None:
        with pytest.raises(ValueError):
            p.parse_settings("z:400:2", "z").with_values({index: 1})

    def test_values_are_written_as_rounded_integers(self) -> None:
        e = p.parse_settings(E_SAMPLE, "e").with_values({p.E_COEFFICIENT: 12.34 * 100, p.E_THRESHOLD: 14.6})
        assert e.write_command() == "E:30:1234:1:0:15:"

    def test_setter_reply_with_trailing_colon_parses(self) -> None:
        # The emulator and the drivers both tolerate the trailing ':' a setter writes.
        assert p.parse_settings("e:30:1200:1:0:20:", "e").fields == ("30", "1200", "1", "0", "20")


class TestTypedViews:
    def test_focuser_settings(self) -> None:
        fs = FocuserSettings.from_block(p.parse_settings(U_SAMPLE, "u"))
        assert fs == FocuserSettings(
            max_position=25000,
            speed=220,
            acceleration=440,
            reversed=False,
            stepper_mode=0,
            step_size_um=pytest.approx(2.57),
            output_defaults=(True, False, False),
        )
        reversed_ = FocuserSettings.from_block(p.parse_settings(U_SAMPLE, "u").with_values({6: 1, 7: 3, 16: 1}))
        assert reversed_.reversed is True
        assert reversed_.stepper_mode == p.StepperMode.MICRO_32.value
        assert reversed_.output_defaults == (True, True, False)

    def test_compensation_settings(self) -> None:
        cs = CompensationSettings.from_block(p.parse_settings(E_SAMPLE, "e"))
        assert (cs.cycle_s, cs.sensor, cs.auto, cs.threshold) == (30, 1, False, 20)
        assert cs.coefficient == pytest.approx(12.0)
        negative = CompensationSettings.from_block(p.parse_settings("e:30:-250:0:1:15", "e"))
        assert negative.coefficient == pytest.approx(-2.5)
        assert negative.auto is True

    def test_device_settings(self) -> None:
        ds = DeviceSettings.from_block(p.parse_settings(N_SAMPLE, "n"))
        assert ds.aref_coefficient == pytest.approx(1.077)
        assert ds.over_voltage == pytest.approx(14.0)
        assert ds.over_current == pytest.approx(10.0)
        assert ds.over_time_ms == 100

    @pytest.mark.parametrize(("code", "hold"), [("0", True), ("1", True), ("2", True), ("3", False)])
    def test_motor_settings(self, code: str, hold: bool) -> None:
        ms = MotorSettings.from_block(p.parse_settings(f"z:400:{code}", "z"))
        assert ms.current_ma == 400
        assert ms.hold is hold
