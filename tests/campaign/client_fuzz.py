"""Client-input fuzzing of both drivers through a real indiserver.

Hypothesis builds requests for every property each driver defines (read from its def*Vector answers once connected to
its emulator): unknown members, wrong vector kinds, junk, NaN/inf and sexagesimal junk in numbers, out-of-range and
huge numbers, switch-rule violations, bad switch values, duplicate, nameless and missing members, over-long text,
writes to read-only properties, unknown properties, wrong and missing device names, malformed, oversized and deeply
nested XML, entity tricks (billion laughs, external entities, DOCTYPE, undefined and numeric entities), with valid
requests (numbers in range, partial vectors, switches by their rule, text as it is) mixed in.

For every case the driver process must still run and answer getProperties. An invalid request must come back as
Alert on the property it named, with a message saying what was wrong, and leave the emulated device as it was (no
command that changes anything reached it; its settings and motion state compare equal). A valid request must be
answered (an Alert then carries its reason). What indiserver does with a case it does not pass on is counted per
kind of case and printed.

Run: .venv/bin/python tests/campaign/client_fuzz.py [--full] [--seed N] [--cases N]
(default: 150 cases per driver with a fixed derandomized seed; --full: 1200 per driver with a random seed, printed)
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_cases import (  # noqa: E402
    ANSWERED,
    ENTITY,
    EXPANDED_MARKS,
    IGNORED,
    MALFORMED,
    MESSAGE,
    REFUSED,
    SURVIVE,
    Case,
    case_strategy,
)
from input_rigs import AstroLinkRig, Event, NexStarRig, Rig  # noqa: E402

QUICK_CASES = 150
FULL_CASES = 1200
VALID_ANSWER_TIMEOUT = 30.0  # a valid request may start a connect-like sequence of device round trips

@dataclass
class Report:
    device: str
    tried: int = 0
    failures: list[str] = field(default_factory=list)
    categories: Counter = field(default_factory=Counter)
    not_passed_on: Counter = field(default_factory=Counter)  # cases indiserver did not hand to the driver
    dead: bool = False
    seconds: float = 0.0


# --- running and checking a case -------------------------------------------------------------------------------


def updates_of(rig: Rig, name: str | None, mark: int) -> list[Event]:
    return [e for e in rig.events_since(mark) if name is not None and rig.is_set(e, name)]


def answers_to(rig: Rig, name: str | None, mark: int, state_before: str | None) -> list[Event]:
    """Updates of `name` that answer a request: with a message, Alert, or in a new state. Polls also send updates
    (the mount's coordinates every period, in the state they had: Busy while the axes coast to rest after an abort),
    which answer nothing."""
    return [
        e for e in updates_of(rig, name, mark)
        if e.message or e.state == "Alert" or e.state != state_before
    ]  # fmt: skip


def seen(rig: Rig, mark: int, name: str | None) -> str:
    shown = [f"{e.tag} {e.name} {e.state} {e.message or ''}".strip() for e in rig.events_since(mark) if e.name == name or e.tag == "message"]
    return "; ".join(shown[-4:]) or "nothing"


def expect_alert(rig: Rig, case: Case, mark: int) -> str | None:
    try:
        event = rig.wait_event(lambda e: rig.is_set(e, case.prop) and e.state == "Alert", mark)
    except TimeoutError:
        return f"no Alert on {case.prop} (saw: {seen(rig, mark, case.prop)})"
    if not any(fragment in (event.message or "") for fragment in case.reasons):
        return f"Alert on {case.prop} without a message saying {' or '.join(map(repr, case.reasons))}: {event.message!r}"
    return None


def expect_message(rig: Rig, case: Case, mark: int) -> str | None:
    try:
        rig.wait_event(lambda e: e.tag == "message" and any(f in (e.message or "") for f in case.reasons), mark)
    except TimeoutError:
        return f"no message saying {' or '.join(map(repr, case.reasons))} (saw: {seen(rig, mark, case.prop)})"
    rig.barrier(avoid=case.prop)
    answers = answers_to(rig, case.prop, mark, case.state_before)
    return f"the driver acted on it: {answers[0]}" if answers else None


def received_by_driver(log: str) -> bool:
    """Whether the driver logged a malformed message (indiserver logs its own "Closing after malformed message")."""
    return any(": Driver " in line and "alformed" in line for line in log.splitlines())


def check(rig: Rig, case: Case, mark: int, report: Report) -> str | None:
    if case.expect == REFUSED:
        return expect_alert(rig, case, mark)
    if case.expect == MESSAGE:
        return expect_message(rig, case, mark)
    if case.expect == ANSWERED:
        try:
            event = rig.wait_event(lambda e: rig.is_set(e, case.prop), mark, VALID_ANSWER_TIMEOUT)
        except TimeoutError:
            return f"a valid request got no answer (saw: {seen(rig, mark, case.prop)})"
        if event.state == "Alert" and not event.message and not any(e.tag == "message" for e in rig.events_since(mark)):
            return f"Alert on {case.prop} without any message"
        return None
    rig.barrier(avoid=case.prop)
    updates = updates_of(rig, case.prop, mark)
    log = rig.driver_log_since_mark()
    if case.expect == IGNORED:
        answers = answers_to(rig, case.prop, mark, case.state_before)
        return f"the driver answered a request for another device: {answers[0]}" if answers else None
    if case.expect == SURVIVE:
        return None
    if not received_by_driver(log) and (case.expect == MALFORMED or not updates):
        report.not_passed_on[case.category] += 1
    if case.expect == ENTITY:
        expanded = [e for e in updates if any(mark_ in v for v in e.values.values() for mark_ in EXPANDED_MARKS)]
        if expanded:
            return f"an entity was expanded: {expanded[0].values}"
        if any(e.state == "Alert" and not e.message for e in updates):
            return f"Alert on {case.prop} without a message"
    if received_by_driver(log):
        return expect_alert(rig, case, mark)
    return None


def run_case(rig: Rig, case: Case, report: Report) -> None:
    report.tried += 1
    report.categories[case.category] += 1
    rig.clear_device_log()
    before = rig.device_state()
    rig.driver_log_since_mark()
    case.state_before = rig.current_state(case.prop) if case.prop else None
    mark = rig.mark()
    try:
        case.sent = case.build(rig)
    except LookupError as exc:
        report.failures.append(f"{case.category} {case.prop}: {exc}")
        return
    if case.own_connection:
        rig.send_on_own_connection(case.sent)
    else:
        rig.send(case.sent)
    problem = check(rig, case, mark, report)
    dead = rig.alive()
    if dead:
        report.dead = True
        problem = f"{dead}{'; ' + problem if problem else ''}"
    elif case.expect != ANSWERED and problem is None:
        writes = rig.device_writes()
        changes = rig.device_changes(before, rig.device_state())
        if writes:
            problem = f"the device received {writes[:4]}"
        elif changes:
            problem = f"the device changed: {'; '.join(changes)}"
    if case.expect == ANSWERED and not report.dead:
        try:
            rig.quiesce()
        except TimeoutError as exc:
            problem = f"{problem + '; ' if problem else ''}stopping everything after it failed: {exc}"
            rig.settle()
    if problem:
        report.failures.append(f"{case.describe()} -> {problem}")


def fuzz_driver(rig_class: type[Rig], cases: int, *, seed: int | None = None, workdir: Path | None = None) -> Report:
    """Run `cases` hypothesis cases against one driver; a fixed seed of None means derandomized (reproducible)."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="client-fuzz-"))
    started = time.monotonic()
    with rig_class(workdir) as rig:
        report = Report(rig.device)
        strategy = case_strategy(rig.definitions())

        @settings(
            max_examples=cases, database=None, derandomize=seed is None, deadline=None, phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        @given(strategy)
        def execute(case: Case) -> None:
            if not report.dead:
                run_case(rig, case, report)

        if seed is not None:
            execute = hypothesis_seed(seed)(execute)
        execute()
    report.seconds = time.monotonic() - started
    return report


def print_report(report: Report) -> None:
    print(f"{report.device}: {report.tried} cases tried, {len(report.failures)} failed, {report.seconds:.1f} s")
    for category, count in sorted(report.categories.items()):
        dropped = report.not_passed_on.get(category, 0)
        note = f" ({dropped} not passed on by indiserver)" if dropped else ""
        print(f"    {count:5d}  {category}{note}")
    if report.dead:
        print("    the driver died; the remaining cases were skipped")
    for failure in report.failures[:50]:
        print(f"  FAIL {failure}")
    if len(report.failures) > 50:
        print(f"  … and {len(report.failures) - 50} more")


def run(full: bool, seed: int | None = None, cases: int | None = None) -> bool:
    """Fuzz both drivers; True when no case failed."""
    count = cases or (FULL_CASES if full else QUICK_CASES)
    if full and seed is None:
        seed = random.randrange(1 << 32)
    print(f"client-input fuzzing: {count} cases per driver, " + (f"seed {seed}" if seed is not None else "derandomized"))
    ok = True
    for rig_class in (AstroLinkRig, NexStarRig):
        report = fuzz_driver(rig_class, count, seed=seed)
        print_report(report)
        ok = ok and not report.failures
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help=f"{FULL_CASES} cases per driver, random seed")
    parser.add_argument("--seed", type=int, help="hypothesis seed (default: derandomized, or random with --full)")
    parser.add_argument("--cases", type=int, help="cases per driver")
    args = parser.parse_args()
    sys.exit(0 if run(args.full, args.seed, args.cases) else 1)


if __name__ == "__main__":
    main()
