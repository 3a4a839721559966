"""Loaded by every Python process started with this folder on PYTHONPATH (memory_profile.py puts it there): in a
driver executable, with ASTROJOLO_TRACEMALLOC_DIR set, trace allocations from ASTROJOLO_TRACEMALLOC_START_S seconds
after start-up (default 30: tracing the imports made connecting ten times slower) and dump a snapshot every
ASTROJOLO_TRACEMALLOC_EVERY_S seconds (default 60) as <dir>/<executable>-<seconds>.snapshot.

A daemon thread takes the snapshots, so the driver's own code is not touched; tracing slows the driver and about
doubles its memory, which is why this is a diagnostic of its own and never part of the soak's figures.
"""

import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

FRAMES = 8


def _dump_every(folder: Path, name: str, start_s: float, every_s: float) -> None:
    started = time.monotonic()
    time.sleep(start_s)
    tracemalloc.start(FRAMES)
    while True:
        time.sleep(every_s)
        elapsed = round(time.monotonic() - started)
        target = folder / f"{name}-{elapsed:06d}.snapshot"
        tracemalloc.take_snapshot().dump(str(target) + ".part")
        os.replace(str(target) + ".part", target)


def _start() -> None:
    folder = os.environ.get("ASTROJOLO_TRACEMALLOC_DIR")
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if not folder or not name.startswith("indi_"):
        return
    start_s = float(os.environ.get("ASTROJOLO_TRACEMALLOC_START_S", "30"))
    every_s = float(os.environ.get("ASTROJOLO_TRACEMALLOC_EVERY_S", "60"))
    threading.Thread(target=_dump_every, args=(Path(folder), name, start_s, every_s), daemon=True).start()


_start()
