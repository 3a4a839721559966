"""Session data log for the AstroLink 4: every status sample appended to a dated CSV file, and charts drawn from it.

The vendor panel logs each status sample (two a second) to a file and charts temperature with focuser position,
power, and the environment, averaging a few seconds of samples into each chart point. The driver does the same with
`SessionLog`; `astrolink4-charts` (`main`) turns a file into PNG charts and a nightly summary afterwards.

Nothing written is lost: the file is only ever appended to, each row goes out in one os.write on an O_APPEND
descriptor (a killed process leaves whole rows), and a crash-torn last line is closed with a newline before the next
row so the new row never merges with it. fsync is rate-limited because a status sample arrives every half second.

This module is imported by the driver process, so matplotlib is imported only inside the chart functions.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
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
        """The sample keyed by column name, as read_csv returns it."""
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
                # here makes read_csv take the following rows by these names.
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


# --- reading ----------------------------------------------------------------------------------------------------------


def _parse_field(name: str, text: str) -> Any:
    if text == "":
        return None
    if name == "time_utc":
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:
            raise ValueError(f"time without zone: {text!r}")
        return when.astimezone(UTC)
    if name in BOOLEAN_COLUMNS:
        if text not in ("0", "1"):
            raise ValueError(f"{name}: {text!r} is not 0 or 1")
        return text == "1"
    if name in INTEGER_COLUMNS:
        try:
            return int(text)
        except ValueError:
            return float(text)
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{name}: {text!r} is not a finite number")
    return value


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a log file: time as aware UTC datetime, numbers as int/float, outputs as bool, empty as None.

    Lines that cannot be a whole row are skipped: a torn last line (no newline yet), a torn line closed by a later
    append, or bytes left by a crash. A header line anywhere (a file continued by another column layout) names the
    columns of the rows after it.
    """
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    # The part after the last newline is empty for a whole file, or a row whose writer was killed.
    lines.pop()
    columns: tuple[str, ...] = COLUMNS
    rows: list[dict[str, Any]] = []
    for raw in lines:
        try:
            line = raw.decode("ascii").rstrip("\r")
        except UnicodeDecodeError:
            continue
        if not line:
            continue
        values = line.split(",")
        if values[0] == "time_utc":
            columns = tuple(values)
            continue
        if len(values) != len(columns):
            continue
        try:
            row = {name: _parse_field(name, text) for name, text in zip(columns, values)}
        except ValueError:
            continue
        if row.get("time_utc") is None:
            continue
        rows.append(row)
    return rows


# --- chart data -------------------------------------------------------------------------------------------------------

# The vendor panel's "data collection sampling rate": samples averaged into one chart point. It recommends 5 or 10 s.
DEFAULT_AVERAGE_S = 5.0
MAX_AVERAGE_S = 3600.0

# Columns the charts and the summary derive from the logged ones.
DERIVED: tuple[str, ...] = ("energy_used_wh", "energy_used_ah", "dew_margin_1", "dew_margin_2")

# Columns that change in jumps: a chart point takes the last value of its period (an average of two focuser positions
# is a position the focuser never held) and the line is drawn as steps.
STEPPED = frozenset({"position", "pwm_1", "pwm_2", "output_1", "output_2", "output_3", "pending_compensation"})

# Points further apart than this (or than three point spacings, when points are sparser) are from separate sessions
# or an outage: the line is broken there instead of bridging the time nothing was logged.
MIN_GAP = timedelta(seconds=10)


def _as_rows(rows: Iterable[Mapping[str, Any] | Sample]) -> list[Mapping[str, Any]]:
    result = [row.as_row() if isinstance(row, Sample) else row for row in rows]
    result = [row for row in result if row.get("time_utc") is not None]
    # Appended in arrival order; a clock step backwards would make lines zigzag.
    result.sort(key=lambda row: row["time_utc"])
    return result


def _number(row: Mapping[str, Any], name: str) -> float | None:
    value = row.get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def energy_used(rows: Sequence[Mapping[str, Any]], counter: str) -> list[float | None]:
    """The energy used since the first sample, from one of the device's cumulative counters (amp_hours, watt_hours).

    The counter counts from the device's power-on: when it goes back, the device was restarted and counted again from
    zero, so its new value is added rather than the drop subtracted. Never negative."""
    used = 0.0
    last: float | None = None
    result: list[float | None] = []
    for row in rows:
        value = _number(row, counter)
        if value is None or value < 0:
            result.append(None)
            continue
        if last is not None:
            used += value - last if value >= last else value
        last = value
        result.append(used)
    return result


def with_derived(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows with the DERIVED columns: energy used this night (Wh, Ah) and each sensor's dew margin (°C above its
    dew point)."""
    watt_hours = energy_used(rows, "watt_hours")
    amp_hours = energy_used(rows, "amp_hours")
    result = []
    for row, wh, ah in zip(rows, watt_hours, amp_hours):
        extended = dict(row, energy_used_wh=wh, energy_used_ah=ah)
        for sensor in ("1", "2"):
            temperature, dew_point = _number(row, f"temperature_{sensor}"), _number(row, f"dew_point_{sensor}")
            margin = None if temperature is None or dew_point is None else temperature - dew_point
            extended[f"dew_margin_{sensor}"] = margin
        result.append(extended)
    return result


def average(rows: Sequence[Mapping[str, Any]], period_s: float) -> list[dict[str, Any]]:
    """Chart points: the samples of each `period_s` (aligned to whole periods of UTC) merged into one, at their mean
    time, holding the mean of each numeric column and the last value of each STEPPED one. 0 keeps every sample."""
    if period_s < 0 or not math.isfinite(period_s):
        raise ValueError(f"the averaging period must be 0 or more seconds, got {period_s}")
    if period_s == 0:
        return [dict(row) for row in rows]
    points: list[dict[str, Any]] = []
    group: list[Mapping[str, Any]] = []
    group_key = None
    for row in rows:
        key = math.floor(row["time_utc"].timestamp() / period_s)
        if group and key != group_key:
            points.append(_merge(group))
            group = []
        group.append(row)
        group_key = key
    if group:
        points.append(_merge(group))
    return points


def _merge(group: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first = group[0]["time_utc"]
    offset = sum(((row["time_utc"] - first).total_seconds() for row in group), 0.0) / len(group)
    point: dict[str, Any] = {"time_utc": first + timedelta(seconds=offset)}
    for name in dict.fromkeys(name for row in group for name in row if name != "time_utc"):
        present = [row[name] for row in group if row.get(name) is not None]
        if not present:
            point[name] = None
        elif name in STEPPED:
            point[name] = present[-1]
        else:
            numbers = [value for value in (_number(row, name) for row in group) if value is not None]
            point[name] = sum(numbers) / len(numbers) if numbers else None
    return point


def gap_threshold(times: Sequence[datetime]) -> timedelta:
    """How far apart two points may be and still be joined by a line: MIN_GAP, or three times the usual spacing."""
    steps = sorted(later - earlier for earlier, later in zip(times, times[1:]))
    usual = steps[len(steps) // 2] if steps else timedelta(0)
    return max(MIN_GAP, 3 * usual)


def _gap_indices(times: Sequence[datetime]) -> list[int]:
    """Indices of the points that follow a gap."""
    threshold = gap_threshold(times)
    return [index for index in range(1, len(times)) if times[index] - times[index - 1] > threshold]


def night_label(rows: Sequence[Mapping[str, Any]]) -> str:
    """'2026-11-21/22' for the observing night (noon to noon UTC) of the first row; the last one's too if different."""
    first = datetime.strptime(night_date(rows[0]["time_utc"]), "%Y-%m-%d")
    last = datetime.strptime(night_date(rows[-1]["time_utc"]), "%Y-%m-%d")
    label = f"{first:%Y-%m-%d}/{first + timedelta(days=1):%d}"
    return label if last == first else f"{label} to {last:%Y-%m-%d}/{last + timedelta(days=1):%d}"


# --- the nightly summary ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Extreme:
    minimum: float
    minimum_at: datetime
    maximum: float
    maximum_at: datetime


@dataclass(frozen=True, slots=True)
class NightSummary:
    night: str
    first: datetime
    last: datetime
    logged: timedelta  # time covered by samples, gaps left out
    gaps: tuple[tuple[datetime, datetime], ...]
    extremes: dict[str, Extreme]  # by column, for the columns with any value
    energy_wh: float | None
    energy_ah: float | None
    counter_restarts: int  # times the device's energy counters went back (restarted from zero)
    focus_moves: int
    focus_steps: int  # steps travelled, all moves together
    position_first: int | None
    position_last: int | None
    compensations: int  # corrections the device applied (see `compensations`)
    compensation_steps: int  # the steps the focuser moved for them, signed


def _extreme(rows: Sequence[Mapping[str, Any]], name: str) -> Extreme | None:
    values = [(value, row["time_utc"]) for row in rows if (value := _number(row, name)) is not None]
    if not values:
        return None
    low = min(values, key=lambda item: item[0])
    high = max(values, key=lambda item: item[0])
    return Extreme(low[0], low[1], high[0], high[1])


@dataclass(frozen=True, slots=True)
class FocusMove:
    before: datetime  # the last sample before the position changed
    end: datetime  # the first sample at the new position (the next one holds it too, or the log ends)
    steps: int  # signed


def focus_moves(rows: Sequence[Mapping[str, Any]]) -> list[FocusMove]:
    """The focuser's moves: each a run of samples whose position changes from one to the next."""
    moves: list[FocusMove] = []
    last: tuple[datetime, int] | None = None
    start: tuple[datetime, int] | None = None
    for row in rows:
        position = row.get("position")
        if position is None:
            continue
        now = row["time_utc"]
        if last is not None and position != last[1]:
            if start is None:
                start = last
        elif start is not None and last is not None:
            moves.append(FocusMove(start[0], last[0], last[1] - start[1]))
            start = None
        last = (now, position)
    if start is not None and last is not None:
        moves.append(FocusMove(start[0], last[0], last[1] - start[1]))
    return moves


# How long after the pending compensation falls the device's correction may still start or be under way.
COMPENSATION_MOVE_WINDOW = timedelta(seconds=10)


def compensations(rows: Sequence[Mapping[str, Any]], moves: Sequence[FocusMove]) -> list[int]:
    """The corrections the device applied, in steps (signed, as the focuser moved).

    The pending compensation grows with the temperature change since the last correction and falls back towards zero
    when the device applies it (automatically, or asked to): a fall of at least half its value and of two steps or
    more counts (a sensor's jitter moves it a step at a time). The steps are those of the focuser move that came with
    it; without one (the focuser at its end, or a short status line), the fall itself."""
    result: list[int] = []
    last: tuple[datetime, int] | None = None
    for row in rows:
        pending = row.get("pending_compensation")
        if pending is None:
            continue
        if last is not None and abs(pending) < abs(last[1]):
            fall = last[1] - pending
            if abs(fall) >= 2 and abs(fall) * 2 >= abs(last[1]):
                window_end = row["time_utc"] + COMPENSATION_MOVE_WINDOW
                move = next((m for m in moves if m.end >= last[0] and m.before <= window_end), None)
                result.append(move.steps if move is not None else fall)
        last = (row["time_utc"], pending)
    return result


SUMMARY_COLUMNS = (
    "temperature_1", "temperature_2", "humidity_1", "humidity_2", "dew_margin_1", "dew_margin_2",
    "sky_temperature", "ambient_minus_sky", "sky_brightness", "voltage", "current",
)  # fmt: skip


def night_summary(rows: Iterable[Mapping[str, Any] | Sample]) -> NightSummary:
    """The night at a glance, from every sample (not the chart points). Raises ValueError when there are no rows."""
    ordered = with_derived(_as_rows(rows))
    if not ordered:
        raise ValueError("no rows to summarise")
    times = [row["time_utc"] for row in ordered]
    gap_starts = _gap_indices(times)
    gaps = tuple((times[index - 1], times[index]) for index in gap_starts)
    logged = (times[-1] - times[0]) - sum((end - start for start, end in gaps), timedelta(0))
    extremes = {name: extreme for name in SUMMARY_COLUMNS if (extreme := _extreme(ordered, name)) is not None}
    watt_hours = [value for value in (row["energy_used_wh"] for row in ordered) if value is not None]
    amp_hours = [value for value in (row["energy_used_ah"] for row in ordered) if value is not None]
    counters = [value for row in ordered if (value := _number(row, "watt_hours")) is not None]
    restarts = sum(1 for earlier, later in zip(counters, counters[1:]) if later < earlier)
    moves = focus_moves(ordered)
    positions = [row["position"] for row in ordered if row.get("position") is not None]
    corrections = compensations(ordered, moves)
    return NightSummary(
        night=night_label(ordered),
        first=times[0],
        last=times[-1],
        logged=logged,
        gaps=gaps,
        extremes=extremes,
        energy_wh=watt_hours[-1] if watt_hours else None,
        energy_ah=amp_hours[-1] if amp_hours else None,
        counter_restarts=restarts,
        focus_moves=len(moves),
        focus_steps=sum(abs(move.steps) for move in moves),
        position_first=positions[0] if positions else None,
        position_last=positions[-1] if positions else None,
        compensations=len(corrections),
        compensation_steps=sum(corrections),
    )


def _hm(when: datetime) -> str:
    return f"{when.astimezone(UTC):%H:%M}"


def _duration(span: timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


SUMMARY_LABELS: dict[str, tuple[str, str, str]] = {
    # column: (label, unit, format)
    "temperature_1": ("temperature 1", "°C", ".1f"),
    "temperature_2": ("temperature 2", "°C", ".1f"),
    "humidity_1": ("humidity 1", "%", ".0f"),
    "humidity_2": ("humidity 2", "%", ".0f"),
    "dew_margin_1": ("dew margin 1", "°C", ".1f"),
    "dew_margin_2": ("dew margin 2", "°C", ".1f"),
    "sky_temperature": ("sky temperature", "°C", ".1f"),
    "ambient_minus_sky": ("ambient − sky", "°C", ".1f"),
    "sky_brightness": ("sky brightness", "mag/arcsec²", ".2f"),
    "voltage": ("input voltage", "V", ".2f"),
    "current": ("current", "A", ".2f"),
}


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def summary_text(summary: NightSummary) -> list[str]:
    """The summary as lines for a terminal, at most 70 characters wide (times in UTC)."""
    lines = [
        f"Night of {summary.night}, times UTC",
        f"logged {_hm(summary.first)}–{_hm(summary.last)}, {_duration(summary.logged)}",
    ]
    if summary.gaps:
        listed = ", ".join(f"{_hm(start)}–{_hm(end)}" for start, end in summary.gaps[:4])
        more = f" and {len(summary.gaps) - 4} more" if len(summary.gaps) > 4 else ""
        lines.append(f"not logged {listed}{more}")
    lines += ["", f"{'':<16}{'lowest':>18}{'at':>7}{'highest':>19}{'at':>7}"]
    for name, (label, unit, spec) in SUMMARY_LABELS.items():
        extreme = summary.extremes.get(name)
        if extreme is not None:
            low, high = f"{extreme.minimum:{spec}} {unit}", f"{extreme.maximum:{spec}} {unit}"
            lines.append(f"{label:<16}{low:>18}{_hm(extreme.minimum_at):>7}{high:>19}{_hm(extreme.maximum_at):>7}")
    if "dew_margin_1" in summary.extremes or "dew_margin_2" in summary.extremes:
        lines.append("(dew margin: how far a temperature stayed above its dew point)")
    lines.append("")
    if summary.energy_wh is not None or summary.energy_ah is not None:
        used = " / ".join(
            text
            for value, text in ((summary.energy_wh, f"{summary.energy_wh or 0:.1f} Wh"),
                                (summary.energy_ah, f"{summary.energy_ah or 0:.2f} Ah"))
            if value is not None
        )  # fmt: skip
        lines.append(f"{'energy used':<16}{used}")
        if summary.counter_restarts:
            lines.append(f"{'':<16}(the device restarted {_times(summary.counter_restarts)}: counted across)")
    if summary.position_first is not None:
        lines.append(
            f"{'focus moves':<16}{summary.focus_moves}, {summary.focus_steps} steps travelled, "
            f"{summary.position_first} → {summary.position_last}"
        )
        lines.append(
            f"{'compensation':<16}applied {_times(summary.compensations)}, {summary.compensation_steps:+d} steps in all"
        )
    return lines


# --- charts -----------------------------------------------------------------------------------------------------------

LABELS: dict[str, str] = {
    "position": "focuser position",
    "temperature_1": "temperature 1",
    "humidity_1": "humidity 1",
    "dew_point_1": "dew point 1",
    "temperature_2": "temperature 2",
    "humidity_2": "humidity 2",
    "dew_point_2": "dew point 2",
    "sky_temperature": "sky temperature",
    "ambient_minus_sky": "ambient − sky",
    "sky_brightness": "sky brightness",
    "pwm_1": "dew heater 1",
    "pwm_2": "dew heater 2",
    "output_1": "output 1",
    "output_2": "output 2",
    "output_3": "output 3",
    "voltage": "voltage",
    "current": "current",
    "energy_used_wh": "energy used",
    "energy_used_ah": "energy used (Ah)",
    "pending_compensation": "pending compensation",
    "dew_margin_1": "dew margin 1",
    "dew_margin_2": "dew margin 2",
}

# One colour per sensor or quantity on every chart; a dew point is dashed in its sensor's colour.
STYLES: dict[str, tuple[str, str]] = {
    "temperature_1": ("tab:blue", "-"),
    "dew_point_1": ("tab:blue", "--"),
    "humidity_1": ("tab:blue", "-"),
    "dew_margin_1": ("tab:blue", "-"),
    "temperature_2": ("tab:orange", "-"),
    "dew_point_2": ("tab:orange", "--"),
    "humidity_2": ("tab:orange", "-"),
    "dew_margin_2": ("tab:orange", "-"),
    "position": ("tab:red", "-"),
    "pending_compensation": ("tab:purple", "-"),
    "sky_temperature": ("tab:cyan", "-"),
    "ambient_minus_sky": ("tab:green", "-"),
    "sky_brightness": ("midnightblue", "-"),
    "voltage": ("darkgoldenrod", "-"),
    "current": ("tab:brown", "-"),
    "energy_used_wh": ("tab:red", "-"),
    "pwm_1": ("tab:blue", "-"),
    "pwm_2": ("tab:orange", "-"),
    "output_1": ("tab:green", "-"),
    "output_2": ("tab:purple", "-"),
    "output_3": ("tab:gray", "-"),
}


@dataclass(frozen=True, slots=True)
class Scale:
    """One y axis: its series and how its range is chosen."""

    label: str
    series: tuple[str, ...]
    limits: tuple[float, float] | None = None  # a fixed range
    min_span: float = 0.0  # otherwise automatic, but at least this wide: sensor noise must not fill the panel
    floor: float | None = None  # and never below this (energy, current: never shown negative)
    timeline: bool = False  # on/off series drawn as bars, one row each


@dataclass(frozen=True, slots=True)
class Panel:
    """One subplot: a scale on the left and, optionally, one on a twin right axis."""

    left: Scale
    right: Scale | None = None
    height: float = 1.0

    @property
    def scales(self) -> tuple[Scale, ...]:
        return (self.left,) if self.right is None else (self.left, self.right)


TEMPERATURES = ("temperature_1", "temperature_2")
TEMPERATURES_AND_DEW_POINTS = ("temperature_1", "dew_point_1", "temperature_2", "dew_point_2")
CHARTS: dict[str, tuple[str, tuple[Panel, ...]]] = {
    "focus": (
        "Focus: temperature and focuser position",
        (
            Panel(
                Scale("temperature (°C)", TEMPERATURES, min_span=4.0),
                Scale("focuser position (steps)", ("position",), min_span=50.0),
                height=2.0,
            ),
            Panel(Scale("pending compensation\n(steps)", ("pending_compensation",), min_span=10.0), height=0.8),
        ),
    ),
    "power": (
        "Power",
        (
            Panel(
                Scale("input voltage (V)", ("voltage",), min_span=1.0),
                Scale("current (A)", ("current",), min_span=1.0, floor=0.0),
                height=1.4,
            ),
            Panel(Scale("energy used (Wh)", ("energy_used_wh",), min_span=1.0, floor=0.0), height=1.2),
            Panel(Scale("dew heaters (%)", ("pwm_1", "pwm_2"), limits=(0.0, 100.0)), height=1.0),
            Panel(Scale("12 V outputs", ("output_1", "output_2", "output_3"), timeline=True), height=0.6),
        ),
    ),
    "environment": (
        "Environment",
        (
            Panel(
                Scale("temperature (°C)", TEMPERATURES_AND_DEW_POINTS, min_span=4.0),
                height=1.8,
            ),
            Panel(Scale("humidity (%)", ("humidity_1", "humidity_2"), limits=(0.0, 100.0)), height=1.0),
            Panel(Scale("sky (°C)", ("sky_temperature", "ambient_minus_sky"), min_span=4.0), height=1.0),
            # Magnitudes per square arcsecond grow as the sky gets darker: larger values up, darker up.
            Panel(Scale("sky brightness\n(mag/arcsec², darker ↑)", ("sky_brightness",), min_span=1.0), height=1.0),
        ),
    ),
}


@dataclass
class _Track:
    """What the charts draw: points as matplotlib date numbers, each column with NaN where it has no value and at
    the breaks inserted after each gap."""

    x: Any  # numpy array
    columns: dict[str, Any]
    isolated: list[int]  # indices of the points of stretches too short to show as a line: drawn as dots too
    spans: list[tuple[float, float]]  # (start, end) of each stretch logged without a gap


def _track(points: Sequence[Mapping[str, Any]], names: Iterable[str]) -> _Track:
    import numpy as np
    from matplotlib import dates as mdates

    times = [point["time_utc"] for point in points]
    gaps = _gap_indices(times)
    x = np.asarray(mdates.date2num(times), dtype=float)
    # A point just after the last one before each gap, with no values: the line stops there, one second on.
    filler = x[np.asarray(gaps, dtype=int) - 1] + 1.0 / 86400 if gaps else np.array([])
    broken_x = np.insert(x, gaps, filler)
    columns = {}
    for name in names:
        values = np.array([_plotted(point.get(name)) for point in points], dtype=float)
        if np.all(np.isnan(values)):
            continue
        columns[name] = np.insert(values, gaps, math.nan)
    bounds = [0, *gaps, len(times)]
    spans = [(float(x[start]), float(x[end - 1])) for start, end in zip(bounds, bounds[1:])]
    # A stretch too short to show as a line (one sample, or a few seconds in a night) gets dots. Its indices in the
    # broken arrays are shifted by the fillers inserted before it.
    shortest = (x[-1] - x[0]) / 300
    isolated = [
        index + number
        for number, (start, end) in enumerate(zip(bounds, bounds[1:]))
        if end - start == 1 or x[end - 1] - x[start] < shortest
        for index in range(start, end)
    ]
    return _Track(broken_x, columns, isolated, spans)


def _plotted(value: Any) -> float:
    """A value as a float for plotting: on/off as 1/0, no value (or not a finite number) as NaN."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return math.nan


def _limits(values: Sequence[Any], scale: Scale) -> tuple[float, float] | None:
    import numpy as np

    if scale.limits is not None:
        return scale.limits
    finite = np.concatenate([np.asarray(v)[np.isfinite(v)] for v in values]) if values else np.array([])
    if finite.size == 0:
        return None
    low, high = float(finite.min()), float(finite.max())
    margin = max((high - low) * 0.08, 1e-9)
    low, high = low - margin, high + margin
    if high - low < scale.min_span:
        middle = (low + high) / 2
        low, high = middle - scale.min_span / 2, middle + scale.min_span / 2
    if scale.floor is not None and low < scale.floor:
        high += scale.floor - low if high - low < scale.min_span else 0.0
        low = scale.floor
    return low, high


def _time_axis(axis: Any, span_days: float, most_ticks: int = 14) -> None:
    from matplotlib import dates as mdates

    axis.xaxis.set_major_locator(mdates.AutoDateLocator(tz=UTC, minticks=4, maxticks=most_ticks))
    axis.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if span_days < 0.9 else "%d %H:%M", tz=UTC))


def _draw_scale(axis: Any, scale: Scale, track: _Track) -> list[Any]:
    """Draw one scale's series on `axis`; the legend handles."""
    present = [name for name in scale.series if name in track.columns]
    handles = []
    if scale.timeline:
        from matplotlib.patches import Patch

        for row, name in enumerate(present):
            color = STYLES.get(name, ("black", "-"))[0]
            on = _on_intervals(track, name)
            axis.broken_barh(on, (row - 0.3, 0.6), facecolors=color, alpha=0.75)
            handles.append(Patch(color=color, alpha=0.75, label=f"{LABELS.get(name, name)} on"))
        axis.set_yticks(range(len(present)), [LABELS.get(name, name) for name in present], fontsize="small")
        axis.set_ylim(len(present) - 0.5, -0.5)
        return []  # the row labels say it all
    for name in present:
        color, style = STYLES.get(name, ("black", "-"))
        (line,) = axis.plot(
            track.x,
            track.columns[name],
            label=LABELS.get(name, name),
            color=color,
            linestyle=style,
            drawstyle="steps-post" if name in STEPPED else "default",
            linewidth=1.3,
        )
        handles.append(line)
        if track.isolated:
            # A point alone between two gaps has no line to be part of: a dot shows it.
            axis.plot(track.x[track.isolated], track.columns[name][track.isolated], "o", color=color, markersize=3)
    limits = _limits([track.columns[name] for name in present], scale)
    if limits is not None:
        axis.set_ylim(*limits)
    axis.set_ylabel(scale.label)
    return handles


def _on_intervals(track: _Track, name: str) -> list[tuple[float, float]]:
    """(start, width) of each stretch during which the on/off column was on; a stretch ends at a gap."""
    values = track.columns[name]
    result = []
    start = None
    for x, value in zip(track.x, values):
        on = value == value and value >= 0.5  # NaN (a gap's filler, or no value) ends a stretch
        if on and start is None:
            start = x
        elif not on and start is not None:
            result.append((start, x - start))
            start = None
    if start is not None:
        result.append((start, track.x[-1] - start))
    return result


def _set_time_limits(axis: Any, track: _Track) -> None:
    start, end = track.spans[0][0], track.spans[-1][1]
    # A little room at both ends so that a dot there is not cut in half; a few minutes around a lone sample.
    margin = max((end - start) * 0.01, 150 / 86400 if end - start < 60 / 86400 else 0.0)
    axis.set_xlim(start - margin, end + margin)


def _figure(height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, height_in), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)  # explicit Agg: no pyplot state, no display needed
    return figure


def _png(figure: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def chart_figure(name: str, points: Sequence[Mapping[str, Any]], night: str) -> Any:
    """The matplotlib Figure of one of CHARTS (chart points from `average`, rows `with_derived`)."""
    title, panels = CHARTS[name]
    track = _track(points, {name for panel in panels for scale in panel.scales for name in scale.series})
    drawn = [panel for panel in panels if any(name in track.columns for s in panel.scales for name in s.series)]
    figure = _figure(1.0 + 1.9 * max(1.0, sum(panel.height for panel in drawn)))
    figure.suptitle(f"{title} — night of {night}", fontsize="large")
    if not drawn:
        axis = figure.add_subplot(1, 1, 1)
        axis.text(0.5, 0.5, "no data for this chart", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
        return figure
    grid = figure.add_gridspec(len(drawn), 1, height_ratios=[panel.height for panel in drawn])
    first_axis = None
    span_days = float(track.spans[-1][1] - track.spans[0][0])
    for index, panel in enumerate(drawn):
        axis = figure.add_subplot(grid[index, 0], sharex=first_axis)
        first_axis = first_axis or axis
        handles = _draw_scale(axis, panel.left, track)
        top = axis
        if panel.right is not None and any(name in track.columns for name in panel.right.series):
            top = axis.twinx()
            handles += _draw_scale(top, panel.right, track)
            top.yaxis.label.set_color(top.get_lines()[0].get_color())
            axis.yaxis.label.set_color(axis.get_lines()[0].get_color() if axis.get_lines() else "black")
        axis.grid(True, alpha=0.3)
        axis.tick_params(labelbottom=index == len(drawn) - 1)
        if handles:
            # Above the panel, where it can cover no data (on the topmost axes: a twin axis is drawn over its host).
            top.legend(
                handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize="small", frameon=False,
                ncols=len(handles), borderaxespad=0.1,
            )  # fmt: skip
        _time_axis(axis, span_days)
    _set_time_limits(axis, track)
    axis.set_xlabel("time (UTC)")
    return figure


def summary_figure(summary: NightSummary, points: Sequence[Mapping[str, Any]]) -> Any:
    """One page: the summary's table, and beside it the night's temperatures, dew margins, focuser and energy."""
    figure = _figure(8.5)
    figure.suptitle(f"Night of {summary.night} — summary (times UTC)", fontsize="x-large")
    grid = figure.add_gridspec(4, 2, width_ratios=[1.0, 1.0])
    text_axis = figure.add_subplot(grid[:, 0])
    text_axis.set_axis_off()
    text_axis.text(
        0.0, 1.0, "\n".join(summary_text(summary)[1:]), va="top", ha="left", family="monospace", fontsize=10,
        transform=text_axis.transAxes, linespacing=1.7,
    )  # fmt: skip
    panels = (
        Scale("temperature (°C)", TEMPERATURES_AND_DEW_POINTS, min_span=4.0),
        Scale("dew margin (°C)", ("dew_margin_1", "dew_margin_2"), min_span=4.0),
        Scale("focuser (steps)", ("position",), min_span=50.0),
        Scale("energy used (Wh)", ("energy_used_wh",), min_span=1.0, floor=0.0),
    )
    track = _track(points, {name for scale in panels for name in scale.series})
    span_days = float(track.spans[-1][1] - track.spans[0][0])
    first_axis = None
    for index, scale in enumerate(panels):
        axis = figure.add_subplot(grid[index, 1], sharex=first_axis)
        first_axis = first_axis or axis
        handles = _draw_scale(axis, scale, track)
        if not handles:
            axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes, color="gray")
        elif len(handles) > 1:
            axis.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize="x-small",
                        frameon=False, ncols=len(handles), borderaxespad=0.1)  # fmt: skip
        if scale.series[0] == "dew_margin_1" and handles:
            axis.axhline(0.0, color="tab:red", linewidth=0.8)
            axis.text(0.01, 0.0, "dew", color="tab:red", fontsize="x-small", ha="left", va="bottom",
                      transform=axis.get_yaxis_transform())  # fmt: skip
        axis.set_ylabel(scale.label, fontsize="small")
        axis.grid(True, alpha=0.3)
        axis.tick_params(labelbottom=index == len(panels) - 1, labelsize="small")
        _time_axis(axis, span_days, most_ticks=7)
    _set_time_limits(axis, track)
    axis.set_xlabel("time (UTC)", fontsize="small")
    return figure


def render_charts(
    rows: Iterable[Mapping[str, Any] | Sample], output_dir: Path, stem: str, *, average_s: float = DEFAULT_AVERAGE_S
) -> list[Path]:
    """Write `stem`-focus.png, -power.png, -environment.png and -summary.png into output_dir; returns their paths.

    Chart points average `average_s` seconds of samples (0: every sample); the summary reads every sample. Columns
    without any value are left out; a chart with no data at all still gets a (labelled) image so the paths always
    exist. Raises ValueError when there are no rows or the period is negative.
    """
    from ..files import atomic_write_bytes

    ordered = with_derived(_as_rows(rows))
    if not ordered:
        raise ValueError("no rows to chart")
    points = average(ordered, average_s)
    night = night_label(ordered)
    output_dir = Path(output_dir)
    paths = []
    for name in CHARTS:
        path = output_dir / f"{stem}-{name}.png"
        atomic_write_bytes(path, _png(chart_figure(name, points, night)))
        paths.append(path)
    path = output_dir / f"{stem}-summary.png"
    atomic_write_bytes(path, _png(summary_figure(night_summary(ordered), points)))
    paths.append(path)
    return paths


# --- command line -----------------------------------------------------------------------------------------------------


def summary_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Time span, then min/max/mean of every numeric column (outputs count as 0/1: the mean is the time-on share)."""
    times = [row["time_utc"] for row in rows]
    start, end = min(times), max(times)
    lines = [
        f"rows: {len(rows)}",
        f"from: {format_time(start)}",
        f"to:   {format_time(end)}",
        f"span: {end - start}",
        f"{'column':<22}{'count':>8}{'min':>12}{'max':>12}{'mean':>12}",
    ]
    names = [name for name in rows[0] if name != "time_utc"]
    for name in names:
        values = [float(row[name]) for row in rows if isinstance(row.get(name), (int, float))]
        if not values:
            lines.append(f"{name:<22}{0:>8}{'-':>12}{'-':>12}{'-':>12}")
            continue
        mean = sum(values) / len(values)
        lines.append(f"{name:<22}{len(values):>8}{min(values):>12.3f}{max(values):>12.3f}{mean:>12.3f}")
    return lines


def _average_seconds(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= MAX_AVERAGE_S:
        raise argparse.ArgumentTypeError(f"the averaging period must be 0 to {MAX_AVERAGE_S:g} s, not {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="astrolink4-charts",
        description="Draw PNG charts (focus, power, environment, and a one-page summary) from an AstroLink 4 session "
        "log CSV. Times are UTC.",
    )
    parser.add_argument("csv", type=Path, help="a log file written by the driver")
    parser.add_argument("--out", type=Path, help="directory for the PNGs (default: next to the CSV)")
    parser.add_argument(
        "--average",
        type=_average_seconds,
        default=DEFAULT_AVERAGE_S,
        metavar="SECONDS",
        help=f"seconds of samples averaged into one chart point, as the vendor panel's sampling rate setting "
        f"(default {DEFAULT_AVERAGE_S:g}; 0 draws every sample)",
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="also print the nightly summary (temperature, humidity, dew margin, energy, focus) and column statistics",
    )
    args = parser.parse_args(argv)

    source: Path = args.csv
    if not source.is_file():
        print(f"astrolink4-charts: no such file: {source}", file=sys.stderr)
        return 2
    try:
        rows = read_csv(source)
    except OSError as error:
        print(f"astrolink4-charts: cannot read {source}: {error.strerror or error}", file=sys.stderr)
        return 2
    if not rows:
        print(f"astrolink4-charts: {source} holds no samples", file=sys.stderr)
        return 2

    if args.summary:
        for line in summary_text(night_summary(rows)):
            print(line)
        print()
        for line in summary_lines(rows):
            print(line)
    try:
        paths = render_charts(
            rows, args.out if args.out is not None else source.parent, source.stem, average_s=args.average
        )
    except ImportError:
        message = "matplotlib is needed for charts (pip install 'indi_astrojolo[plots]')"
        print(f"astrolink4-charts: {message}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"astrolink4-charts: cannot write charts: {error}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
