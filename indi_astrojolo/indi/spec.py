"""What a driver is before it is connected: its identity and its pre-connection properties.

Everything here is free of trio so that a driver can answer indiserver's first getProperties while the event loop
is still being imported (indiserver routes client requests only to drivers whose device name it has seen).
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntFlag

from .. import __version__
from ..files import file_error
from . import config
from .definitions import load_vectors
from .logs import LOGGING_PROPERTIES
from .properties import PropertySet, State, SwitchMember, SwitchVector, ValidationError

log = logging.getLogger(__name__)

Report = Callable[[str, str], None]  # (level, text)

PRE_CONNECTION_FILES = ("general.xml", "connection.xml")
SERIAL_PORT_PATTERNS = ("/dev/serial/by-id/*", "/dev/ttyUSB*", "/dev/ttyACM*")


class DriverInterface(IntFlag):
    """DRIVER_INTERFACE's bits, with libindi's values (libs/indidevice/basedevice.h, enum DRIVER_INTERFACE): clients
    classify a device by them. Written here once; the drivers name the bits they have."""

    GENERAL = 0
    TELESCOPE = 1 << 0
    CCD = 1 << 1
    GUIDER = 1 << 2
    FOCUSER = 1 << 3
    FILTER = 1 << 4
    DOME = 1 << 5
    GPS = 1 << 6
    WEATHER = 1 << 7
    AO = 1 << 8
    DUSTCAP = 1 << 9
    LIGHTBOX = 1 << 10
    DETECTOR = 1 << 11
    ROTATOR = 1 << 12
    SPECTROGRAPH = 1 << 13
    CORRELATOR = 1 << 14
    AUX = 1 << 15
    OUTPUT = 1 << 16
    INPUT = 1 << 17
    POWER = 1 << 18

    def text(self) -> str:
        """As DRIVER_INFO shows it: the decimal number of the bitmask."""
        return str(int(self))


@dataclass(frozen=True)
class DriverSpec:
    default_name: str
    exec_name: str
    interface: DriverInterface
    baud_rate: str
    tcp_address: tuple[str, str]
    pre_connection_files: tuple[str, ...] = ()  # device files whose vectors exist before connecting
    connected_files: tuple[str, ...] = ()  # device files whose vectors are defined on connect
    tcp_first: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    def device_name(self) -> str:
        return os.environ.get("INDIDEV") or self.default_name


def scan_serial_ports() -> list[str]:
    ports: list[str] = []
    for pattern in SERIAL_PORT_PATTERNS:
        for path in sorted(glob.glob(pattern)):
            if path not in ports:
                ports.append(path)
    return ports


def refresh_system_ports(props: PropertySet) -> bool:
    """Rebuild SYSTEM_PORTS from the ports present now; True if the list changed."""
    ports = scan_serial_ports()
    current = props.text("DEVICE_PORT")["PORT"].value
    members = [SwitchMember(path, path, path == current) for path in ports]
    old = props.vectors.get("SYSTEM_PORTS")
    props.vectors["SYSTEM_PORTS"] = SwitchVector(
        props.device, "SYSTEM_PORTS", "System Ports", "Connection", members, rule="AtMostOne"
    )
    return old is None or list(old.members) != ports


def build_properties(spec: DriverSpec) -> PropertySet:
    """The pre-connection properties with the driver's defaults, then the user's saved values on top."""
    device = spec.device_name()
    props = PropertySet(device)
    for filename in PRE_CONNECTION_FILES + spec.pre_connection_files:
        for vector in load_vectors(filename, device):
            props.add(vector)
    for filename in spec.connected_files:
        for vector in load_vectors(filename, device):
            props.add(vector)
    info = props.text("DRIVER_INFO")
    info["DRIVER_NAME"].value = spec.default_name
    info["DRIVER_EXEC"].value = spec.exec_name
    info["DRIVER_VERSION"].value = __version__
    info["DRIVER_INTERFACE"].value = spec.interface.text()
    props.switch("DEVICE_BAUD_RATE").select(spec.baud_rate)
    address = props.text("DEVICE_ADDRESS")
    address["ADDRESS"].value, address["PORT"].value = spec.tcp_address
    if spec.tcp_first:
        props.switch("CONNECTION_MODE").select("CONNECTION_TCP")
    return props


def prepare_properties(spec: DriverSpec, report: Report | None = None) -> PropertySet:
    """Everything a driver shows before it is connected, with saved settings applied, marked as defined.

    `report(level, text)` hears about a saved config that could not be used as it is (damaged, unreadable, too
    large); it is also logged."""
    props = build_properties(spec)
    connected = set(connected_names(spec, props.device))
    apply_saved_values(props, {name for name in props.vectors if name not in connected}, report)
    refresh_system_ports(props)
    for name in props.vectors:
        if name in connected or (name == "SYSTEM_PORTS" and not props["SYSTEM_PORTS"].members):
            continue
        if name in LOGGING_PROPERTIES and not props.switch("DEBUG")["ENABLE"].on:
            continue  # as libindi's Logger: the log levels and outputs exist while DEBUG is enabled
        props.defined[name] = None
    return props


def connected_names(spec: DriverSpec, device: str) -> list[str]:
    """Properties defined while connected, in definition order."""
    return [vector.name for filename in spec.connected_files for vector in load_vectors(filename, device)]


def default_config_document(props: PropertySet) -> bytes:
    """The driver's own defaults as a config document (the .default file)."""
    return config.render(vector for vector in props.vectors.values() if vector.save)


def apply_saved_values(props: PropertySet, names: set[str] | None = None, report: Report | None = None) -> list[str]:
    """Apply saved config values to properties that only live in the driver (no device I/O).

    Returns the names applied. A damaged config must not stop a driver from starting: what can be read of it is
    applied, a copy of it is kept beside it before anything can save over it, and the damage is reported; invalid
    entries are skipped with a log line.
    """
    applied: list[str] = []

    def warn(text: str) -> None:
        log.warning("%s", text)
        if report is not None:
            report("WARNING", text)

    try:
        loaded = config.load(config.config_path(props.device))
    except config.ConfigMissing as exc:
        log.debug("no saved configuration applied: %s", exc)
        return applied
    except config.ConfigError as exc:
        warn(f"The saved configuration was not applied: {exc}")
        return applied
    if loaded.damage is not None:
        try:
            where = f"a copy of it was kept as {config.keep_damaged_copy(loaded).name}"
        except OSError as exc:
            where = f"no copy of it could be kept ({file_error(exc, 'write')}), so it will not be saved over"
        warn(f"{loaded.describe_damage()}; {where}")
    for request in loaded.requests:
        if request.name is None or request.name not in props or (names is not None and request.name not in names):
            continue
        vector = props[request.name]
        if not vector.save:
            continue
        try:
            update = vector.validate(request)
        except ValidationError as exc:
            log.warning("config entry skipped: %s", exc)
            continue
        vector.apply(update.values)
        vector.state = State.IDLE
        applied.append(vector.name)
    return applied
