"""What can go wrong on a device link, and a protocol's verdict on a reply; sans-I/O.

The protocol cores (astrolink4/protocol.py, nexstar/aux.py) judge replies and raise these errors, and indi/ catches
them, without loading the request session or the transports (and so trio, pyserial or sockets). Only the standard
library is imported here.
"""

from __future__ import annotations

from enum import Enum


class Verdict(Enum):
    """A protocol's judgement of one item read while a request waits for its reply."""

    ACCEPT = "accept"
    IGNORE = "ignore"  # someone else's traffic or a stale reply: keep waiting
    REJECT = "reject"  # the device answered this request with an error: this attempt failed


class TransportError(OSError):
    """The transport could not be opened or broke."""


class LinkError(Exception):
    """The device could not be reached or did not answer as the protocol says."""


class LinkTimeout(LinkError):
    pass


class NotSentInTime(LinkTimeout):
    """A request with a deadline (`send_by`) that could not go out by then: nothing was sent, no reply was missed."""


class LinkDown(LinkError):
    pass


class ReplyRejected(LinkError):
    pass


class ReplyError(LinkError, ValueError):
    """A reply that does not have the form the protocol gives it."""
