"""The whole reliability campaign, each part in turn, then a summary.

Part A (client input): client_fuzz.py and limits.py, run when present. Part B (the devices): device_faults.py (faults
× operations), kill9.py (nothing lost under kill -9), soak.py (an hour at ten times the polling rate). Each part is a
script of its own with `run(full: bool)`; without --full each does the short version the test suite also runs.

    .venv/bin/python tests/campaign/run.py           # the short versions (a few minutes)
    .venv/bin/python tests/campaign/run.py --full    # everything (on demand only: about two hours)
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

PARTS = ("client_fuzz", "limits", "device_faults", "kill9", "soak")


def run(full: bool) -> bool:
    results: list[tuple[str, str, float]] = []
    for name in PARTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            results.append((name, "absent", 0.0))
            continue
        print(f"== {name}", flush=True)
        started = time.monotonic()
        try:
            verdict = "passed" if module.run(full) else "FAILED"
        except Exception:  # one part's crash must not hide the others' results
            traceback.print_exc()
            verdict = "CRASHED"
        results.append((name, verdict, time.monotonic() - started))
    print(f"\nreliability campaign{' (full)' if full else ''}:")
    for name, verdict, seconds in results:
        print(f"  {name:<14} {verdict:<8} {seconds:7.0f} s")
    return all(verdict in ("passed", "absent") for _, verdict, _ in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="every part in full (on demand only)")
    args = parser.parse_args()
    raise SystemExit(0 if run(args.full) else 1)


if __name__ == "__main__":
    main()
