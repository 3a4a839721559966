"""Device faults × operations: each emulator fault injected while each kind of operation runs, under a real indiserver.

For every cell: the driver survives (same process, answers getProperties); a fault it cannot ride through puts the
affected property in Alert with an INDI message; every position reported is one the device reported (device_rigs);
the driver recovers by itself once the device is back; and nothing moves to a stale target afterwards. Prints a table
fault × operation → survived / alerted / recovered (time to recover).

    .venv/bin/python tests/campaign/device_faults.py          # a representative subset (about a minute)
    .venv/bin/python tests/campaign/device_faults.py --full   # every cell (on demand only: about 25 minutes)

The table's columns: "alert" is whether the affected property went Alert with an INDI message (expected for every
fault the driver cannot ride through; garbage, a stale reply first, late replies, a missing or corrupt echo and a TCP
reset are ridden through). "recovered" is the time from the fault's end until the operation is back to normal with
no user action: polling again (Ok/Idle), the move or goto arrived (or, when it failed, the mount stopped and shown
Idle), tracking on target (Ok), a guide pulse done (Idle), a settings property Ok showing what the device holds.
"via" says how the device came back: "automatic" (it answers again on the open link) or "reconnect" (the driver
reopened the port or the TCP connection by itself).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from device_rigs import ALT, AZM, AstroLinkRig, NexStarRig, Rig, wait_until

from indi_astrojolo.nexstar.guiding import PULSE_SEND_WINDOW_S

HOLD_S = 5.0  # how long a fault lasts: longer than a driver's three attempts at one request
RECOVERY_TIMEOUT_S = 40.0
STALENESS_S = {"astrolink": 4.5, "nexstar": 4.0}  # polling period + three attempts at a reply + slack


@dataclass(frozen=True)
class Fault:
    name: str
    inject: tuple[str, ...]
    clear: tuple[str, ...] = ()
    rides_through: bool | None = False  # True: nothing fails; False: the driver must alert; None: either
    tcp: bool = False
    recovery: str = "automatic"  # how the driver gets the device back: "automatic" or "reconnect" (also automatic)
    otherwise: tuple[tuple[str, bool | None], ...] = ()  # (operation, rides_through) where it differs

    def rides_through_during(self, operation: str) -> bool | None:
        return dict(self.otherwise).get(operation, self.rides_through)


def switch(attribute: str, on: str = "True", off: str = "False", **options) -> Fault:
    return Fault(attribute.split(".")[-1], (f"set {attribute} {on}",), (f"set {attribute} {off}",), **options)


ASTROLINK_FAULTS = [
    switch("faults.garbage", rides_through=True),
    switch("faults.truncate"),
    switch("faults.oversize"),
    Fault("wrong_command", ("set faults.wrong_letter True",), ("set faults.wrong_letter False",)),
    Fault("other_reply_first", ("set faults.reply_for_other_command True",),
          ("set faults.reply_for_other_command False",), rides_through=True),  # fmt: skip
    switch("faults.silent"),
    Fault("late_reply", ("set faults.late_reply_s 1.5",), ("set faults.late_reply_s 0.0",), rides_through=True),
    Fault("unplug", (f"unplug {HOLD_S}",), recovery="reconnect"),
    Fault("tcp_reset", ("reset",), rides_through=None, tcp=True, recovery="reconnect"),
]
NEXSTAR_FAULTS = [
    switch("faults.garbage", rides_through=True),
    switch("faults.truncate"),
    switch("faults.oversize"),
    switch("faults.bad_checksum"),
    switch("faults.wrong_command"),
    switch("faults.no_echo", rides_through=True),
    switch("faults.corrupt_echo", rides_through=True),
    switch("faults.silent"),
    # A guide pulse that cannot reach the controllers within half a second is dropped, with Alert: late, it is wrong.
    Fault("late_reply", ("set faults.late_reply_s 1.0",), ("set faults.late_reply_s 0.0",), rides_through=True,
          otherwise=(("pulse guide", False),)),  # fmt: skip
    switch("faults.second_master"),
    Fault("unplug", (f"unplug {HOLD_S}",), recovery="reconnect"),
    Fault("tcp_reset", ("reset",), rides_through=None, tcp=True, recovery="reconnect"),
]


@dataclass
class Cell:
    """One fault during one operation: its timeline and what was found."""

    fault: Fault
    operation: str
    started: float = 0.0
    injected: float = 0.0
    cleared: float = 0.0
    messages: int = 0
    survived: bool = False
    alerted: bool = False
    recovered_after: float | None = None
    problems: list[str] = field(default_factory=list)
    notes: dict = field(default_factory=dict)

    def passed(self) -> bool:
        expected = self.fault.rides_through_during(self.operation)
        alert_ok = expected is None or self.alerted == (not expected)
        return self.survived and alert_ok and self.recovered_after is not None and not self.problems


class Operation:
    """What runs while a fault is injected; a subclass per kind of operation."""

    name = ""
    affected: tuple[str, ...] = ()
    lead_s = 1.0  # from the start of the operation to the fault
    answers: tuple[str, ...] = ()  # messages that answer the operation's own repeated requests (not repeats)

    def prepare(self, rig: Rig) -> None:
        """Bring the device to where this operation starts."""

    def begin(self, rig: Rig, cell: Cell) -> None:
        """Start the operation (returns once it runs)."""

    def during(self, rig: Rig, cell: Cell) -> None:
        """Called once the fault is in place."""

    def cleared(self, rig: Rig, cell: Cell) -> None:
        """Called as soon as the fault is gone."""

    def recovered(self, rig: Rig, cell: Cell) -> bool:
        raise NotImplementedError

    def finish(self, rig: Rig, cell: Cell) -> None:
        """Checks after recovery; problems go to cell.problems."""


def fresh(rig: Rig, name: str, since: float, states: tuple[str, ...]) -> bool:
    return any(s.state in states for s in rig.history(name, since))


# --- AstroLink 4 operations --------------------------------------------------------------------------------------------


class AstroLinkIdle(Operation):
    name = "idle polling"
    affected = ("POWER_SENSORS",)

    def recovered(self, rig: Rig, cell: Cell) -> bool:
        return fresh(rig, "POWER_SENSORS", cell.cleared, ("Ok",))


class FocuserMove(Operation):
    name = "focuser move"
    affected = ("ABS_FOCUS_POSITION",)
    DISTANCE = 1600  # steps: about 8 s at the emulator's 220 steps/s, longer than fault and lead together

    def begin(self, rig: Rig, cell: Cell) -> None:
        position = int(rig.get("position"))
        target = position + self.DISTANCE if position + self.DISTANCE <= 20000 else position - self.DISTANCE
        cell.notes["target"] = target
        move = lambda: rig.set_number("ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": target})  # noqa: E731
        rig.settle("ABS_FOCUS_POSITION", move, states=("Busy", "Alert"))
        cell.notes["commands"] = rig.get_length("commands")  # the move has been sent: any later one is a resend

    def recovered(self, rig: Rig, cell: Cell) -> bool:
        target = cell.notes["target"]
        updates = rig.history("ABS_FOCUS_POSITION", cell.cleared)
        done = any(s.state == "Ok" and s.values["FOCUS_ABSOLUTE_POSITION"] == target for s in updates)
        return done and rig.get("position") == target

    def finish(self, rig: Rig, cell: Cell) -> None:
        assert isinstance(rig, AstroLinkRig)
        moves = [c for c in rig.commands_since(cell.notes["commands"]) if c.startswith("R:")]
        if moves:
            cell.problems.append(f"move commands after the fault began: {moves}")


class SettingsWrite(Operation):
    """A settings-block write (the dew heaters' PWM prescaler, u[10]) requested while the fault is on."""

    name = "settings write"
    affected = ("DEW_PWM_FREQUENCY",)
    lead_s = 0.2

    def during(self, rig: Rig, cell: Cell) -> None:
        time.sleep(0.5)
        before = rig.get("u")
        wanted = (int(float(before[9])) + 1) % 8
        cell.notes.update(before=before, wanted=wanted)
        write = lambda: rig.set_number("DEW_PWM_FREQUENCY", {"PRESCALER": wanted})  # noqa: E731
        result = rig.settle("DEW_PWM_FREQUENCY", write, timeout=20)
        cell.notes["first_result"] = result.state

    def recovered(self, rig: Rig, cell: Cell) -> bool:
        """Without anyone asking again: Ok, showing what the device holds (written or not)."""
        if not fresh(rig, "POWER_SENSORS", cell.cleared, ("Ok",)):
            return False
        shown = rig.snapshot("DEW_PWM_FREQUENCY")
        held = int(float(rig.get("u")[9]))
        return shown is not None and shown.state == "Ok" and shown.values["PRESCALER"] == held

    def finish(self, rig: Rig, cell: Cell) -> None:
        after, before, wanted = rig.get("u"), cell.notes["before"], cell.notes["wanted"]
        changed = [i + 1 for i, (a, b) in enumerate(zip(after, before)) if float(a) != float(b)]
        if changed not in ([], [10]) or (changed and int(float(after[9])) != wanted) or len(after) != len(before):
            cell.problems.append(f"settings block u went from {before} to {after} (only u[10] = {wanted} was asked)")
        if cell.notes["first_result"] == "Ok" and int(float(after[9])) != wanted:
            cell.problems.append(f"the write was reported done, but the device holds u[10] = {after[9]}")


# --- NexStar operations ------------------------------------------------------------------------------------------------

GOTO_TARGETS = ((110.0, 40.0), (160.0, 50.0))  # 50° apart: a slew of about 7 s, so a fault lands in the middle


def goto_horizontal(rig: Rig, az: float, alt: float, track: bool = True, timeout: float = 90.0) -> str:
    """A goto through the client, waited for until it ends; returns the final EQUATORIAL_EOD_COORD state."""
    rig.settle("ON_COORD_SET", lambda: rig.set_switch("ON_COORD_SET", ["TRACK" if track else "SLEW"]))
    since = time.monotonic()
    rig.set_number("HORIZONTAL_COORD", {"AZ": az, "ALT": alt})

    def ended() -> str | None:
        updates = rig.history("EQUATORIAL_EOD_COORD", since)
        busy = [i for i, s in enumerate(updates) if s.state == "Busy"]
        later = [s for s in updates[busy[0]:] if s.state != "Busy"] if busy else []
        return later[0].state if later else None

    assert rig.client is not None
    return rig.client.wait_for(ended, timeout, "the goto to end")


def mount_at_rest(rig: NexStarRig) -> bool:
    first = (rig.axis_degrees(AZM), rig.axis_degrees(ALT))
    time.sleep(0.5)
    second = (rig.axis_degrees(AZM), rig.axis_degrees(ALT))
    return all(abs(a - b) < 0.001 for a, b in zip(first, second))


def goto_packets(rig: NexStarRig, since: int) -> list[str]:
    lines = rig.call("received_summary").splitlines()[since:]
    return [line for line in lines if line.startswith(("GOTO_FAST", "GOTO_SLOW"))]


class MountIdle(Operation):
    name = "idle polling"
    affected = ("EQUATORIAL_EOD_COORD",)

    def prepare(self, rig: Rig) -> None:
        rig.settle("TELESCOPE_ABORT_MOTION", lambda: rig.set_switch("TELESCOPE_ABORT_MOTION", ["ABORT"]))

    def recovered(self, rig: Rig, cell: Cell) -> bool:
        return fresh(rig, "EQUATORIAL_EOD_COORD", cell.cleared, ("Idle",))


class Goto(Operation):
    name = "goto"
    affected = ("EQUATORIAL_EOD_COORD",)
    lead_s = 1.5
    turn = 0

    def prepare(self, rig: Rig) -> None:
        MountIdle().prepare(rig)

    def begin(self, rig: Rig, cell: Cell) -> None:
        Goto.turn += 1
        az, alt = GOTO_TARGETS[Goto.turn % 2]
        rig.settle("ON_COORD_SET", lambda: rig.set_switch("ON_COORD_SET", ["TRACK"]))
        goto = lambda: rig.set_number("HORIZONTAL_COORD", {"AZ": az, "ALT": alt})  # noqa: E731
        rig.settle("EQUATORIAL_EOD_COORD", goto, states=("Busy",))

    def recovered(self, rig: Rig, cell: Cell) -> bool:
        assert isinstance(rig, NexStarRig)
        if cell.alerted or fresh(rig, "EQUATORIAL_EOD_COORD", cell.injected, ("Alert",)):
            cell.notes["failed"] = True
            return fresh(rig, "EQUATORIAL_EOD_COORD", cell.cleared, ("Idle",)) and mount_at_rest(rig)
        return fresh(rig, "EQUATORIAL_EOD_COORD", cell.cleared, ("Ok",)) and rig.pointing_error_arcsec() < 60

    def cleared(self, rig: Rig, cell: Cell) -> None:
        cell.notes["packets_at_clear"] = rig.get_length("received")

    def finish(self, rig: Rig, cell: Cell) -> None:
        assert isinstance(rig, NexStarRig)
        if not cell.notes.get("failed"):
            return
        gotos = goto_packets(rig, cell.notes["packets_at_clear"])
        if gotos:
            cell.problems.append(f"goto commands after the failed goto's fault ended: {gotos}")
        if not mount_at_rest(rig):
            cell.problems.append("the mount still moves after the goto failed")


class Tracking(Operation):
    name = "tracking"
    affected = ("EQUATORIAL_EOD_COORD",)

    def prepare(self, rig: Rig) -> None:
        assert isinstance(rig, NexStarRig)
        tracking = rig.snapshot("TELESCOPE_TRACK_STATE")
        coords = rig.snapshot("EQUATORIAL_EOD_COORD")
        on_target = coords is not None and coords.state == "Ok" and rig.pointing_error_arcsec() < 60
        if tracking is not None and tracking.values.get("TRACK_ON") and on_target:
            return
        Goto.turn += 1
        state = goto_horizontal(rig, *GOTO_TARGETS[Goto.turn % 2])
        if state != "Ok":
            raise RuntimeError(f"the goto before tracking ended {state}")
        time.sleep(2.0)

    def recovered(self, rig: Rig, cell: Cell) -> bool:
        assert isinstance(rig, NexStarRig)
        return fresh(rig, "EQUATORIAL_EOD_COORD", cell.cleared, ("Ok",)) and rig.pointing_error_arcsec() < 60


class PulseGuide(Tracking):
    """Guide pulses (500 ms, north and south in turn, every 1.5 s) while tracking."""

    name = "pulse guide"
    affected = ("TELESCOPE_TIMED_GUIDE_NS", "EQUATORIAL_EOD_COORD")
    answers = ("Guide pulse failed",)
    PERIOD_S = 1.5

    def begin(self, rig: Rig, cell: Cell) -> None:
        stop = threading.Event()
        sent: list[float] = []

        def guide() -> None:
            north = True
            while not stop.is_set():
                sent.append(time.monotonic())
                pulse = {"TIMED_GUIDE_N": 500, "TIMED_GUIDE_S": 0} if north else {"TIMED_GUIDE_N": 0, "TIMED_GUIDE_S": 500}
                rig.set_number("TELESCOPE_TIMED_GUIDE_NS", pulse)
                north = not north
                stop.wait(self.PERIOD_S)

        thread = threading.Thread(target=guide, daemon=True)
        thread.start()
        cell.notes.update(stop=stop, thread=thread, sent=sent)

    def cleared(self, rig: Rig, cell: Cell) -> None:
        cell.notes["packets_at_clear"] = rig.get_length("received")

    def recovered(self, rig: Rig, cell: Cell) -> bool:
        updates = rig.history("TELESCOPE_TIMED_GUIDE_NS", cell.cleared + 0.2)
        busy = [i for i, s in enumerate(updates) if s.state == "Busy"]
        return bool(busy) and any(s.state == "Idle" for s in updates[busy[0]:]) and super().recovered(rig, cell)

    def finish(self, rig: Rig, cell: Cell) -> None:
        cell.notes["stop"].set()
        cell.notes["thread"].join()
        time.sleep(1.0)
        # a pulse asked for within the send window before the fault ended may rightly go out just after it
        requested = sum(1 for t in cell.notes["sent"] if t >= cell.cleared - PULSE_SEND_WINDOW_S)
        lines = rig.call("received_summary").splitlines()[cell.notes["packets_at_clear"]:]
        delivered = sum(1 for line in lines if line.startswith("AUX_GUIDE ") and not line.endswith(" 0000"))
        cell.notes["pulses"] = (requested, delivered)
        if delivered > 2 * requested:  # a pulse goes to both axes of an alt-az mount
            cell.problems.append(f"{delivered} pulse commands after the fault for {requested} pulse(s) asked for: stale")


# --- running cells -----------------------------------------------------------------------------------------------------


def run_cell(rig: Rig, fault: Fault, operation: Operation) -> Cell:
    cell = Cell(fault, operation.name)
    operation.prepare(rig)
    cell.started = time.monotonic()
    cell.messages = rig.message_mark()
    operation.begin(rig, cell)
    time.sleep(operation.lead_s)
    cell.injected = time.monotonic()
    for line in fault.inject:
        rig.control(line)
    operation.during(rig, cell)
    time.sleep(max(0.0, cell.injected + HOLD_S - time.monotonic()))
    for line in fault.clear:
        rig.control(line)
    cell.cleared = time.monotonic()
    operation.cleared(rig, cell)
    try:
        wait_until(lambda: operation.recovered(rig, cell), RECOVERY_TIMEOUT_S, interval=0.1, what="recovery")
        cell.recovered_after = time.monotonic() - cell.cleared
    except TimeoutError:
        cell.problems.append(f"not recovered within {RECOVERY_TIMEOUT_S:g} s of the fault's end")
    alert_states = [s for name in operation.affected for s in rig.history(name, cell.injected) if s.state == "Alert"]
    messages = rig.messages_since(cell.messages)
    cell.alerted = bool(alert_states) and bool(messages)
    if alert_states and not messages:
        cell.problems.append("Alert without any INDI message")
    cell.problems += repeated_messages([m for m in messages if not any(a in m for a in operation.answers)])
    operation.finish(rig, cell)
    cell.problems += rig.position_problems(cell.started, STALENESS_S[rig.kind])
    cell.survived = rig.alive()
    if not cell.survived:
        cell.problems.append("the driver died or stopped answering getProperties")
    cell.notes["messages"] = messages
    return cell


MAX_REPEATS = 2  # one fault may say a thing when it starts and once more (a second property), not on every poll


def repeated_messages(messages: list[str]) -> list[str]:
    counts: dict[str, int] = {}
    for message in messages:
        text = message.split(": ", 1)[-1].strip()  # without the timestamp
        counts[text] = counts.get(text, 0) + 1
    return [f"message repeated {n} times: {text}" for text, n in counts.items() if n > MAX_REPEATS]


def clear_all_faults(rig: Rig, faults: list[Fault]) -> None:
    for fault in faults:
        for line in fault.clear:
            rig.control(line)


ASTROLINK_OPERATIONS: list[Operation] = [AstroLinkIdle(), FocuserMove(), SettingsWrite()]
NEXSTAR_OPERATIONS: list[Operation] = [MountIdle(), Goto(), Tracking(), PulseGuide()]

# The suite's representative subset: each kind of failure (no answer, corrupt answers, link gone) at least once,
# each kind of operation at least once.
# (The suite's one-minute soak adds a random fault during idle polling and during tracking.)
QUICK = {
    ("astrolink", "silent", "focuser move"),
    ("astrolink", "truncate", "settings write"),
    ("nexstar", "unplug", "goto"),
    ("nexstar", "silent", "pulse guide"),
}


def plan(full: bool, only: Callable[[str, str, str], bool] | None = None) -> list[tuple[type[Rig], bool, Fault, Operation]]:
    cells = []
    devices = ((AstroLinkRig, ASTROLINK_FAULTS, ASTROLINK_OPERATIONS), (NexStarRig, NEXSTAR_FAULTS, NEXSTAR_OPERATIONS))
    for rig_type, faults, operations in devices:
        for tcp in (False, True):
            for fault in faults:
                for operation in operations:
                    key = (rig_type.kind, fault.name, operation.name)
                    chosen = only(*key) if only is not None else full or key in QUICK
                    if fault.tcp != tcp or not chosen:
                        continue
                    cells.append((rig_type, tcp, fault, operation))
    return cells


def run_cells(cells, workdir: Path, report: Callable[[Cell, Rig], None] = lambda cell, rig: None) -> list[tuple[str, Cell]]:
    results = []
    groups: dict[tuple[type[Rig], bool], list] = {}
    for rig_type, tcp, fault, operation in cells:
        groups.setdefault((rig_type, tcp), []).append((fault, operation))
    for (rig_type, tcp), members in groups.items():
        faults = ASTROLINK_FAULTS if rig_type is AstroLinkRig else NEXSTAR_FAULTS
        # short names: indiserver's socket lives in the work directory, and a Unix socket path has 107 bytes at most
        with rig_type(workdir / f"{rig_type.kind[0]}{'t' if tcp else 'p'}", tcp=tcp) as rig:
            for fault, operation in members:
                try:
                    cell = run_cell(rig, fault, operation)
                except Exception as exc:  # a cell that breaks the campaign's own steps is a finding too
                    where = traceback.extract_tb(exc.__traceback__)[-1]
                    step = f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})"
                    cell = Cell(fault, operation.name, problems=[f"campaign step failed: {step}"])
                    cell.survived = rig.alive()
                clear_all_faults(rig, faults)
                results.append((rig.kind, cell))
                report(cell, rig)
    return results


def table(results: list[tuple[str, Cell]]) -> str:
    header = f"{'device':<10} {'fault':<18} {'operation':<15} {'survived':<9} {'alert':<6} {'recovered':<10} {'via':<10}"
    lines = [header + " verdict"]
    for kind, cell in results:
        recovered = f"{cell.recovered_after:.1f} s" if cell.recovered_after is not None else "NO"
        lines.append(
            f"{kind:<10} {cell.fault.name + (' (tcp)' if cell.fault.tcp else ''):<18} {cell.operation:<15} "
            f"{'yes' if cell.survived else 'NO':<9} {'yes' if cell.alerted else 'no':<6} {recovered:<10} "
            f"{cell.fault.recovery:<10} {'ok' if cell.passed() else 'FAIL'}"
        )
        for problem in cell.problems:
            lines.append(f"    problem: {problem}")
    return "\n".join(lines)


def run(full: bool, only: Callable[[str, str, str], bool] | None = None, verbose: bool = False) -> bool:
    cells = plan(full, only)
    print(f"device faults: {len(cells)} cell(s){' (full)' if full else ' (representative subset)'}", flush=True)
    started = time.monotonic()

    def report(cell: Cell, rig: Rig) -> None:
        recovered = f"{cell.recovered_after:.1f} s" if cell.recovered_after is not None else "NO"
        verdict = "ok" if cell.passed() else "FAIL"
        print(f"  {rig.kind:<9} {cell.fault.name:<18} {cell.operation:<15} {verdict}  recovered {recovered}", flush=True)
        if verbose:
            for problem in cell.problems:
                print(f"      problem: {problem}")
            for message in cell.notes.get("messages", []):
                print(f"      message: {message}")

    with tempfile.TemporaryDirectory(prefix="device-faults-") as workdir:
        results = run_cells(cells, Path(workdir), report)
    print(table(results))
    passed = sum(cell.passed() for _, cell in results)
    print(f"device faults: {passed}/{len(results)} cells passed in {time.monotonic() - started:.0f} s")
    return passed == len(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="every fault × operation cell")
    parser.add_argument("--device", choices=("astrolink", "nexstar"), help="only this device's cells")
    parser.add_argument("--fault", help="only this fault")
    parser.add_argument("--operation", help="only this operation")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each cell's problems and messages")
    args = parser.parse_args()
    only = None
    if args.device or args.fault or args.operation:
        only = lambda kind, fault, operation: (  # noqa: E731
            args.device in (None, kind) and args.fault in (None, fault) and args.operation in (None, operation)
        )
    raise SystemExit(0 if run(args.full, only, args.verbose) else 1)


if __name__ == "__main__":
    main()
