"""libindi's alignment point-set properties on the NexStar driver (issue 15, item 3), under a real indiserver with
pyindi-client, against the emulator: the exact switch sequence of KStars 3.6.2's Mount::clearAlignmentModel (what
Ekos's "Clear Model" and resetModel send) clears the driver's pointing model, rewrites the pointing file and moves
nothing; the actions the driver does not offer are refused and change nothing."""

from __future__ import annotations

import json
import time

import pytest
from nexstar_rig import ALT, AZM, DEVICE

ACTION, COMMIT, SIZE = "ALIGNMENT_POINTSET_ACTION", "ALIGNMENT_POINTSET_COMMIT", "ALIGNMENT_POINTSET_SIZE"
# libindi's members in libindi's order (libs/alignment/MapPropertiesToInMemoryDatabase.cpp): KStars picks CLEAR by index.
LIBINDI_ACTIONS = [
    "APPEND", "INSERT", "EDIT", "DELETE", "CLEAR", "READ", "READ INCREMENT", "LOAD DATABASE", "SAVE DATABASE",
]  # fmt: skip
MOTION = ("GOTO_FAST", "GOTO_SLOW", "MOVE_POS", "MOVE_NEG", "SET_POS_GUIDERATE", "SET_NEG_GUIDERATE", "SEEK_INDEX")


def pointing_file(mount):
    return mount.server.home / ".indi" / f"{DEVICE}_pointing.json"


def saved_points(mount) -> list:
    return json.loads(pointing_file(mount).read_text())["points"]


def sync_off_by(mount, dra_hours: float, ddec: float) -> None:
    """A sync telling the driver the mount points a little away from where it thinks: a model with real offsets."""
    points = mount.values("POINTING_MODEL")["POINTS"]
    position = mount.values("EQUATORIAL_EOD_COORD")
    mount.settle("ON_COORD_SET", ["SYNC"], kind="Switch")
    mount.settle("EQUATORIAL_EOD_COORD", {"RA": (position["RA"] + dra_hours) % 24, "DEC": position["DEC"] + ddec})
    mount.client.wait_for(lambda: mount.values("POINTING_MODEL")["POINTS"] == points + 1, 10, "the sync point")
    mount.settle("ON_COORD_SET", ["TRACK"], kind="Switch")


def clear_as_kstars_does(mount) -> None:
    """KStars 3.6.2, Mount::clearAlignmentModel: reset ALIGNMENT_POINTSET_ACTION, turn the member at index 4 On, send
    it; turn ALIGNMENT_POINTSET_COMMIT's member at index 0 On, send it. No wait in between."""
    client, PyIndi = mount.client, mount.client.PyIndi
    device = client._device(DEVICE)
    action = device.getSwitch(ACTION)
    action.reset()
    action[4].setState(PyIndi.ISS_ON)
    client.client.sendNewSwitch(action)
    commit = device.getSwitch(COMMIT)
    commit[0].setState(PyIndi.ISS_ON)
    client.client.sendNewSwitch(commit)


def commit_answer(mount, mark: int):
    return mount.client.wait_for(
        lambda: [s for s in mount.client.updates_since(DEVICE, COMMIT, mark) if s.state in ("Ok", "Alert")][-1:],
        20,
        "the answer to COMMIT",
    )[0]


def test_the_point_set_is_libindis_and_defined_before_connecting(server_factory, client_factory) -> None:
    """KStars 3.6.2 decides whether a mount has a model when it first sees the device, usually before it connects."""
    server = server_factory("indi_nexstar_aux")
    client = client_factory(server)
    action = client.wait_property(DEVICE, ACTION)
    assert list(action.values) == LIBINDI_ACTIONS and action.values["APPEND"] is True
    assert (action.group, action.label) == ("Alignment", "Action to take")
    commit = client.wait_property(DEVICE, COMMIT)
    assert commit.values == {"ALIGNMENT_POINTSET_COMMIT": False} and commit.label == "Execute the action"
    assert list(client.wait_property(DEVICE, SIZE).values) == [SIZE]
    assert list(client.wait_property(DEVICE, "ALIGNMENT_POINTSET_CURRENT_ENTRY").values) == [
        "ALIGNMENT_POINTSET_CURRENT_ENTRY"
    ]
    assert client.get(DEVICE, "CONNECTION").values["CONNECT"] is False


def test_ekos_clear_model_clears_the_model_and_moves_nothing(mount_factory) -> None:
    mount = mount_factory()
    # The mount still, a model of one point.
    mount.goto_horizontal(100.0, 45.0, track=False)
    sync_off_by(mount, 0.01, 0.3)
    assert len(saved_points(mount)) == 1 and mount.values(SIZE)[SIZE] == 1
    axes = mount.axis(AZM), mount.axis(ALT)
    received = mount.received_mark()
    mark = mount.client.mark(DEVICE, COMMIT)
    clear_as_kstars_does(mount)
    answer = commit_answer(mount, mark)
    assert answer.state == "Ok" and answer.values["ALIGNMENT_POINTSET_COMMIT"] is False
    mount.client.wait_for(lambda: mount.values("POINTING_MODEL")["POINTS"] == 0, 10, "POINTING_MODEL to show 0 points")
    assert mount.values(SIZE)[SIZE] == 0 and mount.values("POINTING_POINTS")["POINTS"] == ""
    assert saved_points(mount) == []
    assert mount.values(ACTION)["APPEND"] is True  # the CLEAR selection served its one commit
    time.sleep(1.5)
    assert (mount.axis(AZM), mount.axis(ALT)) == pytest.approx(axes, abs=1e-6)
    moves = [line for line in mount.received_since(received) if line.startswith(MOTION)]
    assert moves == [], f"clearing the model sent motion commands: {moves}"


def test_ekos_clear_model_while_tracking_keeps_the_mount_on_its_sky(mount_factory) -> None:
    """Ekos's Align module resets the model while the mount tracks: the mount goes on tracking the same piece of sky
    (its axes keep their sidereal course), only the coordinates shown change by the model's offsets."""
    mount = mount_factory()
    mount.goto_horizontal(150.0, 45.0, track=True)
    sync_off_by(mount, 0.01, 0.3)
    time.sleep(3)  # the tracking settles on what the sync says is there
    first = mount.true_axes()
    time.sleep(3)
    second = mount.true_axes()
    rate = [(second[i] - first[i]) / (second[2] - first[2]) for i in (0, 1)]
    mark = mount.client.mark(DEVICE, COMMIT)
    clear_as_kstars_does(mount)
    assert commit_answer(mount, mark).state == "Ok"
    assert saved_points(mount) == [] and mount.values(SIZE)[SIZE] == 0
    for _ in range(2):
        time.sleep(2)
        azm, alt, when = mount.true_axes()
        expected = [second[i] + rate[i] * (when - second[2]) for i in (0, 1)]
        off = max(abs(azm - expected[0]), abs(alt - expected[1]))
        assert off < 0.01, f"the axes left their tracking course by {off:.3f}° after the model was cleared"
    assert mount.values("TELESCOPE_TRACK_STATE")["TRACK_ON"] is True


def test_actions_the_driver_does_not_offer_are_refused_and_change_nothing(mount_factory) -> None:
    mount = mount_factory()
    mount.goto_horizontal(100.0, 45.0, track=False)
    sync_off_by(mount, 0.01, 0.3)
    before = pointing_file(mount).read_bytes()
    model = mount.values("POINTING_MODEL")
    for action in ("APPEND", "INSERT", "EDIT", "READ", "READ INCREMENT", "LOAD DATABASE"):
        mount.settle(ACTION, [action], kind="Switch")
        start = len(mount.client.messages)
        answer = mount.settle(COMMIT, ["ALIGNMENT_POINTSET_COMMIT"], kind="Switch", states=("Ok", "Alert"))
        assert answer.state == "Alert", action
        assert "nothing changed" in mount.client.wait_message(DEVICE, f"{action}: ", start=start)
        assert mount.values(ACTION)[action] is True
    assert pointing_file(mount).read_bytes() == before
    assert mount.values("POINTING_MODEL") == model and mount.values(SIZE)[SIZE] == 1
