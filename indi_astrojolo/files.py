"""Atomic file writes: a reader, or a crash at any moment, sees either the old file or the new one, never a mix."""

from __future__ import annotations

import glob
import os
import tempfile
import time
from pathlib import Path

STALE_TEMPORARY_S = 60.0  # a temporary this old belongs to a writer that died mid-write (kill -9, a power cut)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    """Write to a temporary file in the same directory, fsync it, rename it over `path`, fsync the directory."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
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
