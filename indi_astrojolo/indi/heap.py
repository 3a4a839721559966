"""Giving freed heap back to the operating system after a burst of output.

While stdout lags (indiserver reading slowly on a busy machine), the answers waiting for it can reach a megabyte
(runtime.OUTPUT_BACKLOG_LIMIT). They are many small allocations; once written and freed, glibc keeps the pages they
spanned, so the process stays that much larger for the rest of the night (a 165-minute soak saw one step of 1.6 MiB
while the machine was busiest, then a flat line). `malloc_trim(0)` returns the free pages inside the heap, not only
its top. Other C libraries have no such call and manage their heap their own way: there this does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    # the process's own symbols, the C library's among them (ctypes.util.find_library would start a subprocess)
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_heap() -> bool:
    """Return the heap's free pages to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
