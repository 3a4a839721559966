"""libindi's alignment-subsystem point-set properties over the driver's own pointing model (issue 15, item 3).

Ekos knows two ways to clear a mount's model: libindi's alignment subsystem (ALIGNMENT_POINTSET_ACTION, then
ALIGNMENT_POINTSET_COMMIT) and EQMod's ALIGNLIST. KStars 3.6.2's Mount::clearAlignmentModel (kstars/indi/
indimount.cpp) resets ALIGNMENT_POINTSET_ACTION, turns its member at *index 4* On and sends the vector, then turns
ALIGNMENT_POINTSET_COMMIT's only member On and sends that; Ekos's Mount tab ("Clear Model"), its D-Bus
Mount.resetModel, the Align module and the Scheduler's "reset mount model" all end there. xml/
nexstar_aux_alignment.xml keeps libindi's member order, so index 4 is CLEAR: what Ekos means and what it names on the
wire are the same member, and no guess about a client's intent is needed.

The driver's model is a list of sync points made by syncs (ON_COORD_SET SYNC then the star's coordinates), saved in
<device>_pointing.json. libindi's point set is a database of entries a client writes one field at a time
(ALIGNMENT_POINT_MANDATORY_NUMBERS: Julian date, RA/Dec, a telescope direction vector in its math plugin's frame).
So, on COMMIT, according to the selected action (the table ACTIONS):
  CLEAR          clears the model: the same code as POINTING_CLEAR (NexStarDriver.replace_sync_points).
  DELETE         deletes the sync point at ALIGNMENT_POINTSET_CURRENT_ENTRY (counted from 0, as libindi does;
                 POINTING_POINTS lists them from 1), through the same code.
  SAVE DATABASE  answers Ok: every change is already written to the pointing file (atomically).
  APPEND, INSERT, EDIT, READ, READ INCREMENT, LOAD DATABASE
                 are refused (COMMIT goes Alert with the reason) and nothing changes: entries are made by syncs, not
                 written field by field, and the file is read when the mount connects.
Refusing rather than half-honouring keeps a client from believing it built or read a model it did not.

A selection only serves the commit after it: after a CLEAR or DELETE is carried out the action returns to APPEND
(libindi's default, which does nothing here), so a later bare COMMIT from another client cannot clear again what has
been synced since. A refused commit changes nothing, the selection included. ACTION on its own never acts.

None of this moves the mount (NexStarDriver.replace_sync_points: refused while it slews, re-anchored while it
tracks), and it works while disconnected too: the model is a file.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..indi.part import Handler, Part
from ..indi.properties import PropertySet, State, Update, ValidationError
from .mount import SyncPoint

ACTION = "ALIGNMENT_POINTSET_ACTION"
COMMIT = "ALIGNMENT_POINTSET_COMMIT"
CURRENT_ENTRY = "ALIGNMENT_POINTSET_CURRENT_ENTRY"
RESTING_ACTION = "APPEND"  # libindi's default selection; refused here, so a bare COMMIT does nothing


class PointingModelOwner(Protocol):
    """What the point-set properties need of the driver: its properties, a way to report, and its sync points."""

    props: PropertySet

    def update(self, name: str, state: State | None = None, message: str | None = None) -> None: ...

    def sync_points(self) -> list[SyncPoint]: ...

    def pointing_file(self) -> Path: ...

    async def replace_sync_points(self, points: list[SyncPoint]) -> None: ...


Step = Callable[["AlignmentPointSet"], Awaitable[str]]


@dataclass(frozen=True)
class Action:
    """What COMMIT does for one ALIGNMENT_POINTSET_ACTION member: a step returning its message, or a refusal."""

    step: Step | None = None
    refusal: str = ""
    destructive: bool = False  # carried out, the selection returns to RESTING_ACTION


async def _clear(points: AlignmentPointSet) -> str:
    await points.owner.replace_sync_points([])
    return "Pointing model cleared"


async def _delete(points: AlignmentPointSet) -> str:
    value = points.owner.props.number(CURRENT_ENTRY)[CURRENT_ENTRY].value
    current = points.owner.sync_points()
    if value != int(value) or not 0 <= value < len(current):
        raise ValidationError(
            f"DELETE: there is no entry {value:g}; the set has {len(current)} (entries count from 0; "
            f"POINTING_POINTS lists them from 1)"
        )
    index = int(value)
    await points.owner.replace_sync_points(current[:index] + current[index + 1 :])
    return f"Sync point {index} deleted ({len(current) - 1} left)"


async def _save(points: AlignmentPointSet) -> str:
    return f"Nothing to save: every change to the pointing model is written to {points.owner.pointing_file()}"


_MADE_BY_SYNCS = (
    "entries are made by syncs here (ON_COORD_SET SYNC, then the star's coordinates), not written one by one"
)

ACTIONS: dict[str, Action] = {
    "APPEND": Action(refusal=_MADE_BY_SYNCS),
    "INSERT": Action(refusal=_MADE_BY_SYNCS),
    "EDIT": Action(refusal=_MADE_BY_SYNCS),
    "DELETE": Action(_delete, destructive=True),
    "CLEAR": Action(_clear, destructive=True),
    "READ": Action(refusal="not offered; the sync points are listed in POINTING_POINTS"),
    "READ INCREMENT": Action(refusal="not offered; the sync points are listed in POINTING_POINTS"),
    "LOAD DATABASE": Action(
        refusal="the pointing file is read when the mount connects and kept in step with the model"
    ),
    "SAVE DATABASE": Action(_save),
}


class AlignmentPointSet(Part):
    def __init__(self, owner: PointingModelOwner) -> None:
        self.owner = owner
        missing = set(owner.props.switch(ACTION).members) ^ set(ACTIONS)
        if missing:
            raise ValueError(f"{ACTION} and the action table disagree about {sorted(missing)}")
        self.handlers: dict[str, Handler] = {
            ACTION: self.on_action,
            COMMIT: self.on_commit,
            CURRENT_ENTRY: self.on_current_entry,
        }

    async def on_action(self, update: Update) -> None:
        """Only a selection: nothing happens until COMMIT."""
        action = self.owner.props.switch(ACTION)
        action.apply(update.values)
        self.owner.update(ACTION, State.OK, f"{action.selected()} selected; it is done on {COMMIT}")

    async def on_current_entry(self, update: Update) -> None:
        update.vector.apply(update.values)
        self.owner.update(CURRENT_ENTRY, State.OK, f"Current entry {update[CURRENT_ENTRY]:g}")

    async def on_commit(self, update: Update) -> None:
        commit = self.owner.props.switch(COMMIT)
        if not update[COMMIT]:
            commit.reset()
            self.owner.update(COMMIT, State.IDLE, "Nothing to do: ALIGNMENT_POINTSET_COMMIT was Off")
            return
        action_vector = self.owner.props.switch(ACTION)
        selected = action_vector.selected() or RESTING_ACTION
        action = ACTIONS[selected]
        if action.step is None:
            raise ValidationError(f"{selected}: {action.refusal}; nothing changed")
        message = await action.step(self)  # a refusal raises ValidationError: COMMIT goes Alert, nothing changed
        if action.destructive:
            action_vector.select(RESTING_ACTION)
            self.owner.update(ACTION, State.OK)
        commit.reset()
        self.owner.update(COMMIT, State.OK, message)
