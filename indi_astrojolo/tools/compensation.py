"""`astrolink4-compensation`: show, edit and plot the focuser temperature compensation points and their fit.

The command line only: its arguments, the table it prints and its exit codes. The points file and the fit are
astrolink4/compensation.py's, shared with the driver; the plot is compensation_plot.py's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..astrolink4.compensation import (
    DEFAULT_DEVICE,
    Fit,
    FitError,
    Point,
    PointStore,
    StoreError,
    default_path,
    fit,
    format_signed,
)
from ..errors import describe
from .compensation_plot import plot


def render_table(points: Sequence[Point], fit: Fit | None) -> str:
    """The table, the fit summary and the warnings, as plain text for a terminal."""
    if not points:
        return "no points yet\n"
    outliers = set(fit.outliers) if fit else set()
    header = f"{'#':>3}  {'Temperature (°C)':>16}  {'Position (steps)':>16}"
    if fit:
        header += f"  {'Residual (steps)':>16}"
    lines = [header]
    for number, point in enumerate(points, start=1):
        row = f"{number:>3}  {point.temperature:>16.2f}  {point.position:>16}"
        if fit:
            row += f"  {format_signed(point.position - fit.predict(point.temperature), 1):>16}"
            if number in outliers:
                row += "  outlier?"
        lines.append(row)
    if fit:
        lines += [
            "",
            f"Coefficient:       {fit.coefficient:.2f} steps/°C",
            f"Intercept:         {fit.intercept:.1f} steps at 0 °C",
            f"r²:                {fit.r_squared:.3f}",
            f"RMS residual:      {fit.residual_rms:.1f} steps",
            f"Temperature range: {fit.temperature_range:.1f} °C over {fit.count} points",
        ]
        if fit.warnings:
            lines += ["", "Warnings:", *(f"  - {warning}" for warning in fit.warnings)]
    lines += ["", "Use points taken with one filter only: filters may shift the focus."]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="astrolink4-compensation",
        description="Show, edit and plot the AstroLink 4 focuser temperature compensation points and coefficient.",
    )
    parser.add_argument("--device", default=DEFAULT_DEVICE, help=f"INDI device name (default {DEFAULT_DEVICE!r})")
    parser.add_argument("--file", type=Path, help="points file (default ~/.indi/<device>_compensation.json)")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="also write a plot to this PNG file")
    change = parser.add_mutually_exclusive_group()
    change.add_argument("--add", nargs=2, metavar=("TEMP", "POSITION"), help="add a point (°C, steps)")
    change.add_argument("--delete", type=int, metavar="N", help="delete point number N")
    change.add_argument("--clear", action="store_true", help="delete all points")
    return parser


def _point_from_text(temperature: str, position: str) -> Point:
    try:
        value = float(temperature)
    except ValueError:
        raise ValueError(f"temperature {temperature!r} is not a number") from None
    try:
        steps = int(position)
    except ValueError:
        raise ValueError(f"position {position!r} is not a whole number of steps") from None
    return Point(value, steps)


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        path = arguments.file if arguments.file is not None else default_path(arguments.device)
        store = PointStore(path)
        if arguments.add:
            point = _point_from_text(*arguments.add)
            print(f"added point {store.add(point)} ({point.temperature:g} °C, {point.position})")
        elif arguments.delete is not None:
            removed = store.delete(arguments.delete)
            print(f"deleted point {arguments.delete} ({removed.temperature:g} °C, {removed.position})")
        elif arguments.clear:
            store.clear()
            print("cleared all points")
        points = store.points
        reason = ""
        try:
            line: Fit | None = fit(points)
        except FitError as error:
            line = None
            reason = str(error)
        print(f"Points file: {store.path}")
        print(render_table(points, line), end="")
        if line is None and points:
            print(f"No fit yet: {reason}.")
        if arguments.plot is not None:
            plot(points, line, arguments.plot)
            print(f"Plot written to {arguments.plot}")
    except (StoreError, ValueError, OSError, ImportError) as error:
        print(f"astrolink4-compensation: {describe(error)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
