"""Compensation calculator: a persisted table of (temperature, focuser position) points and the line through them.

The AstroLink 4 compensates focus with one linear coefficient in steps per °C. The vendor panel derives it from
points collected over one or more sessions; this module does the same for the INDI driver and for the
`astrolink4-compensation` command (tools/compensation.py, which adds the table, the plot and the command line). The
coefficient is the slope of position against temperature, so it is positive when a falling temperature needs a falling
position, as the manual defines it.

Sans-I/O: no device, port or event loop here. The fit is arithmetic, the store reads and writes only its points
file, and the driver hands positions and temperatures in.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path

from ..files import DocumentError, Fields, StoreProblem, indi_home, load_document, save_document

MIN_TEMPERATURE = -60.0  # °C; beyond what a focuser sensor reports outdoors, so likely a typo or a dead sensor
MAX_TEMPERATURE = 60.0
MAX_POSITION = 10_000_000  # steps

RECOMMENDED_RANGE = 5.0  # °C; the manual: 1-2 °C may be inaccurate, 5-10 °C is much better
POOR_FIT_R_SQUARED = 0.8

# Outliers: the modified z-score of Iglewicz and Hoaglin, M = 0.6745 (r - median r) / MAD, over the residuals.
# The median and the median absolute deviation are barely moved by the bad points themselves, unlike a mean and a
# standard deviation, which a single large mistake inflates until nothing looks unusual. 0.6745 makes the MAD
# comparable to a standard deviation for normal noise, and 3.5 is the cut-off those authors recommend. With fewer
# than 5 points the median is itself mostly made of the suspect points, so no judgement is made.
# The residuals are taken from the Theil-Sen line (median of pairwise slopes), not from the least-squares line: a
# mistake at the coldest or warmest end drags the least-squares line towards itself and hides among its neighbours,
# while the median line keeps following the good points as long as fewer than about 29 % of them are bad.
OUTLIER_MIN_POINTS = 5
OUTLIER_Z_THRESHOLD = 3.5
MAD_TO_SIGMA = 0.6745
# Positions are whole steps, so rounding alone scatters residuals by up to half a step. Without this floor an almost
# perfect set would have a tiny MAD and a point one step off would be called an outlier.
MIN_RESIDUAL_SPREAD = 0.5  # steps
# A point that stands out statistically is reported only if it also matters: leaving it in must move the fitted line,
# somewhere over the points' temperature range, by more than this many times the scatter of the other points about
# their own line. With a handful of tightly grouped points the MAD makes a point 6 steps off a 5 sigma "outlier"
# although the fit's RMS residual is 2.5 steps and the line hardly moves; the warning then contradicted the numbers
# shown beside it. A mistyped or misread point moves the line by many times the scatter.
OUTLIER_INFLUENCE_FACTOR = 3.0

FILE_FORMAT = "astrojolo-compensation-points"
FILE_VERSION = 1
DEFAULT_DEVICE = "AstroLink 4 USB"


# --- points and the fit ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Point:
    temperature: float  # °C
    position: int  # steps

    def __post_init__(self) -> None:
        # Every way of making a point (driver, command line, file) passes here, so a bad value never reaches the fit.
        object.__setattr__(self, "temperature", _checked_temperature(self.temperature))
        _check_position(self.position)


def _checked_temperature(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"temperature must be a number of °C, not {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"temperature must be a finite number of °C, not {value!r}")
    if not MIN_TEMPERATURE <= value <= MAX_TEMPERATURE:
        raise ValueError(
            f"temperature {value:g} °C is outside {MIN_TEMPERATURE:g} to {MAX_TEMPERATURE:g} °C; "
            "check the sensor or the number typed"
        )
    return float(value)


def _check_position(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"position must be a whole number of steps, not {value!r}")
    if not 0 <= value <= MAX_POSITION:
        raise ValueError(f"position {value} is outside 0 to {MAX_POSITION:,} steps")


@dataclass(frozen=True, slots=True)
class Fit:
    coefficient: float  # steps/°C, slope of position against temperature
    intercept: float  # position at 0 °C
    r_squared: float  # 0..1
    residual_rms: float  # steps
    temperature_range: float  # °C
    count: int
    outliers: tuple[int, ...]  # 1-based point numbers
    warnings: tuple[str, ...]

    def predict(self, temperature: float) -> float:
        return self.intercept + self.coefficient * temperature


class FitError(ValueError):
    pass


def fit(points: Sequence[Point]) -> Fit:
    """The least-squares line of position against temperature, with the quality checks the manual describes."""
    if len(points) < 2:
        raise FitError(f"need at least 2 points to fit a line, have {len(points)}")
    temperatures = [point.temperature for point in points]
    positions = [point.position for point in points]
    if len(set(temperatures)) == 1:
        raise FitError(
            f"all {len(points)} points are at {temperatures[0]:g} °C; "
            "a line needs points at two or more different temperatures"
        )

    coefficient, intercept = statistics.linear_regression(temperatures, positions)
    residuals = [
        position - (intercept + coefficient * temperature) for temperature, position in zip(temperatures, positions)
    ]
    robust_residuals = _theil_sen_residuals(temperatures, positions)
    result = Fit(
        coefficient=coefficient,
        intercept=intercept,
        r_squared=_r_squared(temperatures, positions),
        residual_rms=math.sqrt(statistics.fmean(residual * residual for residual in residuals)),
        temperature_range=max(temperatures) - min(temperatures),
        count=len(points),
        outliers=_outliers(temperatures, positions, robust_residuals),
        warnings=(),
    )
    return replace(result, warnings=_warnings(points, robust_residuals, result))


def _r_squared(temperatures: list[float], positions: list[int]) -> float:
    if len(set(positions)) == 1:
        return 1.0  # a flat set lies exactly on its (horizontal) line; correlation is undefined there
    # For a straight-line least-squares fit, r² is the square of Pearson's correlation.
    return min(1.0, statistics.correlation(temperatures, positions) ** 2)


def _theil_sen_residuals(temperatures: list[float], positions: list[int]) -> list[float]:
    # Quadratic in the number of points, which stays small for a hand-collected table.
    slope = statistics.median(
        (positions[j] - positions[i]) / (temperatures[j] - temperatures[i])
        for i, j in combinations(range(len(temperatures)), 2)
        if temperatures[i] != temperatures[j]
    )
    intercept = statistics.median(
        position - slope * temperature for temperature, position in zip(temperatures, positions)
    )
    return [position - (intercept + slope * temperature) for temperature, position in zip(temperatures, positions)]


def _outliers(temperatures: list[float], positions: list[int], residuals: list[float]) -> tuple[int, ...]:
    if len(residuals) < OUTLIER_MIN_POINTS:
        return ()
    centre = statistics.median(residuals)
    spread = max(statistics.median(abs(residual - centre) for residual in residuals), MIN_RESIDUAL_SPREAD)
    suspects = [
        number
        for number, residual in enumerate(residuals, start=1)
        if MAD_TO_SIGMA * abs(residual - centre) / spread > OUTLIER_Z_THRESHOLD
    ]
    clean = [i for i in range(len(residuals)) if i + 1 not in suspects]
    if not suspects or len({temperatures[i] for i in clean}) < 2:
        return tuple(suspects)
    clean_line = _line([temperatures[i] for i in clean], [positions[i] for i in clean])
    scatter = max(
        math.sqrt(statistics.fmean((positions[i] - _at(clean_line, temperatures[i])) ** 2 for i in clean)),
        MIN_RESIDUAL_SPREAD,
    )
    ends = (min(temperatures), max(temperatures))
    outliers = []
    for number in suspects:
        with_it = [*clean, number - 1]
        line = _line([temperatures[i] for i in with_it], [positions[i] for i in with_it])
        shift = max(abs(_at(line, t) - _at(clean_line, t)) for t in ends)  # lines differ most at an end
        if shift > OUTLIER_INFLUENCE_FACTOR * scatter:
            outliers.append(number)
    return tuple(outliers)


def _line(temperatures: list[float], positions: list[int]) -> tuple[float, float]:
    return statistics.linear_regression(temperatures, positions)


def _at(line: tuple[float, float], temperature: float) -> float:
    return line[1] + line[0] * temperature


def _warnings(points: Sequence[Point], robust_residuals: list[float], result: Fit) -> tuple[str, ...]:
    warnings: list[str] = []
    # Temperatures typed with one decimal can give 4.999999 for a 5 °C span; that span meets the recommendation.
    if result.temperature_range < RECOMMENDED_RANGE - 1e-9:
        # Round down, so an "only" is never shown as the recommendation itself; 1e-9 absorbs 12.1 - 10.0 = 2.0999...
        shown = math.floor(result.temperature_range * 10 + 1e-9) / 10
        warnings.append(f"the points' temperature range covers only {shown:.1f} °C; the manual recommends 5 to 10 °C")
    # One judgement (result.outliers) makes OUTLIERS, these warnings, the table's marks and the plot's crosses; the
    # message gives the other points' own scatter, so it can be checked against the numbers shown beside it.
    others = [residual for number, residual in enumerate(robust_residuals, 1) if number not in result.outliers]
    centre = statistics.median(others)
    scatter = math.sqrt(statistics.fmean((residual - centre) ** 2 for residual in others))
    for number in result.outliers:
        point = points[number - 1]
        warnings.append(
            f"point {number} ({point.temperature:.1f} °C, {point.position}) is far from the line "
            f"the other points follow ({format_signed(robust_residuals[number - 1] - centre, 0)} steps), which they "
            f"follow within {scatter:.1f} steps RMS; remove it if it was a mistake"
        )
    if result.r_squared < POOR_FIT_R_SQUARED:
        warnings.append(
            f"the points do not lie on a straight line (r² = {result.r_squared:.2f}); the coefficient may not work "
            "well. If they follow a curve, fit each temperature range separately; if they are scattered, collect a "
            "new set with one filter only"
        )
    return tuple(warnings)


def format_signed(value: float, digits: int) -> str:
    """`value` with its sign, to `digits` decimals; never "-0"."""
    return f"{round(value, digits) + 0.0:+.{digits}f}"  # + 0.0 turns -0.0 into 0.0


# --- the firmware's sign ----------------------------------------------------------------------------------------
#
# The manual contradicts itself. "When decreasing temperature requires the focuser position to decrease, then the
# value will be positive" makes the pending correction (T_now - T_ref) x coefficient; its example "if you put here 35
# and the temperature will drop 2C, then the focuser will move 70 steps (outwards)" makes it the opposite. Write the
# firmware's rule as pending = sign x coefficient x (T_now - T_ref): sign +1 is the first reading (MANUAL_RULE),
# -1 the example (MANUAL_EXAMPLE). Which one a unit follows is learnt from what it reports.

MANUAL_RULE = 1  # a positive coefficient: colder makes the pending correction negative (inward)
MANUAL_EXAMPLE = -1  # a positive coefficient: colder makes it positive (outward)

# How far an observation may stray from a sign's prediction and still agree with it: the device rounds the pending
# count (half a step at each end) and the temperature it uses is not quite the one it reports (resolution, noise).
SIGN_TOLERANCE_STEPS = 2.0
SIGN_TOLERANCE_DEGREES = 0.1  # °C, times the coefficient
SIGN_CONFIRMATIONS = 3  # decisive observations in a row, all for the same sign


def device_coefficient(slope: float, sign: int) -> float:
    """The coefficient to write so the device moves `slope` steps per °C of change, as the points say."""
    return slope * sign


def describe_sign(sign: int) -> str:
    direction = "inward (to smaller positions)" if sign == MANUAL_RULE else "outward (to larger positions)"
    return f"with a positive coefficient the device moves the focuser {direction} as it gets colder"


class SignLearner:
    """Learns the firmware's sign from the status lines: the pending count, the temperature and the coefficient.

    It follows position + pending, which changes by sign x coefficient x dT whether or not a compensation was applied
    in between (applying moves the focuser by the pending count and starts it again from 0). Any other change of
    position (a move the user asked for, however short), a new coefficient, or a line that fits neither sign (the
    reference reset by some other means) starts the observation again from the present line. A sign is decided only
    when the two predictions are far apart compared with the tolerance, and only after SIGN_CONFIRMATIONS such lines
    agree.
    """

    def __init__(self) -> None:
        self.sign: int | None = None
        self._anchor: tuple[float, float, float] | None = None  # temperature, position + pending, coefficient
        self._votes: list[int] = []
        self._last: tuple[int, int] | None = None  # position and pending on the previous still line

    def reset(self) -> None:
        self.sign = None
        self._anchor = None
        self._votes = []
        self._last = None

    def observe(
        self, temperature: float | None, pending: int | None, position: int, coefficient: float, moving: bool
    ) -> int | None:
        """One status line; returns the sign once it is known."""
        if self.sign is not None:
            return self.sign
        if temperature is None or pending is None or coefficient == 0 or moving:
            self._anchor = self._last = None  # nothing to learn from now, and the next still line starts afresh
            return None
        total = position + pending
        anchor, last, self._last = self._anchor, self._last, (position, pending)
        tolerance = SIGN_TOLERANCE_STEPS + abs(coefficient) * SIGN_TOLERANCE_DEGREES
        if (
            anchor is None
            or anchor[2] != coefficient
            or (last is not None and not self._explained(last, position, pending, tolerance))
        ):
            self._restart(temperature, total, coefficient)
            return None
        expected = coefficient * (temperature - anchor[0])  # the change a MANUAL_RULE device shows
        change = total - anchor[1]
        fitting = [sign for sign in (MANUAL_RULE, MANUAL_EXAMPLE) if abs(change - sign * expected) <= tolerance]
        if not fitting:
            self._restart(temperature, total, coefficient)
            return None
        if len(fitting) == 1 and abs(expected) >= 2 * tolerance:
            if self._votes and self._votes[-1] != fitting[0]:
                self._votes = []
            self._votes.append(fitting[0])
            if len(self._votes) >= SIGN_CONFIRMATIONS:
                self.sign = fitting[0]
        return self.sign

    @staticmethod
    def _explained(last: tuple[int, int], position: int, pending: int, tolerance: float) -> bool:
        """Did the focuser stay put, or move only as a compensation does (by the pending count, which then restarts)?"""
        moved = position - last[0]
        return moved == 0 or (abs(moved - last[1]) <= tolerance and abs(pending) <= tolerance)

    def _restart(self, temperature: float, total: float, coefficient: float) -> None:
        self._anchor = (temperature, total, coefficient)
        self._votes = []


# --- the points file -------------------------------------------------------------------------------------------


class StoreError(Exception):
    pass


class PointNumberError(StoreError, IndexError):
    """A point number that is not in the table; also an IndexError so callers may treat it like one."""


def default_path(device_name: str) -> Path:
    """The file the driver and the command line share for one device."""
    if not device_name.strip() or device_name in (".", "..") or "/" in device_name or "\0" in device_name:
        raise ValueError(f"device name {device_name!r} cannot be used in a file name")
    return indi_home() / f"{device_name}_compensation.json"


class PointStore:
    """The points table, saved atomically after every change.

    The driver and the command line may both edit the same file. A change made from here refuses to overwrite a
    file that another program replaced since it was read, rather than silently dropping that program's points;
    `reload()` (or a fresh PointStore) picks them up.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._points: list[Point] = []
        self._seen: tuple[int, int, int] | None = None
        self.reload()

    @property
    def points(self) -> list[Point]:
        return list(self._points)  # a copy, so every change goes through a method that saves it

    def reload(self) -> None:
        signature = self._signature()
        self._points = _load(self.path) if signature is not None else []
        self._seen = signature

    def add(self, point: Point) -> int:
        if self._signature() != self._seen:
            # Appending does not depend on the numbers the user saw, so adopting the other program's points is safe.
            self.reload()
        self._commit([*self._points, point])
        return len(self._points)

    def edit(self, number: int, point: Point) -> None:
        index = self._index(number)
        self._commit([*self._points[:index], point, *self._points[index + 1 :]])

    def delete(self, number: int) -> Point:
        index = self._index(number)
        removed = self._points[index]
        self._commit([*self._points[:index], *self._points[index + 1 :]])
        return removed

    def clear(self) -> None:
        self._check_unchanged()
        self._commit([])

    def save(self) -> None:
        self._check_unchanged()
        self._commit(self._points)

    def _index(self, number: int) -> int:
        # Numbers refer to the table as the user saw it; if the file moved on, they may point at another row.
        self._check_unchanged()
        count = len(self._points)
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= count:
            valid = f"numbers 1 to {count}" if count else "the table is empty"
            raise PointNumberError(f"there is no point {number!r}; {valid}")
        return number - 1

    def _commit(self, points: list[Point]) -> None:
        # Memory changes only after the file is written, so the two never disagree when the write fails.
        _save(self.path, points)
        self._points = list(points)
        self._seen = self._signature()

    def _check_unchanged(self) -> None:
        if self._signature() != self._seen:
            raise StoreError(f"{self.path} was changed by another program since it was read; load it again and retry")

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"cannot read {self.path}: {error.strerror or error}") from error
        return (status.st_ino, status.st_mtime_ns, status.st_size)


def _save(path: Path, points: Sequence[Point]) -> None:
    points_fields = [{"temperature": point.temperature, "position": point.position} for point in points]
    save_document(path, FILE_FORMAT, FILE_VERSION, {"points": points_fields}, indent=2)


def _load(path: Path) -> list[Point]:
    # The file is edited by hand and from the command line as well as by the driver: a damaged one is reported and
    # left where it is for the user to fix (nothing is written over it, since every change re-reads it first).
    try:
        return load_document(path, FILE_FORMAT, FILE_VERSION, _points_from, keep_aside=False) or []
    except StoreProblem as problem:
        raise StoreError(str(problem)) from problem


def _points_from(document: Fields) -> list[Point]:
    points = []
    for entry in document.entries("points", "point"):
        try:
            points.append(Point(entry.number("temperature"), entry.integer("position", 0, MAX_POSITION)))
        except DocumentError:
            raise
        except ValueError as error:
            raise DocumentError(f"{entry.where}: {error}") from error
    return points
