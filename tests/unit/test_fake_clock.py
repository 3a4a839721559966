"""The fake clock the tests use (tests/support/fake_clock.py): a worker thread takes no fake time, whatever its real
duration, so whole-driver tests whose driver writes files in threads are deterministic under load."""

from __future__ import annotations

import time

import trio


async def test_the_clock_stands_still_while_a_worker_thread_runs(autojump_clock) -> None:
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.sleep, 1000.0)  # a timer plain MockClock(autojump_threshold=0) jumps to meanwhile
        await trio.to_thread.run_sync(time.sleep, 0.2)  # a slow SD card, a loaded machine
        assert trio.current_time() == start
        await trio.sleep(5.0)  # and the clock still jumps when nothing runs
        assert trio.current_time() == start + 5.0
        nursery.cancel_scope.cancel()
