"""Running an emulator as a program: on a pty or a TCP port on 127.0.0.1, steered through its stdin.

The program prints one line ``READY pty /dev/pts/N`` or ``READY tcp 127.0.0.1:PORT`` when it is listening. Control
lines on stdin change the emulated device while a driver talks to it (tests inject faults this way):

    set faults.silent True        set any attribute of the model (Python literal values)
    get position                  print ``VALUE <repr>``
    len commands                  print ``VALUE <length>`` of a list attribute
    call method arg ...           call a model method with literal arguments, print ``VALUE <repr>``
    disconnect                    drop the current connection (pty: close and reopen the device side)
    unplug 5                      the cable is pulled for 5 s: the pty and its link path are gone (TCP: the
                                  connection is reset and new ones are reset at once), then a fresh one is offered
    reset                         TCP: end the connection with a reset (RST) instead of a close; pty: as disconnect
    quit                          stop
"""

from __future__ import annotations

import ast
import math
import os
import socket
import struct
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from .link.transports import Pty

ServeFunction = Callable[[Any, Any], Awaitable[None]]
MakeModel = Callable[[float], Any]


def _resolve(model: Any, dotted: str) -> tuple[Any, str]:
    *path, attribute = dotted.split(".")
    target = model
    for part in path:
        target = getattr(target, part)
    if attribute.startswith("_"):
        raise AttributeError(f"{dotted} is private")
    return target, attribute


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_control(model: Any, line: str) -> str | None:
    """Execute one control line against the model; returns text to print, if any."""
    words = line.split()
    if not words:
        return None
    verb, args = words[0], words[1:]
    if verb == "set" and len(args) >= 2:
        target, attribute = _resolve(model, args[0])
        getattr(target, attribute)  # only existing attributes may be set
        setattr(target, attribute, _literal(" ".join(args[1:])))
        return "OK"
    if verb == "get" and len(args) == 1:
        target, attribute = _resolve(model, args[0])
        return f"VALUE {getattr(target, attribute)!r}"
    if verb == "len" and len(args) == 1:
        target, attribute = _resolve(model, args[0])
        return f"VALUE {len(getattr(target, attribute))}"
    if verb == "call" and args:
        target, attribute = _resolve(model, args[0])
        result = getattr(target, attribute)(*[_literal(a) for a in args[1:]])
        return f"VALUE {result!r}"
    raise ValueError(f"unknown control line {line!r}")


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class LinkControl:
    """What the control channel does to the link: end the current connection, pull the cable for a while, reset."""

    def __init__(self) -> None:
        self.scope: trio.CancelScope | None = None  # the current connection's
        self.unplugged_until = -math.inf
        self.resetting = False

    def disconnect(self) -> None:
        if self.scope is not None:
            self.scope.cancel()

    def unplug(self, seconds: float) -> None:
        self.unplugged_until = trio.current_time() + seconds
        self.reset()

    def reset(self) -> None:
        self.resetting = True
        self.disconnect()

    def unplugged(self) -> bool:
        return trio.current_time() < self.unplugged_until


def _abort_on_close(stream: trio.SocketStream) -> None:
    """Make the coming close send a TCP reset (RST), as a bridge that loses power or reboots does."""
    try:
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


def _link_command(link: LinkControl, line: str) -> bool:
    """Carry out a link control line; False if the line is not one."""
    words = line.split()
    if words == ["disconnect"]:
        link.disconnect()
    elif words == ["reset"]:
        link.reset()
    elif len(words) == 2 and words[0] == "unplug":
        link.unplug(float(words[1]))
    else:
        return False
    return True


async def _control(model: Any, link: LinkControl, scope: trio.CancelScope) -> None:
    stdin = trio.lowlevel.FdStream(os.dup(0))
    buffer = b""
    while True:
        data = await stdin.receive_some(4096)
        if not data:
            scope.cancel()  # the controlling process went away
            return
        buffer += data
        while b"\n" in buffer:
            raw, buffer = buffer.split(b"\n", 1)
            line = raw.decode("utf-8", "replace").strip()
            if line == "quit":
                scope.cancel()
                return
            try:
                if _link_command(link, line):
                    _say("OK")
                    continue
                if hasattr(model, "advance"):
                    model.advance(trio.current_time())  # answer about now, not about the last packet's time
                answer = apply_control(model, line)
            except Exception as exc:  # a bad control line is reported, not fatal
                answer = f"ERROR {exc}"
            if answer:
                _say(answer)


def _remove_link(link: str | None) -> None:
    if link:
        try:
            os.unlink(link)
        except FileNotFoundError:
            pass


async def _serve_pty(model: Any, serve: ServeFunction, link: str | None, task_status: Any) -> None:
    control = LinkControl()
    first = True
    while True:
        pty = Pty.open()
        _remove_link(link)
        if link:
            os.symlink(pty.path, link)
        if first:
            task_status.started(control)
            _say(f"READY pty {link or pty.path}")
            first = False
        stream = pty.stream()
        with trio.CancelScope() as scope:
            control.scope = scope
            await serve(model, stream)
        control.scope = None
        await stream.aclose()
        pty.close()
        if control.unplugged():
            _remove_link(link)  # the device node goes away with the cable
            await trio.sleep_until(control.unplugged_until)
        elif not scope.cancelled_caught:
            await trio.sleep(0.05)  # the driver closed the port; offer a fresh one


async def _serve_tcp(model: Any, serve: ServeFunction, port: int, task_status: Any) -> None:
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    control = LinkControl()
    actual = listeners[0].socket.getsockname()[1]
    task_status.started(control)
    _say(f"READY tcp 127.0.0.1:{actual}")
    lock = trio.Lock()

    async def handle(stream: trio.SocketStream) -> None:
        if control.unplugged():
            _abort_on_close(stream)
            await stream.aclose()
            return
        async with lock:  # one client at a time, like the real WiFi bridges
            control.resetting = False
            with trio.CancelScope() as scope:
                control.scope = scope
                await serve(model, stream)
            control.scope = None
            if control.resetting:
                _abort_on_close(stream)
            await stream.aclose()

    await trio.serve_listeners(handle, listeners)


def run_emulator_cli(argv: list[str], make_model: MakeModel, serve: ServeFunction, title: str) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=f"Emulated {title}")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal (default)")
    where.add_argument("--tcp", type=int, metavar="PORT", help="serve on 127.0.0.1:PORT (0 = any free port)")
    parser.add_argument("--link", help="with --pty: also make this path a symlink to the pty")
    args = parser.parse_args(argv)

    async def main() -> None:
        model = make_model(trio.current_time())
        async with trio.open_nursery() as nursery:
            if args.tcp is not None:
                link = await nursery.start(_serve_tcp, model, serve, args.tcp)
            else:
                link = await nursery.start(_serve_pty, model, serve, args.link)
            await _control(model, link, nursery.cancel_scope)

    try:
        trio.run(main)
    except KeyboardInterrupt:
        pass
