"""Reading an AstroLink 4 session log back: the CSV the driver's SessionLog (astrolink4/datalog.py) appends to.

Whatever a crash or a full disk left in the file is skipped, not fatal: a reader of last night's log wants every whole
row in it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..astrolink4.datalog import BOOLEAN_COLUMNS, COLUMNS, INTEGER_COLUMNS


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
