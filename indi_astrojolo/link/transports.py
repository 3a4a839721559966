"""Byte streams to a device: a serial port, a TCP socket, or an in-memory pair, all as trio streams.

pyserial opens and configures a serial port; trio then waits on its file descriptor, so no thread sits on a blocking
read and nothing polls.
"""

from __future__ import annotations

import errno
import os
import socket
import termios
import tty
from dataclasses import dataclass
from typing import Protocol

import trio

from .errors import TransportError


class SerialPort(Protocol):
    """What is used of a pyserial Serial (pyserial has no type information of its own)."""

    rts: bool
    cts: bool

    def fileno(self) -> int: ...

    def reset_input_buffer(self) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class Transport(Protocol):
    description: str

    async def send_all(self, data: bytes) -> None: ...

    async def receive_some(self, max_bytes: int = 4096) -> bytes: ...

    def discard_input(self) -> None: ...

    async def aclose(self) -> None: ...


class StreamTransport:
    """Any trio stream as a device transport."""

    def __init__(self, stream: trio.abc.Stream, description: str) -> None:
        self.stream = stream
        self.description = description

    async def send_all(self, data: bytes) -> None:
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            raise TransportError(errno.EPIPE, f"{self.description}: write failed: {exc}") from None

    async def receive_some(self, max_bytes: int = 4096) -> bytes:
        try:
            # bytes() gives a bytes back as it is and copies the bytearray some trio streams return
            return bytes(await self.stream.receive_some(max_bytes))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise TransportError(errno.EIO, f"{self.description}: read failed: {exc}") from None
        except OSError as exc:
            if exc.errno == errno.EIO:  # a pty whose other side went away, a USB port unplugged
                return b""
            raise TransportError(exc.errno or errno.EIO, f"{self.description}: read failed: {exc}") from None

    def discard_input(self) -> None:
        """Drop bytes the OS holds for us; a stream without such a buffer has nothing to do."""

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            try:
                await self.stream.aclose()
            except (OSError, trio.BrokenResourceError):
                pass


SELECT_DETECT_S = 0.3  # how long CTS may take to follow RTS on a port wired for the AUX select line
SELECT_WAIT_S = 0.1  # how long to wait for the bus before transmitting anyway


class SerialTransport(StreamTransport):
    def __init__(self, port: SerialPort, stream: trio.abc.Stream, description: str, select_line: bool = False) -> None:
        super().__init__(stream, description)
        self.port = port
        self.select_line = select_line

    async def send_all(self, data: bytes) -> None:
        """With a select line (the AUX bus's BUSY wire on RTS/CTS): claim the bus, send, wait until sent, release."""
        if not self.select_line:
            return await super().send_all(data)
        try:
            self.port.rts = True
            with trio.move_on_after(SELECT_WAIT_S):
                while not self.port.cts:
                    await trio.sleep(0.002)
            await super().send_all(data)
            await trio.to_thread.run_sync(self.port.flush)  # tcdrain: all bits out
        finally:
            try:
                self.port.rts = False
            except OSError:
                pass

    @classmethod
    async def open(
        cls,
        path: str,
        baud_rate: int,
        *,
        stop_bits: float = 1,
        rtscts: bool = False,
        select_line: bool = False,
    ) -> SerialTransport:
        import serial  # pyserial; imported here so a TCP-only or simulated session never loads it

        def open_port() -> SerialPort:
            port = serial.Serial()
            port.port = path
            port.baudrate = baud_rate
            port.bytesize = serial.EIGHTBITS
            port.parity = serial.PARITY_NONE
            port.stopbits = serial.STOPBITS_TWO if stop_bits == 2 else serial.STOPBITS_ONE
            port.rtscts = rtscts
            port.xonxoff = False
            port.timeout = 0
            port.exclusive = True  # a second driver on the same port gets a clear error, not interleaved bytes
            port.open()
            _wake_on_first_byte(port.fileno())
            port.reset_input_buffer()
            return port

        try:
            port = await trio.to_thread.run_sync(open_port)
        except (OSError, ValueError) as exc:  # serial.SerialException is an OSError
            raise TransportError(errno.ENODEV, f"cannot open {path}: {exc}") from None
        stream = trio.lowlevel.FdStream(os.dup(port.fileno()))
        uses_select = select_line and await _detect_select_line(port)
        description = f"{path} @ {baud_rate} baud" + (", RTS/CTS select line" if uses_select else "")
        return cls(port, stream, description, uses_select)

    def discard_input(self) -> None:
        try:
            self.port.reset_input_buffer()
        except (OSError, ValueError):
            pass

    def set_rts(self, level: bool) -> None:
        self.port.rts = level

    def cts(self) -> bool:
        return bool(self.port.cts)

    async def aclose(self) -> None:
        await super().aclose()
        try:
            self.port.close()
        except (OSError, ValueError):
            pass


async def _detect_select_line(port: SerialPort) -> bool:
    """Raise RTS and see whether CTS follows: a cable wired for the AUX bus's select line does, others do not."""
    try:
        port.rts = True
        with trio.move_on_after(SELECT_DETECT_S):
            while not port.cts:
                await trio.sleep(0.01)
            return True
        return False
    except OSError:  # ptys and some adapters have no modem lines
        return False
    finally:
        try:
            port.rts = False
        except OSError:
            pass


def _wake_on_first_byte(fd: int) -> None:
    """VMIN=1, VTIME=0. pyserial leaves VMIN=0, where a read with nothing waiting returns 0 bytes, which a stream
    reader takes for end of file; with VMIN=1 it fails with EAGAIN on the non-blocking descriptor and trio waits."""
    attributes = termios.tcgetattr(fd)
    attributes[6][termios.VMIN] = 1
    attributes[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attributes)


async def open_tcp(host: str, port: int, *, connect_timeout: float = 5.0) -> StreamTransport:
    try:
        with trio.fail_after(connect_timeout):
            stream = await trio.open_tcp_stream(host, port)
    except trio.TooSlowError:
        raise TransportError(errno.ETIMEDOUT, f"no answer from {host}:{port} within {connect_timeout:g} s") from None
    except OSError as exc:
        raise TransportError(exc.errno or errno.ECONNREFUSED, f"cannot connect to {host}:{port}: {exc}") from None
    return StreamTransport(stream, f"tcp {host}:{port}")


def memory_pair(description: str = "in-memory") -> tuple[StreamTransport, trio.abc.Stream]:
    """A driver-side transport and the device-side stream joined to it (for SIMULATION and tests).

    A kernel socket pair rather than trio.testing's memory streams: those import the test tooling into a driver."""
    driver_socket, device_socket = socket.socketpair()
    driver_side = trio.SocketStream(trio.socket.from_stdlib_socket(driver_socket))
    device_side = trio.SocketStream(trio.socket.from_stdlib_socket(device_socket))
    return StreamTransport(driver_side, description), device_side


@dataclass
class Pty:
    """A pseudo-terminal: the device (emulator) side owns `master`, the driver opens `path` like a serial port."""

    master: int
    slave: int
    path: str

    @classmethod
    def open(cls) -> Pty:
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        return cls(master, slave, os.ttyname(slave))

    def stream(self) -> trio.lowlevel.FdStream:
        # The slave stays open here: once every slave descriptor is closed, reads on the master fail with EIO.
        return trio.lowlevel.FdStream(os.dup(self.master))

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
