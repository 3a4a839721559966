"""hamlib's rotctld network protocol, sans-I/O: bytes from a client → requests; results → the bytes rotctld sends.

Gpredict and hamlib's own `rotctl -m 2` (netrotctl) point antenna rotators through it. The rules below are those of
hamlib's `tests/rotctl_parse.c` as rotctld runs it (interactive, no prompt), checked byte for byte against Debian's
rotctld 4.5.4 (`rotctld -m 1`, the dummy rotator); the unit tests hold those transcripts:

- The input is a stream, not lines: a command is one character, or `\\name` ended by any character that is not a
  letter, digit or `_` (that character is consumed). Its arguments are the next whitespace-separated words, newlines
  included (`P\\n10\\n20` is `P 10 20`). Line ends before a command are skipped; a character that is no command (a
  space, `g`) is skipped silently; `#` starts a comment to the end of the line; `q`/`Q` ends the connection.
- A leading `+`, or any other punctuation except `\\`, `_` and `#`, asks for the extended response: the command's
  name and arguments first, each value labelled, the fields separated by that character (`+`: a newline), and always
  `RPRT 0` at the end of a success.
- Without it, a command that returns values answers with the values alone, one per line; any other command answers
  `RPRT 0`. A failure answers `RPRT -n`, n being hamlib's error code (1 invalid parameter, 9 rejected, 11 not
  available, ...).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One command of rotctl_parse.c's table: its character, long name, how many argument words it reads, whether it
    returns values (then the plain response has no `RPRT 0` after them), and the labels of its values."""

    char: str
    name: str
    inputs: int = 0
    returns: bool = False
    labels: tuple[str, ...] = ()
    rest_of_line: bool = False  # its one argument is the rest of the line (send_cmd)


# hamlib 4.5.4's table (Debian 12's rotctld), in its order; 0x8f and 0x8c are reached by their long names only.
# (Later versions add `3`, dump_conf: here, as in 4.5.4, `3` is no command.)
TABLE: tuple[Entry, ...] = (
    Entry("P", "set_pos", 2, labels=("Azimuth", "Elevation")),
    Entry("p", "get_pos", 0, True, ("Azimuth", "Elevation")),
    Entry("K", "park"),
    Entry("S", "stop"),
    Entry("R", "reset", 1),
    Entry("M", "move", 2),
    Entry("V", "set_level", 2),
    Entry("v", "get_level", 1, True),
    Entry("U", "set_func", 2),
    Entry("u", "get_func", 1, True),
    Entry("X", "set_parm", 2),
    Entry("x", "get_parm", 1, True),
    Entry("C", "set_conf", 2),
    Entry("_", "get_info", 0, True, ("Info",)),
    Entry("s", "get_status", 0, True),
    Entry("w", "send_cmd", 1, True, rest_of_line=True),
    Entry("1", "dump_caps"),
    Entry("\x8f", "dump_state", 0, True),
    Entry("L", "lonlat2loc", 3, True),
    Entry("l", "loc2lonlat", 1, True),
    Entry("D", "dms2dec", 4, True),
    Entry("d", "dec2dms", 1, True),
    Entry("E", "dmmm2dec", 3, True),
    Entry("e", "dec2dmmm", 1, True),
    Entry("B", "qrb", 4, True),
    Entry("A", "a_sp2a_lp", 1, True),
    Entry("a", "d_sp2d_lp", 1, True),
    Entry("\x8c", "pause", 1),
)
BY_CHAR = {entry.char: entry for entry in TABLE}
BY_NAME = {entry.name: entry for entry in TABLE}

MAX_NAME = 32  # MAXNAMSIZ: characters of a long command name
MAX_ARG = 127  # MAXARGSZ: characters of one argument word (a longer word is cut, the rest is the next word)
PUNCTUATION = frozenset(chr(c) for c in range(33, 127) if not chr(c).isalnum())  # C's ispunct
WHITESPACE = frozenset(" \t\n\v\f\r")

# hamlib's error codes (rig_errcode_e), answered negated as `RPRT -n`.
EINVAL = 1  # invalid parameter: an argument that does not read, a position outside the limits
ETIMEOUT = 5  # the mount did not answer
ERJCTED = 9  # rejected: the mount is parked, motion is held, nothing is connected
ENAVAIL = 11  # not available on this rotator


@dataclass(frozen=True)
class Request:
    entry: Entry
    args: tuple[str, ...]
    extended: bool = False
    separator: str = "\n"


@dataclass(frozen=True)
class Quit:
    """`q` or `Q`: the client is done; rotctld closes the connection without a reply."""


class _NeedMore(Exception):
    pass


class Parser:
    """Bytes in, requests out. feed() what arrives; events() yields every complete request (and Quit), keeping an
    incomplete one for the next feed. Bytes are read as Latin-1, one character each, as C's %c reads them."""

    def __init__(self) -> None:
        self.buffer = ""

    def feed(self, data: bytes) -> None:
        self.buffer += data.decode("latin-1")

    def events(self):
        while True:
            try:
                event, used = _parse_one(self.buffer)
            except _NeedMore:
                return
            self.buffer = self.buffer[used:]
            if event is not None:
                yield event


def _parse_one(text: str) -> tuple[Request | Quit | None, int]:
    """The next event at the start of `text` and how many characters it used; None for what rotctld ignores."""
    pos = 0

    def get() -> str:
        nonlocal pos
        if pos >= len(text):
            raise _NeedMore
        pos += 1
        return text[pos - 1]

    extended, separator = False, "\n"
    entry: Entry | None = None
    while True:
        c = get()
        if c == "+":
            extended = True
            c = get()
        if c not in "\\_#" and c in PUNCTUATION:
            extended, separator = True, c
            c = get()
        if c == "\\":
            name = ""
            c = get()
            while len(name) < MAX_NAME and (c.isascii() and c.isalnum() or c == "_"):
                name += c
                c = get()
            entry = BY_NAME.get(name)
            if entry is None:
                return None, pos
            break
        if c not in "\r\n":
            break
    if entry is None:
        if c == "#":
            while c not in "\r\n":
                c = get()
            return None, pos
        if c in "qQ":
            return Quit(), pos
        entry = BY_CHAR.get(c)
        if entry is None:
            return None, pos
    args: list[str] = []
    if entry.rest_of_line:
        line = _line(text, pos)
        pos += len(line)
        if line == "\n":
            second = _line(text, pos)
            pos += len(second)
            line = second
        line = line.rstrip("\n")
        args.append(line.removeprefix(" "))
        return Request(entry, tuple(args), extended, separator), pos
    for _ in range(entry.inputs):
        if args and args[0].startswith("?"):
            break  # hamlib reads no more arguments after a `?` (a question about the first)
        while True:
            c = get()
            if c not in WHITESPACE:
                break
        word = c
        while len(word) < MAX_ARG:
            if pos >= len(text):
                raise _NeedMore
            if text[pos] in WHITESPACE:
                break
            word += get()
        args.append(word)
    return Request(entry, tuple(args), extended, separator), pos


def _line(text: str, start: int) -> str:
    end = text.find("\n", start)
    if end < 0:
        raise _NeedMore
    return text[start : end + 1]


# --- reading numbers as sscanf("%f") does -------------------------------------------------------------------------

_FLOAT_PREFIX = re.compile(r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", re.IGNORECASE)


def read_degrees(word: str) -> float | None:
    """An angle as hamlib's set_pos reads it: a comma for the decimal point is accepted, and so is a number followed
    by anything (sscanf reads the number in front). None when no number starts the word, or it is not finite (hamlib
    would let NaN through its limit check; a mount must not)."""
    match = _FLOAT_PREFIX.match(word.replace(",", ".", 1))
    if match is None:
        return None
    value = float(match.group(0))
    return value if math.isfinite(value) else None


# --- replies ------------------------------------------------------------------------------------------------------


def _labelled(request: Request, pairs: list[tuple[str, str]]) -> str:
    """Values, each labelled in the extended response ("Azimuth: 12.00"), each followed by the separator."""
    if request.extended:
        return "".join(f"{label}: {value}{request.separator}" for label, value in pairs)
    return "".join(f"{value}{request.separator}" for _, value in pairs)


def reply(request: Request, values: str = "", error: int = 0) -> bytes:
    """The whole answer to a request: the echo of an extended request, the values (already formatted, see
    position()/info()/state()), then the result line as rotctld writes it. `error` is a positive hamlib code."""
    out = ""
    if request.extended:
        out += f"{request.entry.name}:" + "".join(f" {arg}" for arg in request.args) + request.separator
    if error:
        out += f"RPRT {-error}\n"
    else:
        out += values
        if request.extended or not request.entry.returns:
            out += "RPRT 0\n"
    return out.encode("latin-1")


def position(request: Request, azimuth: float, elevation: float) -> str:
    return _labelled(request, [("Azimuth", f"{azimuth:.2f}"), ("Elevation", f"{elevation:.2f}")])


def info(request: Request, text: str) -> str:
    return _labelled(request, [("Info", text)])


@dataclass(frozen=True)
class Limits:
    """What dump_state tells a client (netrotctl then refuses a position outside them itself)."""

    min_az: float
    max_az: float
    min_el: float
    max_el: float
    model: int = 2  # hamlib's model number for a rotator reached over the network (ROT_MODEL_NETROTCTL)


def state(request: Request, limits: Limits) -> str:
    """dump_state, protocol 1: tag=value lines that netrotctl reads until `done`."""
    sep = request.separator
    if request.extended:
        head = [
            f"rotctld Protocol Ver: 1{sep}",
            f"Rotor Model: {limits.model}{sep}",
            f"Minimum Azimuth: {limits.min_az:f}{sep}",
            f"Maximum Azimuth: {limits.max_az:f}{sep}",
            f"Minimum Elevation: {limits.min_el:f}{sep}",
            f"Maximum Elevation: {limits.max_el:f}{sep}",
            f"South Zero: 0{sep}",
        ]
    else:
        head = [
            f"1{sep}",
            f"{limits.model}{sep}",
            f"min_az={limits.min_az:f}{sep}",
            f"max_az={limits.max_az:f}{sep}",
            f"min_el={limits.min_el:f}{sep}",
            f"max_el={limits.max_el:f}{sep}",
            f"south_zero=0{sep}",
        ]
    return "".join(head) + f"rot_type=AzEl{sep}done{sep}"
