"""Entry point of indi_nexstar_aux. Kept free of trio so the first getProperties is answered quickly."""

from __future__ import annotations

from ..indi.bootstrap import main_for
from ..indi.spec import DriverInterface, DriverSpec

SPEC = DriverSpec(
    default_name="NexStar AUX",
    exec_name="indi_nexstar_aux",
    interface=DriverInterface.TELESCOPE | DriverInterface.GUIDER,
    baud_rate="19200",
    tcp_address=("1.2.3.4", "2000"),  # the address a SkyPortal/Evolution WiFi module has in access-point mode
    pre_connection_files=("nexstar_aux_connection.xml", "nexstar_aux_alignment.xml"),
    connected_files=("nexstar_aux.xml",),
)


def _device_class() -> type:
    from .driver import NexStarDriver

    return NexStarDriver


def main() -> None:
    main_for(SPEC, _device_class)
