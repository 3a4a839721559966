"""The nightly summary of a session log: when it was logged, the extremes of the environment, the energy used, and
what the focuser did (moves, and the corrections the device's temperature compensation applied), as data and as text.

Pure: rows in, a NightSummary and lines of text out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..astrolink4.datalog import Sample
from .session_rows import finite_number, gap_indices, night_label, ordered_rows, with_derived


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
    values = [(value, row["time_utc"]) for row in rows if (value := finite_number(row, name)) is not None]
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
    ordered = with_derived(ordered_rows(rows))
    if not ordered:
        raise ValueError("no rows to summarise")
    times = [row["time_utc"] for row in ordered]
    gap_starts = gap_indices(times)
    gaps = tuple((times[index - 1], times[index]) for index in gap_starts)
    logged = (times[-1] - times[0]) - sum((end - start for start, end in gaps), timedelta(0))
    extremes = {name: extreme for name in SUMMARY_COLUMNS if (extreme := _extreme(ordered, name)) is not None}
    watt_hours = [value for value in (row["energy_used_wh"] for row in ordered) if value is not None]
    amp_hours = [value for value in (row["energy_used_ah"] for row in ordered) if value is not None]
    counters = [value for row in ordered if (value := finite_number(row, "watt_hours")) is not None]
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
