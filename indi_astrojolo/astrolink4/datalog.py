"""Session data log for the AstroLink 4: every status sample appended to a dated CSV file.

The vendor panel logs each status sample (two a second) to a file. The driver does the same with `SessionLog`; this
module owns the file: its columns, where it goes (one file per observing night, in an allowed directory), how a row is
formatted and how it is appended. Reading a file back, the nightly summary and the charts are the `astrolink4-charts`
tool's (indi_astrojolo/tools/), which the driver never imports.

Nothing written is lost: the file is only ever appended to, each row goes out in one os.write on an O_APPEND
descriptor (a killed process leaves whole rows), and a crash-torn last line is closed with a newline before the next
row so the new row never merges with it. fsync is rate-limited because a status sample arrives every half second.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_DEVICE = "AstroLink 4 USB"

COLUMNS: tuple[str, ...] = (
    "time_utc",
    "position",
    "temperature_1",
    "humidity_1",
    "dew_point_1",
    "temperature_2",
    "humidity_2",
    "dew_point_2",
    "sky_temperature",
    "ambient_minus_sky",
    "sky_brightness",
    "pwm_1",
    "pwm_2",
    "output_1",
    "output_2",
    "output_3",
    "voltage",
    "current",
    "amp_hours",
    "watt_hours",
    "pending_compensation",
)

INTEGER_COLUMNS = frozenset({"position", "pwm_1", "pwm_2", "pending_compensation"})
BOOLEAN_COLUMNS = frozenset({"output_1", "output_2", "output_3"})

HEADER_LINE = ",".join(COLUMNS) + "\n"

# An observing night crosses midnight UTC in Europe; shifting by 12 hours puts the whole night in one file and the
# file changes at noon, when nobody is observing.
NIGHT_SHIFT = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Sample:
    """One status sample; None where the device did not report the value (sensor absent, short status line)."""

    time: datetime  # timezone-aware; stored in UTC
    position: int | None = None
    temperature_1: float | None = None
    humidity_1: float | None = None
    dew_point_1: float | None = None
    temperature_2: float | None = None
    humidity_2: float | None = None
    dew_point_2: float | None = None
    sky_temperature: float | None = None
    ambient_minus_sky: float | None = None
    sky_brightness: float | None = None
    pwm_1: int | None = None
    pwm_2: int | None = None
    output_1: bool | None = None
    output_2: bool | None = None
    output_3: bool | None = None
    voltage: float | None = None
    current: float | None = None
    amp_hours: float | None = None
    watt_hours: float | None = None
    pending_compensation: int | None = None

    def __post_init__(self) -> None:
        # A naive time would be silently taken as local time by astimezone and land in the wrong file.
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError(f"Sample.time must be timezone-aware, got {self.time!r}")
        if self.time.utcoffset() != timedelta(0) or self.time.tzinfo is not UTC:
            object.__setattr__(self, "time", self.time.astimezone(UTC))

    def as_row(self) -> dict[str, Any]:
        """The sample keyed by column name, as a row read back from the file (tools/session_csv.py)."""
        row: dict[str, Any] = {"time_utc": self.time}
        for name in COLUMNS[1:]:
            row[name] = getattr(self, name)
        return row


# The dataclass and the column list must never drift apart: a column without a field would be written empty forever.
assert tuple(f.name for f in fields(Sample))[1:] == COLUMNS[1:]


def default_directory() -> Path:
    return Path.home() / "astrojolo" / "astrolink4"


# Directories outside the home where the driver may still write its log, separated by ':'. Set by whoever starts the
# driver; a client can only choose among them, never add one (DATA_LOG_DIR comes from the network).
ALLOWED_DIRECTORIES_VARIABLE = "ASTROJOLO_DATA_DIRS"


class DirectoryRefused(OSError):
    """A log directory the driver will not write into; the message says why and what to do."""


def allowed_roots(home: Path | None = None, environ: Mapping[str, str] | None = None) -> list[Path]:
    """The user's home, then the absolute directories listed in ASTROJOLO_DATA_DIRS."""
    listed = (os.environ if environ is None else environ).get(ALLOWED_DIRECTORIES_VARIABLE, "")
    extra = [Path(part).expanduser() for part in listed.split(os.pathsep) if part.strip()]
    return [Path.home() if home is None else home] + [path for path in extra if path.is_absolute()]


def check_directory(directory: Path, roots: Sequence[Path]) -> None:
    """Raise DirectoryRefused unless `directory`, its symlinks resolved, lies in one of `roots` (also resolved)."""
    resolved = Path(directory).resolve()
    if any(resolved.is_relative_to(root.resolve()) for root in roots):
        return
    where = f"{directory}" if resolved == Path(directory) else f"{directory} (which is {resolved})"
    raise DirectoryRefused(
        f"{where} is outside your home directory {roots[0]}; to log there, list it or a directory above it in "
        f"{ALLOWED_DIRECTORIES_VARIABLE} in the driver's environment"
    )


def slug(text: str) -> str:
    """File-name-safe form of a device name: lowercase, runs of anything but letters and digits as one '-'."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned or "device"


def night_date(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError(f"time must be timezone-aware, got {when!r}")
    return (when.astimezone(UTC) - NIGHT_SHIFT).strftime("%Y-%m-%d")


def file_for(directory: Path, when: datetime, device: str = DEFAULT_DEVICE) -> Path:
    """The log file of the observing night containing `when` (nights run from noon UTC to noon UTC)."""
    return Path(directory) / f"{slug(device)}-{night_date(when)}.csv"


# --- formatting -------------------------------------------------------------------------------------------------------


def format_time(when: datetime) -> str:
    utc = when.astimezone(UTC)
    # Truncated, not rounded: rounding 59.999 s would need a carry into the minute.
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 10_000:02d}Z"


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        # NaN/inf would not survive a spreadsheet import; an empty field already means "no value".
        return ""
    text = f"{number:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_row(sample: Sample) -> str:
    values = [format_time(sample.time)]
    values.extend(format_value(getattr(sample, name)) for name in COLUMNS[1:])
    return ",".join(values) + "\n"


# --- writing ----------------------------------------------------------------------------------------------------------


def _write_all(fd: int, data: bytes) -> None:
    # A regular file can take fewer bytes than asked (disk filling up); finishing the row beats leaving it torn.
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _inspect_tail(fd: int) -> tuple[bool, bool]:
    """(starts with our header, ends with a newline) for an open file; an empty file is (False, True).

    Read through the writer's own descriptor: opening the name again could reach another file (a symlink put there)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return False, True
    head = os.pread(fd, len(HEADER_LINE), 0)
    last = os.pread(fd, 1, size - 1)
    return head == HEADER_LINE.encode("ascii"), last == b"\n"


# Read-write so that the tail can be inspected through the same descriptor. O_NOFOLLOW: a symlink planted where
# tonight's file goes (to ~/.bashrc, say) must not have rows appended to its target.
_FILE_FLAGS = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


def _open_log_file(path: Path) -> tuple[int, bool]:
    """A descriptor on the regular file at `path`, created if missing, and whether it was created by this call.

    0o666: the process umask decides who may read the file, as for any file the user creates."""
    while True:
        try:
            return os.open(path, _FILE_FLAGS | os.O_CREAT | os.O_EXCL, 0o666), True
        except FileExistsError:
            pass  # there already (or a symlink is): open what is there, without following a link
        try:
            fd = os.open(path, _FILE_FLAGS)
        except FileNotFoundError:
            continue  # removed between the two opens: create it after all
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                refused = "the log file is a symbolic link, which is not followed"
                raise OSError(errno.ELOOP, refused, str(path)) from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(errno.EINVAL, "the log file is not a regular file", str(path))
        return fd, False


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SessionLog:
    """Appends samples to one CSV file per observing night. Not thread-safe; one writer per directory and device."""

    def __init__(
        self,
        directory: Path,
        device: str = DEFAULT_DEVICE,
        *,
        fsync_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        create_parents: bool = False,
    ) -> None:
        """`directory` is created if missing, but only its last level unless `create_parents`: a mistyped path
        fails instead of growing a tree of directories somewhere."""
        if fsync_interval < 0 or math.isnan(fsync_interval):
            raise ValueError(f"fsync_interval must be >= 0, got {fsync_interval}")
        self.directory = Path(directory)
        self.device = device
        self.fsync_interval = fsync_interval
        self.create_parents = create_parents
        self.path: Path | None = None
        self.rows_written = 0
        self._clock = clock
        self._fd: int | None = None
        self._last_sync = 0.0
        self._unsynced = False
        # Bytes that must precede the next row: a newline closing a torn line found on open.
        self._prefix = b""
        # Set after a failed write, which may have left part of a row behind.
        self._check_tail = False

    def __enter__(self) -> SessionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, sample: Sample, *, sync: bool = True) -> Path:
        """Write one row, opening (and creating) the night's file as needed, and fsync it when one is due (unless
        `sync` is False: the caller then fsyncs through detach_due_sync). Raises OSError on I/O failure."""
        target = file_for(self.directory, sample.time, self.device)
        if self._fd is None or target != self.path:
            self.close()
            self._open(target)
        assert self._fd is not None and self.path is not None
        if self._check_tail:
            _, ends_with_newline = _inspect_tail(self._fd)
            self._prefix = b"" if ends_with_newline else b"\n"
            self._check_tail = False
        data = self._prefix + format_row(sample).encode("ascii")
        try:
            _write_all(self._fd, data)
        except OSError:
            self._check_tail = True
            raise
        self._prefix = b""
        self.rows_written += 1
        self._unsynced = True
        now = self._clock()
        if sync and now - self._last_sync >= self.fsync_interval:
            self._sync(now)
        return self.path

    def detach_due_sync(self) -> int | None:
        """When an fsync is due, a duplicate of the file's descriptor for the caller to fsync and close, in a worker
        thread if a slow card must not hold it up (the duplicate stays valid even if the log is closed meanwhile);
        None when none is due."""
        now = self._clock()
        if self._fd is None or not self._unsynced or now - self._last_sync < self.fsync_interval:
            return None
        self._last_sync = now
        self._unsynced = False
        return os.dup(self._fd)

    def sync(self) -> None:
        """fsync now if anything is unwritten to disk; lets the driver bound the loss when samples stop coming."""
        if self._fd is not None and self._unsynced:
            self._sync(self._clock())

    def close(self) -> None:
        """fsync and close the current file. `path` keeps naming the last file; append reopens it."""
        fd = self._fd
        if fd is None:
            return
        self._fd = None
        try:
            if self._unsynced:
                os.fsync(fd)
                self._unsynced = False
        finally:
            os.close(fd)

    def _sync(self, now: float) -> None:
        assert self._fd is not None
        os.fsync(self._fd)
        self._last_sync = now
        self._unsynced = False

    def _open(self, target: Path) -> None:
        self._make_directory(target.parent)
        fd, created = _open_log_file(target)
        try:
            has_header, ends_with_newline = _inspect_tail(fd)
            prefix = b"" if ends_with_newline else b"\n"
            if not has_header:
                # A new file, one whose only line was torn, or one from a different column layout: a header line
                # here makes a reader take the following rows by these names.
                _write_all(fd, prefix + HEADER_LINE.encode("ascii"))
                prefix = b""
            if created:
                # The rows are fsynced later; the file's directory entry must be durable too.
                _fsync_directory(target.parent)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self.path = target
        self._prefix = prefix
        self._check_tail = False
        self._last_sync = self._clock()
        self._unsynced = not has_header

    def _make_directory(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=self.create_parents, exist_ok=True)
        except FileNotFoundError:
            raise FileNotFoundError(
                errno.ENOENT, "the directory above it does not exist (only the last level is created)", str(directory)
            ) from None
