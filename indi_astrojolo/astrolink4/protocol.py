"""The AstroLink 4 serial protocol, sans-I/O: commands as text, replies parsed into dataclasses.

ASCII lines ending in LF; fields separated by ':'; every reply starts with the letter of its command. Settings are
written read-modify-write: the whole block as read, with some fields changed and every unknown field kept, ending in
':'. Each field index below is written once and used everywhere (reference: astrolink4-protocol.md §4).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum

from ..link.errors import ReplyError, Verdict
from ..link.framing import Line

ID_PREFIX = "#:AstroLink4"
BAUD_USB = 38400
BAUD_MINI = 115200
PWM_AUTO = 255

# --- q: status line ---------------------------------------------------------------------------------------------
Q_POSITION = 1
Q_TO_GO = 2
Q_CURRENT = 3
Q_SENSOR1_PRESENT = 4
Q_SENSOR1_TEMPERATURE = 5
Q_SENSOR1_HUMIDITY = 6
Q_SENSOR1_DEW_POINT = 7
Q_SENSOR2_PRESENT = 8
Q_SENSOR2_TEMPERATURE = 9
Q_PWM_A = 10
Q_PWM_B = 11
Q_OUTPUT_1 = 12  # outputs 2 and 3 follow
Q_INPUT_VOLTAGE = 15
Q_REGULATED_VOLTAGE = 16
Q_AMP_HOURS = 17
Q_WATT_HOURS = 18
Q_DC_MOTOR_MOVING = 19
Q_COMPENSATION_PENDING = 20
Q_PROTECTION_FLAG = 21
Q_PROTECTION_VALUE = 22
Q_SKY_PRESENT = 23
Q_SKY_TEMPERATURE = 24
Q_SKY_AMBIENT = 25
Q_EXT_SENSOR2_PRESENT = 26
Q_EXT_SENSOR2_TEMPERATURE = 27
Q_EXT_SENSOR2_HUMIDITY = 28
Q_EXT_SENSOR2_DEW_POINT = 29
Q_SKY_BRIGHTNESS_PRESENT = 30
Q_SKY_BRIGHTNESS = 31

Q_SHORT_MAX_ELEMENTS = 5  # firmware may cut the line to position/to-go/current while moving

# A sensor whose present flag is set can still be gone: the flag may lag an unplugged sensor, and the firmware fills
# the fields of a sensor it cannot read. These readings are fillers, never measurements (reference §4.2, §6):
SKY_FILLER_FROM = 1000.0  # °C; an absent MLX sky sensor reads 1037.50 (raw 0xFFFF x 0.02 - 273.15)
PLAUSIBLE_AIR_TEMPERATURE = (-60.0, 85.0)  # °C; a DS18B20-type probe reads -127 (and 85 at reset) when it fails
PLAUSIBLE_SKY_TEMPERATURE = (-100.0, 100.0)
PLAUSIBLE_HUMIDITY = (0.0, 105.0)  # %; a little over 100 is a saturated sensor, not a failed one
PLAUSIBLE_SKY_BRIGHTNESS = (0.01, 30.0)  # mag/arcsec²; an absent sensor reads 0.00

# --- u/U: general and focuser settings (17 values) --------------------------------------------------------------
U_MAX_POSITION = 1
U_SPEED = 2
U_PWM_STOP = 3
U_PWM_RUN = 4
U_ACCELERATION = 5
U_REVERSED = 6
U_STEPPER_MODE = 7
U_COMPENSATION_SENSOR = 8
U_STEP_SIZE = 9  # 0.01 µm
U_PWM_PRESCALER = 10
U_STEP_PRESCALER = 11
U_BUZZER = 12
U_HUMIDITY_SENSOR = 13
U_DC_REVERSED = 14
U_OUTPUT_1_DEFAULT = 15  # outputs 2 and 3 follow
U_FIELDS = 17

# --- e/E: temperature compensation (5 values) -------------------------------------------------------------------
E_CYCLE = 1  # seconds
E_COEFFICIENT = 2  # 0.01 steps/°C
E_SENSOR = 3
E_AUTO = 4
E_THRESHOLD = 5  # steps
E_FIELDS = 5

# --- n/N: device and protection settings (4 values) ---------------------------------------------------------------
N_AREF_COEFFICIENT = 1  # × 1000
N_OVER_VOLTAGE = 2  # V × 10
N_OVER_CURRENT = 3  # A × 10
N_OVER_TIME = 4  # ms
N_FIELDS = 4

# --- z/Z: stepper current and holding (USB only) -----------------------------------------------------------------
Z_CURRENT = 1  # mA
Z_HOLD = 2  # 3 = off, < 3 = on; the drivers write 2 for on
Z_HOLD_ON = 2
Z_HOLD_OFF = 3
Z_FIELDS = 2

SETTINGS_FIELDS = {"u": U_FIELDS, "e": E_FIELDS, "n": N_FIELDS, "j": 1, "f": 1, "z": Z_FIELDS}

# The device holds every setting as a whole number; these hold a fraction of the unit shown to users. Each scale is
# written here once and both ways: decoded by the typed views below, encoded by encode_setting for every writer
# (the parts, the factory reset, the emulator).
SETTING_SCALES: dict[tuple[str, int], int] = {
    ("u", U_STEP_SIZE): 100,  # µm, held in 0.01 µm
    ("e", E_COEFFICIENT): 100,  # steps/°C, held in 0.01 steps/°C
    ("n", N_AREF_COEFFICIENT): 1000,  # held × 1000
    ("n", N_OVER_VOLTAGE): 10,  # V, held in 0.1 V
    ("n", N_OVER_CURRENT): 10,  # A, held in 0.1 A
}


def encode_setting(letter: str, index: int, value: float) -> int:
    """A setting in the unit shown (µm, steps/°C, V, A, or a plain count) as the whole number the device holds."""
    return round(value * SETTING_SCALES.get((letter, index), 1))


def decode_setting(letter: str, index: int, raw: float) -> float:
    """The number the device holds for a setting, in the unit shown: encode_setting's inverse."""
    return raw / SETTING_SCALES.get((letter, index), 1)


class ProtocolError(ReplyError):
    """An AstroLink reply that does not have the form the protocol gives it."""


class Layout(Enum):
    MINI = 23  # elements of the q line, the letter included
    USB = 32

    @property
    def model(self) -> str:
        return "AstroLink 4 mini" if self is Layout.MINI else "AstroLink 4 USB"


class StepperMode(Enum):
    UNIPOLAR = 0
    BIPOLAR = 1
    MICRO_8 = 2  # the mini calls mode 2 plain "microstep"
    MICRO_32 = 3  # USB only


# --- commands -----------------------------------------------------------------------------------------------------


def handshake() -> str:
    return "#"


def status() -> str:
    return "q"


def read_settings(letter: str) -> str:
    if letter not in SETTINGS_FIELDS:
        raise ValueError(f"no settings block {letter!r}")
    return letter


def move_to(position: int) -> str:
    if position < 0:
        raise ValueError(f"focuser position {position} is negative")
    return f"R:0:{int(position)}"


def sync_position(position: int) -> str:
    if position < 0:
        raise ValueError(f"focuser position {position} is negative")
    return f"P:0:{int(position)}"


def halt() -> str:
    return "H"


def set_output(index: int, on: bool) -> str:
    if index not in (0, 1, 2):
        raise ValueError(f"no output {index}")
    return f"C:{index}:{1 if on else 0}"


def set_pwm(index: int, duty: int) -> str:
    """Duty 0…100 %, or PWM_AUTO for the device's automatic dew-heater mode."""
    if index not in (0, 1):
        raise ValueError(f"no PWM output {index}")
    if not (0 <= duty <= 100 or duty == PWM_AUTO):
        raise ValueError(f"PWM duty {duty} is not 0…100 or {PWM_AUTO}")
    return f"B:{index}:{int(duty)}"


def compensate_now(steps: int) -> str:
    # The firmware reads the argument as a byte; what it does with it is undocumented, so keep it in range.
    return f"S:{max(0, min(255, int(steps)))}"


def set_manual_controller(on: bool) -> str:
    return f"F:{1 if on else 0}"


def run_dc_focuser(inward: bool, pwm: int, milliseconds: int) -> str:
    if not 10 <= pwm <= 100 or not 10 <= milliseconds <= 5000:
        raise ValueError("DC focuser PWM must be 10…100 % and time 10…5000 ms")
    return f"G:{1 if inward else 0}:{int(pwm)}:{int(milliseconds)}"


def stop_dc_focuser() -> str:
    return "K"


def reply_matcher(command: str) -> Callable[[Line], Verdict]:
    """A reply is the line that starts with the command's letter; anything else is someone else's or stale."""
    letter = command[0]

    def match(line: Line) -> Verdict:
        text = line.text
        if text == letter or text.startswith(letter + ":"):
            return Verdict.ACCEPT
        return Verdict.IGNORE

    return match


# --- replies ------------------------------------------------------------------------------------------------------


def parse_identity(text: str) -> str:
    if not text.startswith(ID_PREFIX):
        raise ProtocolError(f"not an AstroLink 4 identification: {text[:40]!r}")
    return text[2:].strip()


def _split(text: str, letter: str) -> list[str]:
    text = text.strip()
    if not text.startswith(letter + ":") and text != letter:
        raise ProtocolError(f"reply {text[:40]!r} does not answer {letter!r}")
    fields = text.split(":")
    if fields and fields[-1] == "":
        fields.pop()  # a trailing ':' as written by setters
    return fields


def _float(fields: list[str], index: int, what: str) -> float:
    """The field as a float (nan and infinity included); ProtocolError when it is missing or no number at all."""
    try:
        return float(fields[index])
    except (IndexError, ValueError):
        raise ProtocolError(
            f"field {index} ({what}) is {fields[index] if index < len(fields) else 'missing'!r}"
        ) from None


def _number(fields: list[str], index: int, what: str) -> float:
    value = _float(fields, index, what)
    if not math.isfinite(value):
        raise ProtocolError(f"field {index} ({what}) is not finite")
    return value


def _reading(fields: list[str], index: int, what: str, plausible: tuple[float, float]) -> float | None:
    """A sensor field: its value, or None for a filler (nan, or outside what the sensor can measure). Text that is
    no number at all is still a ProtocolError: that is a garbled line, not a sensor."""
    value = _float(fields, index, what)
    low, high = plausible
    if not math.isfinite(value) or not low <= value <= high or value >= SKY_FILLER_FROM:
        return None
    return value


def _integer(fields: list[str], index: int, what: str) -> int:
    value = _number(fields, index, what)
    if value != int(value):
        raise ProtocolError(f"field {index} ({what}) is not an integer: {fields[index]!r}")
    return int(value)


@dataclass(frozen=True, slots=True)
class Climate:
    temperature: float
    humidity: float
    dew_point: float


@dataclass(frozen=True, slots=True)
class SkySensor:
    sky_temperature: float
    ambient_temperature: float

    @property
    def sky_minus_ambient(self) -> float:
        """Negative under a clear sky (the sky is colder than the air)."""
        return self.sky_temperature - self.ambient_temperature


@dataclass(frozen=True, slots=True)
class ProtectionTrip:
    kind: str  # "over-voltage" or "over-current"
    value: float


@dataclass(frozen=True, slots=True)
class Status:
    layout: Layout | None  # None for a short line sent while moving
    position: int
    steps_to_go: int
    current: float
    sensor1: Climate | None = None
    sensor2_temperature: float | None = None  # the mini's temperature probe
    sensor2: Climate | None = None  # the USB's extended sensor 2
    pwm: tuple[int, int] | None = None
    outputs: tuple[bool, bool, bool] | None = None
    input_voltage: float | None = None
    regulated_voltage: float | None = None
    amp_hours: float | None = None
    watt_hours: float | None = None
    dc_motor_moving: bool | None = None
    compensation_pending: int | None = None
    protection: ProtectionTrip | None = None
    sky: SkySensor | None = None
    sky_brightness: float | None = None

    @property
    def complete(self) -> bool:
        return self.layout is not None

    @property
    def moving(self) -> bool:
        return self.steps_to_go != 0


def detect_layout(text: str) -> Layout:
    count = len(_split(text, "q"))
    for layout in Layout:
        if count == layout.value:
            return layout
    raise ProtocolError(
        f"status line has {count} elements; expected {Layout.MINI.value} (mini) or {Layout.USB.value} (USB)"
    )


def parse_status(text: str, layout: Layout) -> Status:
    """Parse a q line. A line of at most 5 elements is the short form some firmware sends while moving."""
    fields = _split(text, "q")
    if len(fields) <= Q_SHORT_MAX_ELEMENTS:
        if len(fields) < 4:
            raise ProtocolError(f"status line too short ({len(fields)} elements)")
        return Status(
            None,
            _integer(fields, Q_POSITION, "position"),
            _integer(fields, Q_TO_GO, "steps to go"),
            _number(fields, Q_CURRENT, "current"),
        )
    if len(fields) != layout.value:
        raise ProtocolError(f"status line has {len(fields)} elements, the {layout.model} sends {layout.value}")

    def climate(present: int, first: int, which: str = "") -> Climate | None:
        if _integer(fields, present, f"{which or 'sensor '}present") <= 0:
            return None
        temperature = _reading(fields, first, f"{which}temperature", PLAUSIBLE_AIR_TEMPERATURE)
        humidity = _reading(fields, first + 1, f"{which}humidity", PLAUSIBLE_HUMIDITY)
        dew = _reading(fields, first + 2, f"{which}dew point", PLAUSIBLE_AIR_TEMPERATURE)
        if temperature is None or humidity is None or dew is None:
            return None
        if temperature == humidity == dew == 0.0:
            return None  # the all-zero filler of a sensor the device cannot read (0 % humidity is no air on Earth)
        return Climate(temperature, humidity, dew)

    # The flag is parsed as a number like every other field: a garbled flag ("x", "1.5") used to read as an
    # over-current trip instead of a ProtocolError. An empty flag still means no trip.
    flag = 0 if fields[Q_PROTECTION_FLAG].strip() == "" else _integer(fields, Q_PROTECTION_FLAG, "protection flag")
    protection = None
    if flag != 0:
        kind = "over-voltage" if flag == 1 else "over-current"
        protection = ProtectionTrip(kind, _number(fields, Q_PROTECTION_VALUE, "protection value"))

    def output_on(index: int) -> bool:
        return _number(fields, Q_OUTPUT_1 + index, f"output {index + 1}") > 0

    common = Status(  # the fields both models send; each model's own are filled in below
        layout=layout,
        position=_integer(fields, Q_POSITION, "position"),
        steps_to_go=_integer(fields, Q_TO_GO, "steps to go"),
        current=_number(fields, Q_CURRENT, "current"),
        sensor1=climate(Q_SENSOR1_PRESENT, Q_SENSOR1_TEMPERATURE),
        pwm=(_integer(fields, Q_PWM_A, "PWM A"), _integer(fields, Q_PWM_B, "PWM B")),
        outputs=(output_on(0), output_on(1), output_on(2)),
        input_voltage=_number(fields, Q_INPUT_VOLTAGE, "input voltage"),
        amp_hours=_number(fields, Q_AMP_HOURS, "Ah"),
        watt_hours=_number(fields, Q_WATT_HOURS, "Wh"),
        compensation_pending=_integer(fields, Q_COMPENSATION_PENDING, "pending compensation"),
        protection=protection,
    )
    if layout is Layout.MINI:
        probe = None
        if _integer(fields, Q_SENSOR2_PRESENT, "sensor 2 present") > 0:
            probe = _reading(fields, Q_SENSOR2_TEMPERATURE, "sensor 2 temperature", PLAUSIBLE_AIR_TEMPERATURE)
        return replace(
            common,
            sensor2_temperature=probe,
            regulated_voltage=_number(fields, Q_REGULATED_VOLTAGE, "regulated voltage"),
            dc_motor_moving=_number(fields, Q_DC_MOTOR_MOVING, "DC motor") > 0,
        )
    sky = None
    if _integer(fields, Q_SKY_PRESENT, "sky sensor present") > 0:
        sky_temperature = _reading(fields, Q_SKY_TEMPERATURE, "sky temperature", PLAUSIBLE_SKY_TEMPERATURE)
        sky_ambient = _reading(fields, Q_SKY_AMBIENT, "sky ambient", PLAUSIBLE_SKY_TEMPERATURE)
        if sky_temperature is not None and sky_ambient is not None:
            sky = SkySensor(sky_temperature, sky_ambient)
    # The C++ USB driver, used with real units, gates the extended sensor 2 (fields 27-29) by field 8; field 26 is
    # only inferred to be its presence flag, so it is not trusted to hide a sensor.
    sensor2 = climate(Q_SENSOR2_PRESENT, Q_EXT_SENSOR2_TEMPERATURE, "sensor 2 ")
    brightness = None
    if _integer(fields, Q_SKY_BRIGHTNESS_PRESENT, "sky brightness present") > 0:
        brightness = _reading(fields, Q_SKY_BRIGHTNESS, "sky brightness", PLAUSIBLE_SKY_BRIGHTNESS)
    return replace(common, sensor2=sensor2, sky=sky, sky_brightness=brightness)


@dataclass(frozen=True, slots=True)
class SettingsBlock:
    """A settings reply as read (fields without the letter), ready for read-modify-write."""

    letter: str
    fields: tuple[str, ...]

    def number(self, index: int) -> float:
        return _number(["", *self.fields], index, f"{self.letter}[{index}]")

    def integer(self, index: int) -> int:
        return _integer(["", *self.fields], index, f"{self.letter}[{index}]")

    def value(self, index: int) -> float:
        """A field in the unit shown (decode_setting of what the device holds)."""
        return decode_setting(self.letter, index, self.number(index))

    def with_values(self, changes: Mapping[int, int | float]) -> SettingsBlock:
        fields = list(self.fields)
        for index, value in changes.items():
            if not 1 <= index <= len(fields):
                raise ValueError(f"{self.letter} has no field {index}")
            fields[index - 1] = str(int(round(value)))  # the device takes integers only
        return SettingsBlock(self.letter, tuple(fields))

    def write_command(self) -> str:
        """The setter: upper-case letter, every field, each followed by ':' (F is the exception: no colon)."""
        if self.letter == "f":
            return f"F:{self.fields[0]}"
        return self.letter.upper() + ":" + "".join(f"{field}:" for field in self.fields)


def parse_settings(text: str, letter: str) -> SettingsBlock:
    fields = _split(text, letter)[1:]
    expected = SETTINGS_FIELDS[letter]
    if len(fields) < expected:
        raise ProtocolError(f"{letter!r} reply has {len(fields)} fields, expected {expected}: {text[:60]!r}")
    block = SettingsBlock(letter, tuple(field.strip() for field in fields))
    for index in range(1, expected + 1):
        block.number(index)  # every documented field is numeric
    return block


def setter_matcher(command: str) -> Callable[[Line], Verdict]:
    return reply_matcher(command)


# --- typed views of the settings blocks ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FocuserSettings:
    max_position: int
    speed: int
    acceleration: int
    reversed: bool
    stepper_mode: int
    step_size_um: float
    output_defaults: tuple[bool, bool, bool]

    @classmethod
    def from_block(cls, block: SettingsBlock) -> FocuserSettings:
        return cls(
            max_position=block.integer(U_MAX_POSITION),
            speed=block.integer(U_SPEED),
            acceleration=block.integer(U_ACCELERATION),
            reversed=block.integer(U_REVERSED) != 0,
            stepper_mode=block.integer(U_STEPPER_MODE),
            step_size_um=block.value(U_STEP_SIZE),
            output_defaults=(
                block.integer(U_OUTPUT_1_DEFAULT) != 0,
                block.integer(U_OUTPUT_1_DEFAULT + 1) != 0,
                block.integer(U_OUTPUT_1_DEFAULT + 2) != 0,
            ),
        )


@dataclass(frozen=True, slots=True)
class CompensationSettings:
    cycle_s: int
    coefficient: float  # steps/°C
    sensor: int
    auto: bool
    threshold: int

    @classmethod
    def from_block(cls, block: SettingsBlock) -> CompensationSettings:
        return cls(
            cycle_s=block.integer(E_CYCLE),
            coefficient=block.value(E_COEFFICIENT),
            sensor=block.integer(E_SENSOR),
            auto=block.integer(E_AUTO) != 0,
            threshold=block.integer(E_THRESHOLD),
        )


@dataclass(frozen=True, slots=True)
class DeviceSettings:
    aref_coefficient: float
    over_voltage: float
    over_current: float
    over_time_ms: int

    @classmethod
    def from_block(cls, block: SettingsBlock) -> DeviceSettings:
        return cls(
            aref_coefficient=block.value(N_AREF_COEFFICIENT),
            over_voltage=block.value(N_OVER_VOLTAGE),
            over_current=block.value(N_OVER_CURRENT),
            over_time_ms=block.integer(N_OVER_TIME),
        )


@dataclass(frozen=True, slots=True)
class MotorSettings:
    current_ma: int
    hold: bool

    @classmethod
    def from_block(cls, block: SettingsBlock) -> MotorSettings:
        return cls(current_ma=block.integer(Z_CURRENT), hold=block.integer(Z_HOLD) < Z_HOLD_OFF)
