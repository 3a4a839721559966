"""Entry point of indi_astrolink4_usb. Kept free of trio so the first getProperties is answered quickly."""

from __future__ import annotations

from ..indi.bootstrap import main_for
from ..indi.spec import DriverInterface, DriverSpec

SPEC = DriverSpec(
    default_name="AstroLink 4 USB",
    exec_name="indi_astrolink4_usb",
    interface=DriverInterface.FOCUSER | DriverInterface.WEATHER | DriverInterface.AUX | DriverInterface.POWER,
    baud_rate="38400",
    tcp_address=("127.0.0.1", "4030"),
    connected_files=("astrolink4_usb.xml",),
)


def _device_class() -> type:
    from .driver import AstroLink4Driver

    return AstroLink4Driver


def main() -> None:
    main_for(SPEC, _device_class)
