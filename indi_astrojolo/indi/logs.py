"""Driver logging to stderr, which indiserver turns into its own log lines.

indiserver reads stderr in 1024-byte lines and closes the pipe on a longer one, after which every write fails; so each
record is one line, cut well below that, and a failing write is dropped instead of raising into the driver.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

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


# --- libindi's Logger: DEBUG_LEVEL, LOGGING_LEVEL and LOG_OUTPUT --------------------------------------------------
#
# As libindi (indilogger.cpp): each level is a bit; DEBUG_LEVEL chooses the levels that reach the client, LOGGING_LEVEL
# those written to the log file, LOG_OUTPUT whether each output is on. The three vectors exist only while DEBUG is
# enabled. The driver's Python logging records are the log: a record's level (and, for the link's bytes, its logger)
# gives its INDI level. Messages the driver says to clients anyway (Device.message, refusals) are marked `indi_said`:
# they go to the file, never to the client a second time.

DBG_ERROR, DBG_WARNING, DBG_SESSION, DBG_DEBUG, DBG_EXTRA_1 = 1, 2, 4, 8, 16
LOGGING_PROPERTIES = ("DEBUG_LEVEL", "LOGGING_LEVEL", "LOG_OUTPUT")

# bit -> (DEBUG_LEVEL member, LOGGING_LEVEL member, tag in messages and in the file)
LEVELS = {
    DBG_ERROR: ("DBG_ERROR", "LOG_ERROR", "ERROR"),
    DBG_WARNING: ("DBG_WARNING", "LOG_WARNING", "WARNING"),
    DBG_SESSION: ("DBG_SESSION", "LOG_SESSION", "INFO"),
    DBG_DEBUG: ("DBG_DEBUG", "LOG_DEBUG", "DEBUG"),
    DBG_EXTRA_1: ("DBG_EXTRA_1", "LOG_EXTRA_1", "LINK"),
}
SAID = {"indi_said": True}  # `extra=` for a record whose text the client has been sent already


def level_of(record: logging.LogRecord) -> int:
    if record.levelno >= logging.ERROR:
        return DBG_ERROR
    if record.levelno >= logging.WARNING:
        return DBG_WARNING
    if record.levelno >= logging.INFO:
        return DBG_SESSION
    if record.name == WIRE_LOGGER or record.name.startswith(WIRE_LOGGER + "."):
        return DBG_EXTRA_1
    return DBG_DEBUG


def mask_of(switches: dict[str, bool], column: int) -> int:
    """The level bits switched On in DEBUG_LEVEL (column 0) or LOGGING_LEVEL (column 1)."""
    return sum(bit for bit, names in LEVELS.items() if switches.get(names[column]))


@dataclass(frozen=True)
class LogSettings:
    debug: bool = False
    client_levels: int = DBG_ERROR | DBG_WARNING | DBG_SESSION
    file_levels: int = DBG_ERROR | DBG_WARNING | DBG_SESSION
    to_client: bool = True
    to_file: bool = False

    @classmethod
    def from_switches(cls, switches: dict[str, dict[str, bool]]) -> LogSettings:
        output = switches["LOG_OUTPUT"]
        return cls(
            debug=bool(switches["DEBUG"].get("ENABLE")),
            client_levels=mask_of(switches["DEBUG_LEVEL"], 0),
            file_levels=mask_of(switches["LOGGING_LEVEL"], 1),
            to_client=bool(output.get("CLIENT_DEBUG")),
            to_file=bool(output.get("FILE_DEBUG")),
        )


def log_file_path(home: str | os.PathLike[str], exec_name: str, started: datetime) -> Path:
    """Where libindi writes a driver's log: ~/.indi/logs/<UTC date>/<exe>/<exe>_<UTC time of start>.log."""
    started = started.astimezone(UTC)
    folder = Path(home) / ".indi" / "logs" / started.strftime("%Y-%m-%d") / exec_name
    return folder / f"{exec_name}_{started.strftime('%H:%M:%S')}.log"


def file_line(tag: str, elapsed: float, text: str) -> str:
    """One log file line as libindi writes it: tag, seconds since the driver started (to the microsecond), text."""
    seconds = int(elapsed)
    micros = min(int(round((elapsed - seconds) * 1_000_000)), 999_999)
    flat = text.replace("\r", " ").replace("\n", " | ")
    return f"{tag}\t{seconds}.{micros:06d} sec\t: {flat}\n"


class DriverLogHandler(logging.Handler):
    """Carries the driver's log records to the client (as INDI messages) and to the log file, by libindi's levels.

    `say(tag, text)` sends one INDI message; it is called only from the thread that made the handler (the event
    loop's), since the outbox is not thread-safe: a record logged from a worker thread goes to the file only. The file
    is opened in append mode and line buffered, so each record is one small write; a write that fails closes it and
    is said once."""

    def __init__(
        self,
        say: Callable[[str, str], None],
        path: Path,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(logging.DEBUG)
        self.say = say
        self.path = path
        self.clock = clock
        self.started = clock()
        self.settings = LogSettings()
        self.file: TextIO | None = None
        self.owner_thread = threading.get_ident()
        self._saying = False

    def configure(self, settings: LogSettings) -> None:
        """Apply new settings; the file is opened when it is wanted and closed when not. OSError if it cannot be
        opened (the settings are then applied with the file off)."""
        if settings.debug and settings.to_file:
            if self.file is None:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o775)
                    self.file = open(self.path, "a", buffering=1, encoding="utf-8", errors="replace")
                except OSError:
                    self.settings = replace(settings, to_file=False)
                    raise
        else:
            self.close_file()
        self.settings = settings

    def close_file(self) -> None:
        file, self.file = self.file, None
        if file is not None:
            try:
                file.close()
            except OSError:
                pass

    def close(self) -> None:
        self.close_file()
        super().close()

    def emit(self, record: logging.LogRecord) -> None:
        settings = self.settings
        if not settings.debug:
            return
        try:
            level = level_of(record)
            tag = LEVELS[level][2]
            text = record.getMessage()
            if self.file is not None and settings.file_levels & level:
                self._write(file_line(tag, self.clock() - self.started, text))
            if (
                settings.to_client
                and settings.client_levels & level
                and not getattr(record, "indi_said", False)
                and record.thread == self.owner_thread
                and not self._saying
            ):
                self._say(tag, text)
        except Exception:  # a log line must never take the driver down
            pass

    def _write(self, line: str) -> None:
        assert self.file is not None
        try:
            self.file.write(line)
        except OSError as exc:
            self.close_file()
            if threading.get_ident() == self.owner_thread:
                self._say("WARNING", f"The log file {self.path} is no longer written: {exc.strerror or exc}")

    def _say(self, tag: str, text: str) -> None:
        self._saying = True  # what saying logs must not come back here
        try:
            self.say(tag, text)
        finally:
            self._saying = False


def attach_driver_log(handler: DriverLogHandler) -> None:
    """Route the driver's records through `handler`, in place of any earlier one (one device per process)."""
    root = logging.getLogger(ROOT_LOGGER)
    for old in [h for h in root.handlers if isinstance(h, DriverLogHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
