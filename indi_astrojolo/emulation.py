"""Running an emulator as a program: on a pty or a TCP port on 127.0.0.1, steered through its stdin.

The program prints one line ``READY pty /dev/pts/N`` or ``READY tcp 127.0.0.1:PORT`` when it is listening. Control
lines on stdin change the emulated device while a driver talks to it (tests inject faults this way):

    set faults.silent True        set any attribute of the model (Python literal values)
    get position                  print ``VALUE <repr>``
    len commands                  print ``VALUE <length>`` of a list attribute
    call method arg ...           call a model method with literal arguments, print ``VALUE <repr>``
    disconnect                    drop the current connection (pty: close and reopen the device side)
    quit                          stop
"""

from __future__ import annotations

import ast
import os
import sys
from typing import Any, Awaitable, Callable

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


async def _control(model: Any, disconnect: Callable[[], None], scope: trio.CancelScope) -> None:
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
            if line == "disconnect":
                disconnect()
                _say("OK")
                continue
            try:
                if hasattr(model, "advance"):
                    model.advance(trio.current_time())  # answer about now, not about the last packet's time
                answer = apply_control(model, line)
            except Exception as exc:  # a bad control line is reported, not fatal
                answer = f"ERROR {exc}"
            if answer:
                _say(answer)


async def _serve_pty(model: Any, serve: ServeFunction, link: str | None, task_status: Any) -> None:
    generation = {"cancel": None}

    def disconnect() -> None:
        scope = generation["cancel"]
        if scope is not None:
            scope.cancel()

    first = True
    while True:
        pty = Pty.open()
        if link:
            try:
                os.unlink(link)
            except FileNotFoundError:
                pass
            os.symlink(pty.path, link)
        if first:
            task_status.started(disconnect)
            _say(f"READY pty {link or pty.path}")
            first = False
        stream = pty.stream()
        with trio.CancelScope() as scope:
            generation["cancel"] = scope
            await serve(model, stream)
        await stream.aclose()
        pty.close()
        if not scope.cancelled_caught:
            await trio.sleep(0.05)  # the driver closed the port; offer a fresh one


async def _serve_tcp(model: Any, serve: ServeFunction, port: int, task_status: Any) -> None:
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    current: dict[str, trio.CancelScope | None] = {"scope": None}

    def disconnect() -> None:
        if current["scope"] is not None:
            current["scope"].cancel()

    actual = listeners[0].socket.getsockname()[1]
    task_status.started(disconnect)
    _say(f"READY tcp 127.0.0.1:{actual}")
    lock = trio.Lock()

    async def handle(stream: trio.SocketStream) -> None:
        async with lock:  # one client at a time, like the real WiFi bridges
            with trio.CancelScope() as scope:
                current["scope"] = scope
                await serve(model, stream)
            current["scope"] = None
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
                disconnect = await nursery.start(_serve_tcp, model, serve, args.tcp)
            else:
                disconnect = await nursery.start(_serve_pty, model, serve, args.link)
            await _control(model, disconnect, nursery.cancel_scope)

    try:
        trio.run(main)
    except KeyboardInterrupt:
        pass
