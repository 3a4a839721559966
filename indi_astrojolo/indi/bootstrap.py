"""Process entry for a driver: answer indiserver's first getProperties, then run the trio runtime.

Importing trio costs more than everything else a driver loads at start, and indiserver routes client requests only to
drivers whose device name it has already seen; so the first getProperties is answered with plain blocking I/O from
the trio-free property model, and the event loop is started after that.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable

from .logs import setup_logging
from .outbox import Outbox
from .properties import PropertySet
from .spec import DriverSpec, prepare_properties
from .xmlstream import GetProperties, Message, MalformedMessage, XmlStream, serialize

log = logging.getLogger(__name__)


def _write_blocking(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _await_first_get_properties(
    props: PropertySet, stream: XmlStream, outbox: Outbox
) -> list[Message | MalformedMessage] | None:
    """Read stdin until the first getProperties and answer it; None if stdin closed first."""
    pending: list[Message | MalformedMessage] = []
    answered = False
    while not answered:
        try:
            data = os.read(0, 65536)
        except InterruptedError:
            continue
        except OSError:
            data = b""
        if not data:
            return None
        for message in stream.feed(data):
            if not answered and isinstance(message, GetProperties):
                for vector in props.definitions_for(message.device, message.name):
                    outbox.send(serialize(vector.def_element()))
                answered = True
            else:
                pending.append(message)
    _write_blocking(1, outbox.take())
    return pending


def run_driver(spec: DriverSpec, load_device_class: Callable[[], type]) -> int:
    setup_logging()
    try:
        props = prepare_properties(spec)
        outbox = Outbox()
        stream = XmlStream()
        pending = _await_first_get_properties(props, stream, outbox)
        if pending is None:
            return 0
        import trio

        from .runtime import Runtime

        device = load_device_class()(spec, props, outbox)
        trio.run(Runtime(device, stream, pending).run)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0
    return 0


def main_for(spec: DriverSpec, load_device_class: Callable[[], type]) -> None:
    sys.exit(run_driver(spec, load_device_class))
