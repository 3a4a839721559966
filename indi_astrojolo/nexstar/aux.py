"""Celestron AUX bus commands, sans-I/O: device ids, command ids, payload encoders and decoders, rate units.

Framing (3B LEN SRC DST CMD DATA CK) lives in link.framing; this module gives the packets their meaning
(reference: nexstar-aux-protocol.md §4–§7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from ..link.errors import ReplyError, Verdict
from ..link.framing import AuxPacket

STEPS_PER_TURN = 1 << 24
STEPS_PER_DEGREE = STEPS_PER_TURN / 360.0
ARCSEC_PER_STEP = 1_296_000 / STEPS_PER_TURN
RATE_UNITS_PER_ARCSEC = 1024  # 0x06/0x07 24-bit payload: arcsec/s × 1024
SIDEREAL_ARCSEC_PER_S = 15.041069
SOLAR_ARCSEC_PER_S = 15.0
LUNAR_ARCSEC_PER_S = 14.685
SPECIAL_RATE_SIDEREAL = 0xFFFF
SPECIAL_RATE_SOLAR = 0xFFFE
SPECIAL_RATE_LUNAR = 0xFFFD
NOT_SUPPORTED = 0xF0  # a reply with this command and the request's command as data: "unsupported"


class Device(IntEnum):
    ANY = 0x00
    MAIN_BOARD = 0x01
    HAND_CONTROLLER = 0x04
    HAND_CONTROLLER_PLUS = 0x0D
    STARSENSE_HC = 0x0E
    AZM = 0x10
    ALT = 0x11
    FOCUSER = 0x12
    DEW_HEATER = 0x17
    APP = 0x20
    GPS = 0xB0
    RTC = 0xB2
    WIFI_SKYPORTAL = 0xB3
    STARSENSE_CAMERA = 0xB4
    WIFI_EVOLUTION = 0xB5
    BATTERY = 0xB6
    CHARGER = 0xB7
    LIGHTS = 0xBF


DEVICE_NAMES: dict[int, str] = {  # by int: packets carry any address
    Device.MAIN_BOARD: "main board",
    Device.HAND_CONTROLLER: "hand controller",
    Device.HAND_CONTROLLER_PLUS: "NexStar+ hand controller",
    Device.STARSENSE_HC: "StarSense hand controller",
    Device.AZM: "azimuth/RA motor",
    Device.ALT: "altitude/Dec motor",
    Device.FOCUSER: "focuser",
    Device.DEW_HEATER: "dew heater",
    Device.GPS: "GPS",
    Device.RTC: "real-time clock",
    Device.WIFI_SKYPORTAL: "SkyPortal WiFi",
    Device.STARSENSE_CAMERA: "StarSense camera",
    Device.WIFI_EVOLUTION: "Evolution WiFi",
    Device.BATTERY: "battery",
    Device.CHARGER: "charger",
    Device.LIGHTS: "lights",
}

# Devices a bus scan asks for their version (motor controllers first: they are the ones that must answer).
SCAN_ORDER = (
    Device.AZM,
    Device.ALT,
    Device.MAIN_BOARD,
    Device.HAND_CONTROLLER,
    Device.HAND_CONTROLLER_PLUS,
    Device.STARSENSE_HC,
    Device.FOCUSER,
    Device.GPS,
    Device.RTC,
    Device.WIFI_SKYPORTAL,
    Device.WIFI_EVOLUTION,
    Device.BATTERY,
    Device.LIGHTS,
)


class Command(IntEnum):
    GET_POSITION = 0x01
    GOTO_FAST = 0x02
    SET_POSITION = 0x04
    GET_MODEL = 0x05
    SET_POS_GUIDERATE = 0x06
    SET_NEG_GUIDERATE = 0x07
    LEVEL_START = 0x0B
    SET_POS_BACKLASH = 0x10
    SET_NEG_BACKLASH = 0x11
    LEVEL_DONE = 0x12
    SLEW_DONE = 0x13
    GOTO_SLOW = 0x17
    AT_INDEX = 0x18
    SEEK_INDEX = 0x19
    SET_MAXRATE = 0x20
    GET_MAXRATE = 0x21
    ENABLE_MAXRATE = 0x22
    MAXRATE_ENABLED = 0x23
    MOVE_POS = 0x24
    MOVE_NEG = 0x25
    AUX_GUIDE = 0x26
    AUX_GUIDE_ACTIVE = 0x27
    ENABLE_CORDWRAP = 0x38
    DISABLE_CORDWRAP = 0x39
    SET_CORDWRAP_POS = 0x3A
    POLL_CORDWRAP = 0x3B
    GET_CORDWRAP_POS = 0x3C
    GET_POS_BACKLASH = 0x40
    GET_NEG_BACKLASH = 0x41
    SET_AUTOGUIDE_RATE = 0x46
    GET_AUTOGUIDE_RATE = 0x47
    SEND_WARNING = 0x50
    SEND_ERROR = 0x51
    GET_APPROACH = 0xFC
    SET_APPROACH = 0xFD
    GET_VERSION = 0xFE


# Commands that set what a motor controller's axis does: from another master, they overwrite what we sent.
AXIS_COMMANDS = frozenset({
    Command.GOTO_FAST, Command.GOTO_SLOW, Command.SET_POSITION, Command.SET_POS_GUIDERATE, Command.SET_NEG_GUIDERATE,
    Command.MOVE_POS, Command.MOVE_NEG, Command.AUX_GUIDE, Command.SEEK_INDEX, Command.LEVEL_START,
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class MoveRate:
    """One of the nine fixed rates of MOVE_POS/MOVE_NEG (0x24/0x25), as the hand controller's keypad numbers them."""

    level: int
    deg_per_s: float
    sidereal_multiple: int | None = None  # the slow rates are named as multiples of the sidereal rate

    @property
    def label(self) -> str:
        """What the rate does, for TELESCOPE_SLEW_RATE.

        For example "3 (8x sidereal, 0.033 deg/s)", "7 (1 deg/s)", "9 (max, up to 4 deg/s)".
        """
        if self.sidereal_multiple is not None:
            return f"{self.level} ({self.sidereal_multiple}x sidereal, {self.deg_per_s:.3f} deg/s)"
        if self.level == 9:
            return f"9 (max, up to {self.deg_per_s:g} deg/s)"
        return f"{self.level} ({self.deg_per_s:g} deg/s)"


def _sidereal_rate(level: int, multiple: int) -> MoveRate:
    return MoveRate(level, multiple * SIDEREAL_ARCSEC_PER_S / 3600.0, multiple)


# The one table of the fixed move rates (reference §5.3, the hand-controller manual): the labels of
# TELESCOPE_SLEW_RATE, the limit margins of manual moves and the emulator's default speeds all come from it. Some
# controllers were measured slower (the INDIGO/AVX progression, half these speeds or less), none faster, so these are
# also the upper bounds a margin needs. Rate 9 is the controller's maximum (custom rate 9, 0x20): 4 °/s at most here
# (3 °/s on GT models, 2.8 °/s measured on the seed's mount).
MOVE_RATES = (
    _sidereal_rate(1, 2),
    _sidereal_rate(2, 4),
    _sidereal_rate(3, 8),
    _sidereal_rate(4, 16),
    _sidereal_rate(5, 32),
    MoveRate(6, 0.5),
    MoveRate(7, 1.0),
    MoveRate(8, 2.0),
    MoveRate(9, 4.0),
)


class FocuserCommand(IntEnum):
    """Commands only the focuser (0x12) knows; it also takes GET_POSITION, GOTO_FAST, SLEW_DONE, MOVE_POS/NEG and
    GET_VERSION like a motor controller (reference §7.3)."""

    CALIBRATION_ENABLE = 0x2A  # 1 B: CALIBRATION_START or CALIBRATION_STOP
    CALIBRATION_STATUS = 0x2B  # 2 B: done flag, stage (0–12; 0 with done 0 means stopped or never run)
    GET_HARD_STOPS = 0x2C  # 8 B: low and high hard-stop positions, big-endian 32-bit each


# What the programs that calibrate a Celestron focuser send (INDI's celestron.cpp, the LAST project's driver, a
# TheSkyX plugin); a comment in INDI's auxproto.h says the reverse, and the reference table copied that comment.
CALIBRATION_START = b"\x01"
CALIBRATION_STOP = b"\x00"
CALIBRATION_STAGES = 12  # CALIBRATION_STATUS's stage counts up to this while the calibration runs


class GpsCommand(IntEnum):
    GET_LAT = 0x01
    GET_LONG = 0x02
    GET_DATE = 0x03
    GET_YEAR = 0x04
    GET_TIME = 0x33
    TIME_VALID = 0x36
    LINKED = 0x37


# --- encoders ------------------------------------------------------------------------------------------------------


def request(dst: int, cmd: int, data: bytes = b"", src: int = Device.APP) -> AuxPacket:
    return AuxPacket(src, dst, cmd, data)


def encode_position(steps: int) -> bytes:
    """A 24-bit fraction of a turn, big-endian; any integer is taken modulo one turn."""
    return (steps % STEPS_PER_TURN).to_bytes(3, "big")


def decode_position(data: bytes, *, signed: bool = False) -> int:
    if len(data) == 2:  # old firmware answers with the upper 16 bits
        data = data + b"\x00"
    if len(data) != 3:
        raise ReplyError(f"a position has 3 bytes, got {len(data)}")
    value = int.from_bytes(data, "big")
    if signed and value >= STEPS_PER_TURN // 2:
        value -= STEPS_PER_TURN
    return value


def encode_rate(arcsec_per_s: float) -> tuple[int, bytes]:
    """The command (positive or negative guide rate) and 24-bit payload for a signed axis rate."""
    units = int(round(abs(arcsec_per_s) * RATE_UNITS_PER_ARCSEC))
    if units >= 1 << 24:
        raise ValueError(f"rate {arcsec_per_s:.1f}\"/s is beyond the motor's range")
    cmd = Command.SET_POS_GUIDERATE if arcsec_per_s >= 0 else Command.SET_NEG_GUIDERATE
    return cmd, units.to_bytes(3, "big")


def decode_rate(data: bytes) -> float:
    """Arcsec/s of a 0x06/0x07 payload (magnitude); the special 2-byte values map to their named rates."""
    if len(data) == 2:
        value = int.from_bytes(data, "big")
        special = {
            SPECIAL_RATE_SIDEREAL: SIDEREAL_ARCSEC_PER_S,
            SPECIAL_RATE_SOLAR: SOLAR_ARCSEC_PER_S,
            SPECIAL_RATE_LUNAR: LUNAR_ARCSEC_PER_S,
        }
        return special.get(value, value / 4.0)
    if len(data) == 3:
        return int.from_bytes(data, "big") / RATE_UNITS_PER_ARCSEC
    raise ReplyError(f"a rate has 2 or 3 bytes, got {len(data)}")


def encode_guide_pulse(percent_of_sidereal: int, milliseconds: int) -> bytes:
    if not -100 <= percent_of_sidereal <= 100:
        raise ValueError("guide pulse rate must be -100…100 % of sidereal")
    if not 0 <= milliseconds <= 2550:
        raise ValueError("one controller-timed guide pulse lasts at most 2550 ms")
    return bytes([percent_of_sidereal & 0xFF, int(round(milliseconds / 10))])


@dataclass(frozen=True, slots=True)
class Version:
    major: int
    minor: int
    build: int | None = None

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}" + (f".{self.build}" if self.build is not None else "")


def decode_version(data: bytes) -> Version:
    if len(data) == 2:
        return Version(data[0], data[1])
    if len(data) == 4:
        return Version(data[0], data[1], int.from_bytes(data[2:4], "big"))
    raise ReplyError(f"a version has 2 or 4 bytes, got {len(data)}")


MODELS = {
    1: "NexStar GPS", 3: "NexStar i-Series", 4: "NexStar i-Series SE", 5: "CGE", 6: "Advanced GT", 7: "SLT",
    8: "Legend", 9: "CPC", 10: "NexStar GT", 11: "NexStar 4/5 SE", 12: "NexStar 6/8 SE", 13: "CGE Pro",
    14: "CGEM", 15: "LCM", 16: "SkyProdigy", 17: "CPC Deluxe", 18: "NexStar GT", 19: "StarSeeker", 20: "AVX",
    21: "Cosmos", 22: "Evolution", 23: "CGX", 24: "CGX-L", 25: "AstroFi",
}  # fmt: skip
GERMAN_EQUATORIAL_MODELS = frozenset({5, 6, 13, 14, 20, 23, 24})


def decode_model(data: bytes) -> tuple[int, str]:
    if not data:
        raise ReplyError("a model reply has at least 1 byte")
    number = data[0]
    return number, MODELS.get(number, f"unknown model {number}")


def encode_hard_stops(low: int, high: int) -> bytes:
    return low.to_bytes(4, "big", signed=True) + high.to_bytes(4, "big", signed=True)


def decode_hard_stops(data: bytes) -> tuple[int, int]:
    """The focuser's (low, high) hard-stop positions from a GET_HARD_STOPS reply."""
    if len(data) != 8:
        raise ReplyError(f"the focuser's hard stops come in 8 bytes, got {len(data)}")
    return int.from_bytes(data[:4], "big", signed=True), int.from_bytes(data[4:], "big", signed=True)


@dataclass(frozen=True, slots=True)
class CalibrationStatus:
    done: bool
    stage: int

    @property
    def running(self) -> bool:
        return not self.done and self.stage != 0


def decode_calibration_status(data: bytes) -> CalibrationStatus:
    if len(data) != 2:
        raise ReplyError(f"a calibration status has 2 bytes, got {len(data)}")
    return CalibrationStatus(data[0] != 0, data[1])


def decode_flag(data: bytes) -> bool:
    """A one-byte status (SLEW_DONE, AT_INDEX …): 0x00 means no / still busy, anything else yes."""
    if len(data) != 1:
        raise ReplyError(f"a status flag has 1 byte, got {len(data)}")
    return data[0] != 0


# --- hand-controller passthrough ('P') --------------------------------------------------------------------------

PASSTHROUGH = 0x50  # 'P': the HC relays one AUX request and returns the reply data
HASH = 0x23  # '#': ends every HC reply
PASSTHROUGH_FRAME_LEN = 8
PASSTHROUGH_MAX_DATA = 3


def encode_passthrough(packet: AuxPacket, response_bytes: int) -> bytes:
    """The 8-byte HC frame ``50 n DST CMD d1 d2 d3 r`` relaying `packet` (reference §1.4).

    The HC puts its own id in as the source, so `packet.src` is not sent. `n` counts CMD plus the data bytes; unused
    data bytes must be zero; `r` is the number of reply data bytes the HC is to return.
    """
    if len(packet.data) > PASSTHROUGH_MAX_DATA:
        raise ValueError(f"a passthrough frame carries at most 3 data bytes, got {len(packet.data)}")
    if not 0 <= response_bytes <= 0xFF:
        raise ValueError(f"response_bytes out of range: {response_bytes}")
    if not (0 <= packet.dst <= 0xFF and 0 <= packet.cmd <= 0xFF):
        raise ValueError(f"device and command must be bytes: {packet.dst:#x} {packet.cmd:#x}")
    data = bytes(packet.data).ljust(PASSTHROUGH_MAX_DATA, b"\x00")
    return bytes([PASSTHROUGH, 1 + len(packet.data), packet.dst, packet.cmd]) + data + bytes([response_bytes])


# Reply data sizes by command (reference §5.1, §7.1, §10.13). Commands not listed are set commands answered with an
# empty ACK. The GPS reuses low command numbers with other meanings, hence the separate table.
_MOTOR_REPLY_SIZES: dict[int, int] = {  # keyed by int: a relayed command is any byte
    Command.GET_POSITION: 3,
    Command.GET_CORDWRAP_POS: 3,
    Command.GET_VERSION: 4,
    Command.GET_MODEL: 2,
    Command.SLEW_DONE: 1,
    Command.AT_INDEX: 1,
    Command.LEVEL_DONE: 1,
    Command.POLL_CORDWRAP: 1,
    Command.AUX_GUIDE_ACTIVE: 1,
    Command.GET_AUTOGUIDE_RATE: 1,
    Command.GET_APPROACH: 1,
    Command.GET_POS_BACKLASH: 1,
    Command.GET_NEG_BACKLASH: 1,
    Command.GET_MAXRATE: 4,
    Command.MAXRATE_ENABLED: 1,
}
_GPS_REPLY_SIZES: dict[int, int] = {
    Command.GET_VERSION: 2,
    GpsCommand.LINKED: 1,
    GpsCommand.TIME_VALID: 1,
    GpsCommand.GET_LAT: 3,
    GpsCommand.GET_LONG: 3,
    GpsCommand.GET_DATE: 2,
    GpsCommand.GET_YEAR: 2,
    GpsCommand.GET_TIME: 3,
}
_FOCUSER_REPLY_SIZES: dict[int, int] = {FocuserCommand.GET_HARD_STOPS: 8, FocuserCommand.CALIBRATION_STATUS: 2}


def passthrough_response_size(dst: int, cmd: int) -> int:
    """How many reply data bytes to ask the HC for when relaying `cmd` to `dst` (0 for set commands)."""
    if dst == Device.GPS:
        return _GPS_REPLY_SIZES.get(cmd, 0)
    if dst == Device.FOCUSER and cmd in _FOCUSER_REPLY_SIZES:
        return _FOCUSER_REPLY_SIZES[cmd]
    if dst in (Device.AZM, Device.ALT, Device.FOCUSER):
        return _MOTOR_REPLY_SIZES.get(cmd, 0)
    # Other devices are only ever asked for their version; the HC pads a 2-byte answer.
    return 4 if cmd == Command.GET_VERSION else 0


# --- replies -------------------------------------------------------------------------------------------------------


def reply_matcher(sent: AuxPacket) -> Callable[[AuxPacket], Verdict]:
    """The reply comes from the addressed device, to us, with the same command; an F0 NAK says 'unsupported'."""

    def match(packet: AuxPacket) -> Verdict:
        if packet.src != sent.dst or packet.dst != sent.src:
            return Verdict.IGNORE
        if packet.cmd == sent.cmd:
            return Verdict.ACCEPT
        if packet.cmd == NOT_SUPPORTED and packet.data == bytes([sent.cmd]):
            return Verdict.REJECT
        return Verdict.IGNORE

    return match


def render(data: bytes) -> str:
    return data.hex(" ")
