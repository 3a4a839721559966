"""How a motion command can end other than by doing what it was sent for, shared by the parts that move the mount
(motion.py, guiding.py, satellite.py) without importing one another."""

from __future__ import annotations


class MotionError(Exception):
    pass


class Halted(MotionError):
    """A motion command after an abort, before anyone asked for motion again: not sent."""
