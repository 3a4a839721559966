"""Saved files: atomic writes (a reader, or a crash at any moment, sees either the old file or the new one, never a
mix), the user's INDI directory, and the one validating loader and writer every JSON store goes through."""

from __future__ import annotations

import errno
import glob
import json
import math
import os
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")

STALE_TEMPORARY_S = 60.0  # a temporary this old belongs to a writer that died mid-write (kill -9, a power cut)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> None:
    """Write to a temporary file in the same directory, fsync it, rename it over `path`, fsync the directory.

    The file's permissions follow the process umask, as for any file the user creates (a config holding the site's
    coordinates stays private under umask 077); `mode` sets them explicitly instead."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a plain file where the directory should be (~/.indi made by mistake)
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(target.parent)) from None
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


# --- saved documents: one validating loader and one writer for every store --------------------------------------

MAX_DOCUMENT_BYTES = 1 << 20  # a park, pointing or points file is a few kB; anything near this is not ours


class DocumentError(ValueError):
    """What is wrong inside a saved document, in words ("axis1" must be a finite number, not 'abc')."""


class StoreProblem(Exception):
    """A saved file that cannot be used. The message names the file, says what is wrong and where the file went."""

    def __init__(self, path: Path, reason: str, kept_aside: Path | None = None, *, note: str = "") -> None:
        self.path = path
        self.reason = reason
        self.kept_aside = kept_aside
        text = f"{path}: {reason}"
        if kept_aside is not None:
            text += f"; the file was kept aside as {kept_aside.name}"
        super().__init__(text + (f"; {note}" if note else ""))


def utc_stamp(now: float | None = None) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))


def damaged_name(path: Path, now: float | None = None) -> Path:
    """Where a damaged file is kept: beside it, as <name>.damaged-<UTC time>, never over an earlier one."""
    base = path.with_name(f"{path.name}.damaged-{utc_stamp(now)}")
    candidate, number = base, 1
    while os.path.lexists(candidate):
        number += 1
        candidate = base.with_name(f"{base.name}.{number}")
    return candidate


def move_aside(path: Path) -> Path:
    """Rename a damaged file out of the way (so the next save cannot overwrite it); returns its new name."""
    target = damaged_name(path)
    os.rename(path, target)
    return target


def copy_aside(path: Path, data: bytes) -> Path:
    """Keep a copy of a damaged file's bytes beside it, once: an identical copy already there is reused."""
    for existing in path.parent.glob(glob.escape(f"{path.name}.damaged-") + "*"):
        try:
            if existing.stat().st_size == len(data) and existing.read_bytes() == data:
                return existing
        except OSError:
            continue
    target = damaged_name(path)
    atomic_write_bytes(target, data)
    return target


def file_error(exc: OSError, doing: str = "read") -> str:
    """An ordinary disk condition in words: "cannot write /x/park.json: Read-only file system"."""
    where = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"cannot {doing} {where}: {reason}" if where else f"cannot {doing}: {reason}"


class FileTooLarge(Exception):
    def __init__(self, path: Path, size: int, limit: int) -> None:
        self.path, self.size, self.limit = path, size, limit
        super().__init__(f"{size:,} bytes, more than the {limit:,} such a file can be")


def read_bounded(path: Path, limit: int) -> bytes | None:
    """A regular file's bytes, or None when there is none. Never blocks on a FIFO and never reads more than
    `limit` bytes: a file over the limit raises FileTooLarge before anything is read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    try:
        status = os.fstat(fd)
        if stat.S_ISDIR(status.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if status.st_size > limit:
            raise FileTooLarge(path, status.st_size, limit)
        chunks, remaining = [], limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:  # it grew while being read
            raise FileTooLarge(path, len(data), limit)
        return data
    finally:
        os.close(fd)


def _no_constants(name: str) -> float:
    raise DocumentError(f"{name} is not a number a saved file may hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise DocumentError(f"{text} is too large a number")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 18:  # beyond any count, step or time a store holds (and beyond a float's precision)
        raise DocumentError(f"{text[:30]} is too large a number")
    return int(text)


def load_document(
    path: str | os.PathLike[str],
    kind: str,
    version: int,
    parse: Callable[[Fields], T],
    *,
    keep_aside: bool = True,
    limit: int = MAX_DOCUMENT_BYTES,
) -> T | None:
    """Read a saved JSON document {"format": kind, "version": version, ...} and hand its fields to `parse`.

    None if there is no file. A file that is damaged (not JSON, NaN or infinity, another format or version, a
    missing field, a wrong type, a number out of range) raises StoreProblem naming it and saying what is wrong; with
    `keep_aside` it is first renamed to <name>.damaged-<UTC time>, so the next save cannot overwrite it. A file that
    cannot be read at all (permissions, ~/.indi a plain file, a directory in its place) raises StoreProblem too,
    and is left where it is.
    """
    target = Path(path)
    try:
        data = read_bounded(target, limit)
    except FileTooLarge as exc:
        _damaged(target, str(exc), keep_aside)
    except OSError as exc:
        raise StoreProblem(target, f"it cannot be read ({exc.strerror or exc})") from None
    if data is None:
        return None
    try:
        document = json.loads(
            data.decode("utf-8"), parse_constant=_no_constants, parse_float=_finite_float, parse_int=_bounded_int
        )
    except UnicodeDecodeError:
        _damaged(target, "not UTF-8 text", keep_aside)
    except DocumentError as exc:
        _damaged(target, str(exc), keep_aside)
    except ValueError as exc:  # JSONDecodeError, and the interpreter's own limits on numbers
        _damaged(target, f"not valid JSON ({exc})", keep_aside)
    except RecursionError:
        _damaged(target, "nested too deeply", keep_aside)
    try:
        if not isinstance(document, dict) or document.get("format") != kind:
            raise DocumentError(f"not a {kind} file")
        if document.get("version") != version:
            raise DocumentError(f"version {document.get('version')!r} is not supported, only {version}")
        return parse(Fields(document))
    except DocumentError as exc:
        _damaged(target, str(exc), keep_aside)


def _damaged(path: Path, reason: str, keep_aside: bool) -> NoReturn:
    if not keep_aside:
        raise StoreProblem(path, f"it is damaged: {reason}", note="it was left as it is, fix or move it")
    try:
        kept = move_aside(path)
    except OSError as exc:
        raise StoreProblem(
            path, f"it is damaged: {reason}", note=f"it could not be kept aside: {file_error(exc, 'rename')}"
        ) from None
    raise StoreProblem(path, f"it is damaged: {reason}", kept)


def save_document(
    path: str | os.PathLike[str], kind: str, version: int, fields: dict[str, Any], *, indent: int | None = 1
) -> None:
    """Write a document atomically; NaN or infinity anywhere is refused (ValueError) before the file is touched."""
    document = {"format": kind, "version": version, **fields}
    atomic_write_text(path, json.dumps(document, indent=indent, allow_nan=False) + "\n")


class Fields:
    """Typed access to a JSON object: each accessor checks presence, type, finiteness and range, and says in words
    which field is wrong (with `where` naming the entry: "point 2: ...")."""

    def __init__(self, mapping: object, where: str = "") -> None:
        if not isinstance(mapping, dict):
            raise DocumentError(f"{where or 'the document'} is not an object")
        self.mapping = mapping
        self.where = where

    def _fail(self, key: str, wanted: str, value: object) -> NoReturn:
        prefix = f"{self.where}: " if self.where else ""
        raise DocumentError(f'{prefix}"{key}" must be {wanted}, not {value!r}'[:300])

    def _get(self, key: str, wanted: str) -> object:
        if key not in self.mapping:
            prefix = f"{self.where}: " if self.where else ""
            raise DocumentError(f'{prefix}"{key}" is missing (it must be {wanted})')
        return self.mapping[key]

    def has(self, key: str) -> bool:
        return key in self.mapping and self.mapping[key] is not None

    def number(self, key: str, low: float = -math.inf, high: float = math.inf) -> float:
        wanted = "a finite number" + (f" from {low:g} to {high:g}" if math.isfinite(low) or math.isfinite(high) else "")
        value = self._get(key, wanted)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self._fail(key, wanted, value)
        if not low <= value <= high:
            self._fail(key, wanted, value)
        return float(value)

    def integer(self, key: str, low: int, high: int) -> int:
        wanted = f"a whole number from {low:,} to {high:,}"
        value = self._get(key, wanted)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a hand edit may write 15000.0; that is still a whole number
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self._fail(key, wanted, value)
        return value

    def boolean(self, key: str) -> bool:
        value = self._get(key, "true or false")
        if not isinstance(value, bool):
            self._fail(key, "true or false", value)
        return value

    def text(self, key: str, default: str = "", *, at_most: int = 1000) -> str:
        value = self.mapping.get(key, default)
        if not isinstance(value, str) or len(value) > at_most:
            self._fail(key, f"text of at most {at_most} characters", value)
        return value

    def entries(self, key: str, label: str, *, at_most: int = 100_000) -> list[Fields]:
        """A list of objects, each wrapped as Fields named "<label> <number>"."""
        value = self._get(key, "a list")
        if not isinstance(value, list):
            self._fail(key, "a list", value)
        if len(value) > at_most:
            self._fail(key, f"a list of at most {at_most} entries", f"{len(value)} entries")
        return [Fields(entry, f"{label} {number}") for number, entry in enumerate(value, start=1)]

    def integers(self, key: str, count: int, low: int, high: int) -> tuple[int, ...]:
        wanted = f"a list of {count} whole numbers from {low:,} to {high:,}"
        value = self._get(key, wanted)
        if not isinstance(value, list) or len(value) != count:
            self._fail(key, wanted, value)
        checked = Fields({str(i): item for i, item in enumerate(value)}, self.where)
        try:
            return tuple(checked.integer(str(i), low, high) for i in range(count))
        except DocumentError:
            self._fail(key, wanted, value)
