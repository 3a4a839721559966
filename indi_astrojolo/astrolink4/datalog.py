"""Session data log for the AstroLink 4: every status sample appended to a dated CSV file, and charts drawn from it.

The vendor panel logs each status sample (two a second) to a file and charts temperature with focuser position,
power, and the environment. The driver does the same with `SessionLog`; `astrolink4-charts` (`main`) turns a file
into PNG charts afterwards.

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
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

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
        if self.time.utcoffset() != timedelta(0) or self.time.tzinfo is not timezone.utc:
            object.__setattr__(self, "time", self.time.astimezone(timezone.utc))

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
    return (when.astimezone(timezone.utc) - NIGHT_SHIFT).strftime("%Y-%m-%d")


def file_for(directory: Path, when: datetime, device: str = DEFAULT_DEVICE) -> Path:
    """The log file of the observing night containing `when` (nights run from noon UTC to noon UTC)."""
    return Path(directory) / f"{slug(device)}-{night_date(when)}.csv"


# --- formatting -------------------------------------------------------------------------------------------------------


def format_time(when: datetime) -> str:
    utc = when.astimezone(timezone.utc)
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
                raise OSError(errno.ELOOP, "the log file is a symbolic link, which is not followed", str(path)) from None
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
        return when.astimezone(timezone.utc)
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
    "pwm_1": "PWM 1",
    "pwm_2": "PWM 2",
    "output_1": "output 1",
    "output_2": "output 2",
    "output_3": "output 3",
    "voltage": "voltage",
    "current": "current",
    "amp_hours": "energy (Ah)",
    "watt_hours": "energy (Wh)",
    "pending_compensation": "pending compensation",
}

# Columns drawn as steps: they change in jumps, and a sloped line would suggest values never held.
STEPPED = frozenset({"position", "pwm_1", "pwm_2", "output_1", "output_2", "output_3"})


@dataclass(frozen=True, slots=True)
class Panel:
    """One subplot: series on the left axis and, optionally, on a twin right axis."""

    left: tuple[str, ...]
    left_label: str
    right: tuple[str, ...] = ()
    right_label: str = ""
    height: float = 2.0


CHARTS: dict[str, tuple[str, tuple[Panel, ...]]] = {
    "focus": (
        "Temperature and focuser position",
        (Panel(("temperature_1", "temperature_2"), "temperature (°C)", ("position",), "position (steps)"),),
    ),
    "power": (
        "Power",
        (
            Panel(("voltage", "current"), "voltage (V) / current (A)", ("amp_hours",), "energy (Ah)"),
            Panel(("pwm_1", "pwm_2"), "PWM (%)", ("output_1", "output_2", "output_3"), "output (on/off)", height=1.0),
        ),
    ),
    "environment": (
        "Environment",
        (
            Panel(
                ("temperature_1", "dew_point_1", "temperature_2", "dew_point_2"),
                "temperature (°C)",
                ("humidity_1", "humidity_2"),
                "humidity (%)",
            ),
            Panel(("sky_temperature", "ambient_minus_sky"), "sky (°C)", ("sky_brightness",), "sky brightness"),
        ),
    ),
}

# Samples further apart than this are from separate connections; the line is broken instead of bridging the gap.
GAP = timedelta(seconds=60)


def _as_rows(rows: Iterable[Mapping[str, Any] | Sample]) -> list[Mapping[str, Any]]:
    result = [row.as_row() if isinstance(row, Sample) else row for row in rows]
    result = [row for row in result if row.get("time_utc") is not None]
    # Appended in arrival order; a clock step backwards would make lines zigzag.
    result.sort(key=lambda row: row["time_utc"])
    return result


def _series(rows: Sequence[Mapping[str, Any]], name: str) -> list[float] | None:
    """The column as floats with NaN for missing values, or None when it holds no value at all."""
    values = [math.nan if row.get(name) is None else float(row[name]) for row in rows]
    return None if all(math.isnan(value) for value in values) else values


def _gap_indices(times: Sequence[datetime]) -> list[int]:
    """Indices of samples that follow a gap longer than GAP."""
    return [index for index in range(1, len(times)) if times[index] - times[index - 1] > GAP]


def _break_at(items: Sequence[Any], gaps: Sequence[int], filler: Callable[[int], Any]) -> list[Any]:
    # A NaN point inserted before each gap makes matplotlib break the line there without hiding any sample.
    result: list[Any] = []
    start = 0
    for index in gaps:
        result.extend(items[start:index])
        result.append(filler(index))
        start = index
    result.extend(items[start:])
    return result


def _draw_chart(title: str, panels: Sequence[Panel], rows: Sequence[Mapping[str, Any]]) -> bytes:
    import io

    from matplotlib import dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    raw_times = [row["time_utc"] for row in rows]
    gaps = _gap_indices(raw_times)
    times = _break_at(raw_times, gaps, lambda index: raw_times[index - 1] + timedelta(seconds=1))
    columns: dict[str, list[float] | None] = {}
    for name in {name for panel in panels for name in panel.left + panel.right}:
        values = _series(rows, name)
        columns[name] = None if values is None else _break_at(values, gaps, lambda index: math.nan)
    drawn = [panel for panel in panels if any(columns[name] is not None for name in panel.left + panel.right)]

    figure = Figure(figsize=(12, 3.2 * max(1, sum(panel.height for panel in drawn) / 2)), dpi=100)
    FigureCanvasAgg(figure)  # explicit Agg: no pyplot state, no display needed
    figure.suptitle(title)
    if not drawn:
        axis = figure.add_subplot(1, 1, 1)
        axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
    else:
        grid = figure.add_gridspec(len(drawn), 1, height_ratios=[panel.height for panel in drawn])
        first_axis = None
        color_index = 0
        for index, panel in enumerate(drawn):
            axis = figure.add_subplot(grid[index, 0], sharex=first_axis)
            first_axis = first_axis or axis
            handles = []
            top = axis
            for side, names, label in ((axis, panel.left, panel.left_label), (None, panel.right, panel.right_label)):
                present = [name for name in names if columns[name] is not None]
                if not present:
                    continue
                target = side if side is not None else axis.twinx()
                top = target
                for offset, name in enumerate(present):
                    values = columns[name]
                    assert values is not None
                    if name in BOOLEAN_COLUMNS:
                        # Outputs share one 0/1 axis; a small offset keeps coincident states visible.
                        values = [value + 0.04 * offset for value in values]
                    (line,) = target.plot(
                        times,
                        values,
                        label=LABELS.get(name, name),
                        color=f"C{color_index % 10}",
                        linestyle="-" if side is not None else "--",
                        drawstyle="steps-post" if name in STEPPED else "default",
                        linewidth=1.2,
                    )
                    color_index += 1
                    handles.append(line)
                target.set_ylabel(label)
                if any(name in BOOLEAN_COLUMNS for name in present):
                    target.set_ylim(-0.1, 1.2)
                    target.set_yticks([0, 1], ["off", "on"])
            axis.grid(True, alpha=0.3)
            axis.tick_params(labelbottom=index == len(drawn) - 1)
            # On the topmost axes: a twin axis is drawn over its host and would cover a legend placed there.
            top.legend(handles=handles, loc="upper left", fontsize="small", framealpha=0.85)
            locator = mdates.AutoDateLocator(tz=timezone.utc)
            axis.xaxis.set_major_locator(locator)
            axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=timezone.utc))
        axis.set_xlabel("time (UTC)")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def render_charts(rows: Iterable[Mapping[str, Any] | Sample], output_dir: Path, stem: str) -> list[Path]:
    """Write `stem`-focus.png, -power.png and -environment.png into output_dir; returns their paths.

    Columns without any value are left out; a chart with no data at all still gets a (labelled) image so the
    three paths always exist. Raises ValueError when there are no rows.
    """
    from ..files import atomic_write_bytes

    ordered = _as_rows(rows)
    if not ordered:
        raise ValueError("no rows to chart")
    output_dir = Path(output_dir)
    paths = []
    for name, (title, panels) in CHARTS.items():
        path = output_dir / f"{stem}-{name}.png"
        atomic_write_bytes(path, _draw_chart(title, panels, ordered))
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


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="astrolink4-charts",
        description="Draw PNG charts (focus, power, environment) from an AstroLink 4 session log CSV.",
    )
    parser.add_argument("csv", type=Path, help="a log file written by the driver")
    parser.add_argument("--out", type=Path, help="directory for the PNGs (default: next to the CSV)")
    parser.add_argument("--summary", action="store_true", help="also print min/max/mean of each column and the span")
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
        for line in summary_lines(rows):
            print(line)
    try:
        paths = render_charts(rows, args.out if args.out is not None else source.parent, source.stem)
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
