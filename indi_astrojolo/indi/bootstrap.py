"""Process entry for a driver: answer getProperties at once, start the trio runtime when it is needed.

Importing trio costs more than everything else a driver loads, and indiserver routes client requests only to drivers
whose device name it has already seen. Before the first client request a driver has nothing to do but answer
getProperties (no device is open, no timer runs), so that is done with plain blocking reads from the trio-free
property model; the event loop starts with the first request, and a driver that only ever sees getProperties and
then end of input exits without loading it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from lxml import etree

from .logs import setup_logging
from .outbox import Outbox
from .properties import PropertySet
from .spec import DriverSpec, prepare_properties
from .xmlstream import GetProperties, MalformedMessage, Message, XmlStream, sanitize_text, serialize, timestamp_now

log = logging.getLogger(__name__)


def message_element(device: str, level: str, text: str) -> etree._Element:
    """An INDI message as Device.message sends it (the device object does not exist yet at start-up)."""
    attributes = {"device": device, "timestamp": timestamp_now(), "message": sanitize_text(f"[{level}] {text}")[:1000]}
    return etree.Element("message", attributes)


def _write_blocking(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _answer_until_first_request(
    props: PropertySet, stream: XmlStream, outbox: Outbox, notes: list[tuple[str, str]] | None = None
) -> list[Message | MalformedMessage] | None:
    """Answer getProperties from stdin until some other message arrives; return it and what followed it in the
    same read (None if stdin closed first). `notes` (level, text) are said once, after the first definitions."""
    notes = list(notes or ())
    while True:
        try:
            data = os.read(0, 65536)
        except InterruptedError:
            continue
        except OSError:
            data = b""
        if not data:
            return None
        pending: list[Message | MalformedMessage] = []
        for message in stream.feed(data):
            if isinstance(message, GetProperties) and not pending:
                for vector in props.definitions_for(message.device, message.name):
                    outbox.send(serialize(vector.def_element()))
                while notes:
                    outbox.send(serialize(message_element(props.device, *notes.pop(0))))
            else:
                pending.append(message)
        _write_blocking(1, outbox.take())
        outbox.written()
        if pending:
            return pending


def run_driver(spec: DriverSpec, load_device_class: Callable[[], type]) -> int:
    setup_logging()
    try:
        notes: list[tuple[str, str]] = []
        props = prepare_properties(spec, lambda level, text: notes.append((level, text)))
        outbox = Outbox()
        stream = XmlStream()
        pending = _answer_until_first_request(props, stream, outbox, notes)
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
