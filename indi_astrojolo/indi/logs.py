"""Driver logging to stderr, which indiserver turns into its own log lines.

indiserver reads stderr in 1024-byte lines and closes the pipe on a longer one, after which every write fails; so each
record is one line, cut well below that, and a failing write is dropped instead of raising into the driver.
"""

from __future__ import annotations

import logging
import os

MAX_LINE_BYTES = 1000
ROOT_LOGGER = "indi_astrojolo"
WIRE_LOGGER = "indi_astrojolo.wire"


class StderrLineHandler(logging.Handler):
    def __init__(self, fd: int = 2) -> None:
        super().__init__()
        self.fd = fd
        self.broken = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.broken:
            return
        try:
            text = self.format(record).replace("\r", " ").replace("\n", " | ")
            data = text.encode("utf-8", "replace")
            if len(data) > MAX_LINE_BYTES - 1:
                data = data[: MAX_LINE_BYTES - 4] + b"..."
            self._write_all(data + b"\n")
        except (BrokenPipeError, OSError):
            self.broken = True
        except Exception:  # a log line must never take the driver down
            pass

    def _write_all(self, data: bytes) -> None:
        # stderr may share a non-blocking file description with stdin (a terminal); retry briefly, then drop.
        attempts = 0
        while data:
            try:
                written = os.write(self.fd, data)
            except BlockingIOError:
                attempts += 1
                if attempts > 100:
                    return
                continue
            data = data[written:]


def setup_logging() -> None:
    root = logging.getLogger(ROOT_LOGGER)
    if any(isinstance(h, StderrLineHandler) for h in root.handlers):
        return
    handler = StderrLineHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False


def set_debug(enabled: bool) -> None:
    logging.getLogger(ROOT_LOGGER).setLevel(logging.DEBUG if enabled else logging.INFO)


def wire_logger() -> logging.Logger:
    return logging.getLogger(WIRE_LOGGER)
