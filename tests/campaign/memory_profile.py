"""Where does a driver's memory go under the soak's load? One driver at POLLING_PERIOD 100 ms with a client asking for
every property every 100 ms (as in soak.py), its allocations traced (memory_trace/sitecustomize.py), and the
allocation sites that grew most between the end of the warm-up and the end printed, with their callers.

    .venv/bin/python tests/campaign/memory_profile.py astrolink --minutes 20 --warm-up 5
    .venv/bin/python tests/campaign/memory_profile.py nexstar --minutes 20

A diagnostic, on demand: tracing slows the driver and doubles its memory, so its RSS is not the soak's figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from device_rigs import AstroLinkRig, NexStarRig
from property_poller import PropertyPoller

HERE = Path(__file__).resolve().parent
RIGS = {"astrolink": AstroLinkRig, "nexstar": NexStarRig}


def snapshots(folder: Path) -> list[tuple[int, Path]]:
    found = []
    for path in folder.glob("*.snapshot"):
        found.append((int(path.stem.rsplit("-", 1)[1]), path))
    return sorted(found)


def report(folder: Path, warm_up_s: float, top: int) -> None:
    taken = snapshots(folder)
    after_warm_up = [(at, path) for at, path in taken if at >= warm_up_s]
    if len(after_warm_up) < 2:
        print(f"only {len(taken)} snapshot(s), {len(after_warm_up)} after the warm-up: run longer")
        return
    (first_at, first), (last_at, last) = after_warm_up[0], after_warm_up[-1]
    old, new = tracemalloc.Snapshot.load(str(first)), tracemalloc.Snapshot.load(str(last))
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib.*")]
    old, new = old.filter_traces(ignore), new.filter_traces(ignore)
    total = sum(s.size for s in new.statistics("filename")) - sum(s.size for s in old.statistics("filename"))
    minutes = (last_at - first_at) / 60
    print(f"traced memory {total / 1024:+.0f} KiB from {first_at / 60:.0f} to {last_at / 60:.0f} min "
          f"({total / 1024 / minutes:+.1f} KiB/min); the sites that grew most:")  # fmt: skip
    for stat in new.compare_to(old, "traceback")[:top]:
        if stat.size_diff <= 0:
            break
        print(f"\n{stat.size_diff / 1024:+.1f} KiB in {stat.count_diff:+d} blocks (now {stat.size / 1024:.0f} KiB)")
        for line in stat.traceback.format(limit=6):
            print("   " + line)


def run(kind: str, minutes: float, warm_up_min: float, every_s: float, top: int) -> None:
    with tempfile.TemporaryDirectory(prefix="memprof-") as scratch:
        folder = Path(scratch) / "snapshots"
        folder.mkdir()
        os.environ["ASTROJOLO_TRACEMALLOC_DIR"] = str(folder)
        os.environ["ASTROJOLO_TRACEMALLOC_EVERY_S"] = str(every_s)
        paths = [str(HERE / "memory_trace"), os.environ.get("PYTHONPATH")]
        os.environ["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
        rig = RIGS[kind](Path(scratch) / "r", polling_ms=100)
        rig.start()
        try:
            assert rig.server is not None
            poller = PropertyPoller(rig.server.port, 0.1).start()
            print(f"{rig.driver}: traced for {minutes:g} min under load, a snapshot every {every_s:g} s", flush=True)
            time.sleep(minutes * 60 + 5)
            poller.stop()
            print(f"{poller.requests} getProperties asked; RSS now {rig.rss_kib() / 1024:.1f} MiB (traced)")
        finally:
            rig.stop()
        report(folder, warm_up_min * 60, top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("driver", choices=sorted(RIGS))
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--warm-up", type=float, default=5.0, help="minutes left out at the start")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between snapshots")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    run(args.driver, args.minutes, args.warm_up, args.every, args.top)


if __name__ == "__main__":
    sys.exit(main())
