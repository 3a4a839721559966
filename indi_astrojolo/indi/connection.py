"""A device's connection: what CONNECTION_MODE, DEVICE_ADDRESS and DEVICE_PORT name, opened as a link transport.

The one module of indi/ that reaches the link's transports, as libindi's connection plugins (Connection::Serial,
Connection::TCP) are the one place its drivers open a port; the rest of indi/ knows the link only by its errors
(link/errors.py).
"""

from __future__ import annotations

from ..link.errors import TransportError
from ..link.transports import SerialTransport, Transport, open_tcp

__all__ = ["Transport", "open_address", "open_serial"]


async def open_address(host: str, port_text: str) -> Transport:
    """DEVICE_ADDRESS's host and port, checked before anything is opened."""
    host, port_text = host.strip(), port_text.strip()
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise TransportError(0, f"TCP port {port_text!r} is not a number from 1 to 65535")
    return await open_tcp(host, int(port_text))


async def open_serial(path: str, baud_rate: int) -> Transport:
    return await SerialTransport.open(path, baud_rate)
