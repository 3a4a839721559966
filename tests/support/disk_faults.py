"""Disk conditions a test cannot make for real as root: root ignores permission bits, so a read-only directory is
made by failing the creation of new files in it the way a read-only mount fails them (EROFS)."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def refuse_new_files(monkeypatch, directory: str | os.PathLike[str]) -> None:
    """Every os.open that would create a file under `directory` fails with EROFS; everything else is untouched."""
    root = Path(directory).resolve()
    real_open = os.open

    def open_on_a_read_only_mount(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and Path(path).resolve().is_relative_to(root):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_on_a_read_only_mount)
