"""trio's fake clock for whole-driver tests, made safe with worker threads.

`trio.testing.MockClock(autojump_threshold=0)` jumps to the next timer as soon as no task can run. While a task waits
for a worker thread (`trio.to_thread.run_sync`: config files, the session log's fsync, park and pointing files, a
serial port being opened) no task can run either, so the clock jumped on for as long as the thread took in real time:
how much fake time passed during a file write depended on the machine's load, and a test's own `trio.sleep` could end
before a thread started at the same fake moment had finished. This clock stands still while a worker thread runs, so
a thread takes no fake time at all, whatever the load.
"""

from __future__ import annotations

import time

import trio
import trio.testing

IDLE_POLL_S = 0.0005  # real seconds between looks at a running worker thread (its end also wakes the loop)


def thread_aware_mock_clock() -> trio.testing.MockClock:
    """MockClock(autojump_threshold=0) whose autojump waits while a worker thread runs.

    MockClock cannot be subclassed and trio's run loop insists on a MockClock before autojumping, so the one hook
    trio calls (`_autojump`, run when no task is runnable and no I/O is ready) is wrapped on the instance."""
    clock = trio.testing.MockClock(autojump_threshold=0)
    jump = clock._autojump

    def autojump_unless_a_thread_runs() -> None:
        if trio.testing.active_thread_count():
            time.sleep(IDLE_POLL_S)  # rather than spinning on the GIL the worker thread needs
            return
        jump()

    clock._autojump = autojump_unless_a_thread_runs  # type: ignore[method-assign]
    return clock
