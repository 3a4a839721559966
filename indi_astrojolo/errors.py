"""Turning exceptions, including trio's exception groups, into one clear sentence for the user."""

from __future__ import annotations


def first_error(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (trio wraps errors raised inside nurseries), or the exception itself."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe(exc: BaseException) -> str:
    exc = first_error(exc)
    text = str(exc).strip()
    if isinstance(exc, OSError) and exc.strerror and not text.startswith("[Errno"):
        return text or exc.strerror
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (f": {exc.filename}" if exc.filename else "")
    return text or type(exc).__name__
