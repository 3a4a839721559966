"""Atomic file writes: a reader, or a crash at any moment, sees either the old file or the new one, never a mix."""

from __future__ import annotations

import glob
import os
import secrets
import time
from pathlib import Path

STALE_TEMPORARY_S = 60.0  # a temporary this old belongs to a writer that died mid-write (kill -9, a power cut)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> None:
    """Write to a temporary file in the same directory, fsync it, rename it over `path`, fsync the directory.

    The file's permissions follow the process umask, as for any file the user creates (a config holding the site's
    coordinates stays private under umask 077); `mode` sets them explicitly instead."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = _create_temporary(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    _remove_stale_temporaries(target)


def _create_temporary(target: Path) -> tuple[int, str]:
    # Not tempfile.mkstemp: it creates mode 0600 whatever the umask. Asking for 0666 lets the kernel apply the umask.
    while True:
        name = str(target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), name
        except FileExistsError:
            continue  # another writer's temporary (or a leftover) has that name: draw another


def _remove_stale_temporaries(target: Path) -> None:
    """Remove the temporaries of `target` that writers killed mid-write left behind (a live writer's is fresh)."""
    cutoff = time.time() - STALE_TEMPORARY_S
    for leftover in target.parent.glob(glob.escape(f".{target.name}.") + "*.tmp"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: it does no harm where it is


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def indi_home() -> Path:
    """The user's INDI directory, where saved state lives."""
    return Path.home() / ".indi"
