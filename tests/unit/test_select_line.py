"""The AUX select line (RTS/CTS) of SerialTransport, on real pyserial ports.

No virtual serial device on this machine carries modem lines between two ends: a pty has none (its modem-control
ioctls fail with ENOTTY) and socat's linked ptys are ptys. So the integration tests, which all run over ptys, cover only
the fallback to no select line, and the select-line logic is checked here on pyserial's own ports: loop:// (CTS
follows RTS, as on an AUX/PC port with the handshake), socket:// (CTS always asserted), a pty (no modem lines), and a
loop:// port whose CTS stays inactive (another device holding the bus). What no test covers is a real cable's timing.
"""

from __future__ import annotations

import os
import socket

import serial
import trio
from serial.urlhandler import protocol_loop

from indi_astrojolo.link.transports import SELECT_WAIT_S, SerialTransport, _detect_select_line


def stream_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    a, b = socket.socketpair()
    return trio.SocketStream(trio.socket.from_stdlib_socket(a)), trio.SocketStream(trio.socket.from_stdlib_socket(b))


class HeldBus(protocol_loop.Serial):
    """A loop:// port whose CTS never comes: another device on the bus holds the select line."""

    @property
    def cts(self) -> bool:
        return False


async def test_a_port_whose_cts_follows_rts_has_a_select_line(autojump_clock) -> None:
    port = serial.serial_for_url("loop://", timeout=0)
    assert await _detect_select_line(port)
    assert port.rts is False  # released after the check


async def test_a_port_whose_cts_is_always_asserted_is_taken_for_one_too(autojump_clock) -> None:
    # As INDI's detectRTSCTS does: the cost on such a port is RTS raised around each write and a drain.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = serial.serial_for_url(f"socket://127.0.0.1:{server.getsockname()[1]}", timeout=0)
        try:
            assert port.cts is True
            assert await _detect_select_line(port)
        finally:
            port.close()


async def test_a_port_without_modem_lines_has_none(autojump_clock) -> None:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    try:
        transport = await SerialTransport.open(path, 19200, select_line=True)
        try:
            assert transport.select_line is False
            assert "select line" not in transport.description
            await transport.send_all(b"\x3b\x03\x20\x10\xfe\xcf")  # and the port still works
            assert os.read(master, 64) == b"\x3b\x03\x20\x10\xfe\xcf"
        finally:
            await transport.aclose()
    finally:
        os.close(master)
        os.close(slave)


async def test_rts_is_held_while_a_packet_goes_out_and_dropped_after(autojump_clock) -> None:
    port = serial.serial_for_url("loop://", timeout=0)
    port.rts = False
    driver_side, device_side = stream_pair()
    transport = SerialTransport(port, driver_side, "loop", select_line=True)
    seen: list[tuple[bytes, bool]] = []

    async def device() -> None:
        while len(b"".join(data for data, _ in seen)) < 6:
            data = await device_side.receive_some(64)
            seen.append((data, port.rts))  # the level of the line as the bytes arrive

    async with trio.open_nursery() as nursery:
        nursery.start_soon(device)
        await transport.send_all(b"\x3b\x03\x20\x10\xfe\xcf")
    assert b"".join(data for data, _ in seen) == b"\x3b\x03\x20\x10\xfe\xcf"
    assert all(level for _, level in seen)
    assert port.rts is False


async def test_a_held_bus_delays_the_packet_by_the_select_wait_then_it_goes_anyway(autojump_clock) -> None:
    port = HeldBus(None)
    port.port = "loop://"
    port.open()
    driver_side, device_side = stream_pair()
    transport = SerialTransport(port, driver_side, "held loop", select_line=True)
    started = trio.current_time()
    await transport.send_all(b"\x3b\x03\x20\x10\xfe\xcf")
    assert trio.current_time() - started >= SELECT_WAIT_S
    assert await device_side.receive_some(64) == b"\x3b\x03\x20\x10\xfe\xcf"
    assert port.rts is False
