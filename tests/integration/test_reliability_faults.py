"""The reliability campaign's part B in its short versions (the scripts in tests/campaign/ run it in full on demand):
device faults during operations, kill -9 while the drivers write their files, and a one-minute soak."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "campaign"))

import device_faults  # noqa: E402
import kill9  # noqa: E402
import soak  # noqa: E402


@pytest.mark.parametrize("device", ["astrolink", "nexstar"])
def test_representative_device_faults_are_survived_reported_and_recovered_from(device, tmp_path) -> None:
    cells = [cell for cell in device_faults.plan(full=False) if cell[0].kind == device]
    assert cells, "the representative subset names no cell for this device"
    results = device_faults.run_cells(cells, tmp_path)
    summary = device_faults.table(results)
    print(summary)
    assert all(cell.passed() for _, cell in results), summary


def test_nothing_is_lost_when_the_drivers_are_killed_while_writing(tmp_path) -> None:
    assert kill9.run(full=False, workdir=tmp_path)


def test_a_one_minute_soak_with_faults_recovers_and_reports_only_what_the_devices_said(tmp_path) -> None:
    verdict = soak.run(full=False, workdir=tmp_path)
    # Stalls and memory growth are printed; on a shared machine they are figures, judged by the on-demand run.
    assert verdict.working


def test_the_position_check_catches_values_the_device_never_reported_and_stale_ones(tmp_path) -> None:
    from device_rigs import AstroLinkRig, Snapshot

    rig = AstroLinkRig(tmp_path)
    rig.truth = [(10.0, 100), (11.0, 150), (12.0, 200)]  # (when, position) the device put on the wire
    rig.fetch_truth = lambda: 40.0  # type: ignore[method-assign]  # the moment the truth was asked for
    sent = [
        Snapshot("ABS_FOCUS_POSITION", "Number", "Busy", {"FOCUS_ABSOLUTE_POSITION": 150.0}, received=11.1),  # fine
        Snapshot("ABS_FOCUS_POSITION", "Number", "Busy", {"FOCUS_ABSOLUTE_POSITION": 175.0}, received=11.5),  # invented
        Snapshot("ABS_FOCUS_POSITION", "Number", "Ok", {"FOCUS_ABSOLUTE_POSITION": 300.0}, received=11.9),  # not yet read
        Snapshot("ABS_FOCUS_POSITION", "Number", "Alert", {"FOCUS_ABSOLUTE_POSITION": 200.0}, received=30.0),  # marked stale
        Snapshot("ABS_FOCUS_POSITION", "Number", "Ok", {"FOCUS_ABSOLUTE_POSITION": 200.0}, received=30.1),  # stale as Ok
    ]
    rig.history = lambda name, since=float("-inf"): [s for s in sent if s.received >= since]  # type: ignore[method-assign]
    problems = rig.position_problems(since=0.0, staleness=4.5)
    assert len(problems) == 3, problems
    assert "175" in problems[0] and "never reported" in problems[0]
    assert "300" in problems[1] and "never reported" in problems[1]
    assert "200" in problems[2] and "not marked Alert" in problems[2]
    assert "(the device's readings around then: 150 at -0.50 s, 200 at +0.50 s)" in problems[0]


def test_the_position_check_leaves_a_report_newer_than_its_truth_for_the_next_check(tmp_path) -> None:
    """A report that arrives while the truth is being fetched may rest on a reading the fetched truth does not hold
    yet; judged now it would look invented."""
    from device_rigs import AstroLinkRig, Snapshot

    rig = AstroLinkRig(tmp_path)
    rig.truth = [(10.0, 100)]
    asked = iter([20.0, 30.0])  # the moments two successive checks ask for the truth

    def fetch_truth() -> float:
        moment = next(asked)
        if moment == 30.0:
            rig.truth.append((19.9, 250))  # read just before the first check asked, known to the second
        return moment

    rig.fetch_truth = fetch_truth  # type: ignore[method-assign]
    sent = [Snapshot("ABS_FOCUS_POSITION", "Number", "Busy", {"FOCUS_ABSOLUTE_POSITION": 250.0}, received=20.01)]
    rig.history = lambda name, since=float("-inf"): [s for s in sent if s.received >= since]  # type: ignore[method-assign]
    assert rig.position_problems(since=0.0, staleness=4.5, until=25.0) == []
    assert rig.position_problems(since=0.0, staleness=4.5, until=35.0) == []
    rig.truth.clear()  # the same report against a truth without its reading: caught
    rig.fetch_truth = lambda: 40.0  # type: ignore[method-assign]
    assert "never reported" in rig.position_problems(since=0.0, staleness=4.5)[0]
