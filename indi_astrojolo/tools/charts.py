"""`astrolink4-charts`: PNG charts and the nightly summary from an AstroLink 4 session log.

The command line only: its arguments, what it prints and its exit codes. Reading the log is session_csv.py's job, the
summary night_summary.py's, the drawing chart_drawing.py's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..astrolink4.datalog import format_time
from .chart_drawing import render_charts
from .night_summary import night_summary, summary_text
from .session_csv import read_csv
from .session_rows import DEFAULT_AVERAGE_S, MAX_AVERAGE_S


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
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= MAX_AVERAGE_S:
        raise argparse.ArgumentTypeError(f"the averaging period must be 0 to {MAX_AVERAGE_S:g} s, not {text}")
    return value


def main(argv: list[str] | None = None) -> int:
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
