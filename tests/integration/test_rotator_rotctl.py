"""The mount as an antenna rotator, driven by hamlib's own client: `rotctl -m 2` (netrotctl) against the driver's
rotctld endpoint, the driver under a real indiserver with the emulated mount on a pty. The emulator's true axes say
where the mount points (no pointing model: the axes are the antenna's azimuth and elevation)."""

from __future__ import annotations

import math
import shutil
import socket
import subprocess
import time

import pytest
from harness import free_port, wait_until
from nexstar_rig import ALT, AZM, Mount

MOTION = ("GOTO_FAST", "GOTO_SLOW", "MOVE_POS", "MOVE_NEG", "SET_POS_GUIDERATE", "SET_NEG_GUIDERATE")


@pytest.fixture(scope="module", autouse=True)
def _rotctl_installed() -> None:
    if shutil.which("rotctl") is None or shutil.which("rotctld") is None:
        pytest.fail(
            "hamlib's rotctl is not installed: run ./quickstart.sh setup (it installs Debian's libhamlib-utils)"
        )


def rotctl(port: int, *words: str) -> subprocess.CompletedProcess[str]:
    """hamlib's command-line client, one connection for the commands given."""
    command = ["rotctl", "-m", "2", "-r", f"127.0.0.1:{port}", *words]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)  # its exit code is checked


def ask(port: int, data: bytes, lines: int) -> bytes:
    """A raw exchange with the endpoint: send `data`, read until `lines` lines have come back."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        answer = b""
        while answer.count(b"\n") < lines:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer


def motion_sent(mount: Mount, mark: int) -> list[str]:
    """AUX commands since `mark` that set an axis moving (a stop carries zeros)."""
    lines = mount.received_since(mark)
    return [line for line in lines if line.startswith(MOTION) and line.split()[2:] and int(line.split()[2], 16)]


def serve_rotator(mount: Mount, port: int) -> None:
    with pytest.raises(ConnectionRefusedError):  # off until switched on
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert mount.settle("ROTATOR_SERVER_PORT", {"PORT": port}).state == "Ok"
    assert mount.settle("ROTATOR_SERVER", ["ENABLE"], kind="Switch", states=("Ok", "Alert")).state == "Ok"


def position(port: int) -> tuple[float, float]:
    result = rotctl(port, "p")
    assert result.returncode == 0, result.stdout + result.stderr
    azimuth, elevation = result.stdout.split()
    return float(azimuth), float(elevation)


def at_rest(mount: Mount) -> bool:
    first = (mount.axis(AZM), mount.axis(ALT))
    time.sleep(1.0)
    return (mount.axis(AZM), mount.axis(ALT)) == pytest.approx(first, abs=0.001)


def test_rotctl_points_the_mount_stops_it_and_is_refused_outside_the_limits(mount_factory) -> None:
    mount = mount_factory()
    mount.settle("ALTITUDE_LIMITS", {"MIN_ALT": 10, "MAX_ALT": 85})
    port = free_port()
    serve_rotator(mount, port)

    state = ask(port, b"\\dump_state\n", 9).decode()
    assert state.splitlines()[2:7] == [
        "min_az=-180.000000", "max_az=450.000000", "min_el=10.000000", "max_el=85.000000", "south_zero=0",
    ]  # fmt: skip
    assert ask(port, b"+_\n", 3) == b"get_info:\nInfo: Celestron NexStar (indi_astrojolo)\nRPRT 0\n"

    result = rotctl(port, "P", "120", "30")
    assert result.returncode == 0, result.stdout + result.stderr
    wait_until(
        lambda: max(abs(a - b) for a, b in zip(position(port), (120.0, 30.0))) < 0.1, 120, 0.5, "rotctl p at 120 30"
    )
    assert mount.axis(AZM) == pytest.approx(120.0, abs=0.1)
    assert mount.axis(ALT) == pytest.approx(30.0, abs=0.1)
    # That rotctl has gone: the fixed position it sent is reached, and then nothing moves.
    mount.client.wait_message("NexStar AUX", "at the last position sent", timeout=30)
    wait_until(lambda: mount.values("TELESCOPE_TRACK_STATE")["TRACK_OFF"], 10, 0.1, "following to end")
    assert at_rest(mount)

    # A client that stays: held at its position until it says stop; S stops at once.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as staying:
        staying.sendall(b"P 130 35\n")
        assert staying.recv(4096) == b"RPRT 0\n"
        wait_until(lambda: mount.axis(AZM) > 122.0, 60, 0.05, "the mount to head for 130 35")
        staying.sendall(b"S\n")
        assert staying.recv(4096) == b"RPRT 0\n"
        wait_until(lambda: mount.values("TELESCOPE_TRACK_STATE")["TRACK_OFF"], 10, 0.1, "following to end")
        time.sleep(1.5)  # the axes decelerate
        assert at_rest(mount)
        assert mount.axis(AZM) < 129.0  # stopped on the way, not at the target
    result = rotctl(port, "S")  # and hamlib's client stops it too (nothing moving: still RPRT 0)
    assert result.returncode == 0, result.stdout + result.stderr

    # Below the lowest allowed altitude: refused by hamlib's client itself (dump_state gave it the limits) and, for
    # a client that does not check, by the endpoint; nothing moves either way.
    mark = mount.received_mark()
    refused = rotctl(port, "P", "200", "5")
    assert refused.returncode != 0 and "error" in refused.stdout + refused.stderr
    assert ask(port, b"P 200 5\n", 1) == b"RPRT -1\n"
    assert ask(port, b"+P 200 86\n", 2) == b"set_pos: 200 86\nRPRT -1\n"
    assert ask(port, b"P abc 30\n", 1) == b"RPRT -1\n"
    assert at_rest(mount)
    assert motion_sent(mount, mark) == []
    mount.client.wait_message("NexStar AUX", "outside the altitude limits 10° … 85°")

    # A second client while the first is connected: rotctld serves several at once.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as first:
        first.sendall(b"p\n")
        assert first.recv(4096).count(b"\n") == 2
        assert ask(port, b"S\n", 1) == b"RPRT 0\n"
        first.sendall(b"S\n")
        assert first.recv(4096) == b"RPRT 0\n"

    # Switched off, the port is closed again.
    assert mount.settle("ROTATOR_SERVER", ["DISABLE"], kind="Switch", states=("Idle",)).values["DISABLE"]
    wait_until(lambda: mount.prop("ROTATOR_SERVER").state == "Idle", 10, 0.1, "the server to stop")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def track(seconds: float) -> tuple[float, float]:
    """A pass-like path: 0.6 °/s in azimuth, rising at 0.25 °/s."""
    return 100.0 + 0.6 * seconds, 20.0 + 0.25 * seconds


def test_positions_every_second_are_followed_smoothly(mount_factory) -> None:
    mount = mount_factory()
    mount.settle("CORDWRAP", ["INDI_DISABLED"], kind="Switch")
    port = free_port()
    serve_rotator(mount, port)
    # One connection for the whole pass, as Gpredict keeps: hamlib's rotctl reading commands from its stdin.
    client = subprocess.Popen(
        ["rotctl", "-m", "2", "-r", f"127.0.0.1:{port}", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert client.stdin is not None
    try:
        client.stdin.write("P {:.2f} {:.2f}\n".format(*track(0.0)))
        client.stdin.flush()
        wait_until(lambda: abs(mount.axis(AZM) - 100.0) < 0.2 and abs(mount.axis(ALT) - 20.0) < 0.2, 120, 0.5, "start")
        start = time.time()
        errors = []
        for second in range(1, 29):  # 20 s of following after the catch-up
            while time.time() < start + second:
                if second > 8:  # the first seconds catch up with the track
                    azm, alt, when = mount.true_axes()
                    az, el = track(when - start)
                    errors.append(math.hypot((azm - az) * math.cos(math.radians(el)), alt - el))
                time.sleep(0.25)
            client.stdin.write("P {:.2f} {:.2f}\n".format(*track(time.time() - start)))
            client.stdin.flush()
        rms = math.sqrt(sum(e * e for e in errors) / len(errors))
        print(f"antenna pointing error over {len(errors)} readings: {rms:.3f}° RMS, {max(errors):.3f}° at most")
        assert rms <= 1.0
        assert max(errors) < 2.0
        assert mount.values("ROTATOR_STATUS")["CLIENTS"] == 1
    finally:
        client.stdin.close()  # rotctl says `q` and goes: the following stops after the grace period
        client.wait(timeout=30)
    time.sleep(5.0)
    assert at_rest(mount)
    mount.client.wait_message("NexStar AUX", "following stopped")


def test_a_vanished_client_leaves_nothing_moving(mount_factory) -> None:
    """A client that sends a moving target and disappears without `q` (killed, network gone): the mount goes on for
    the grace period, then stops rather than chase the last target."""
    mount = mount_factory()
    port = free_port()
    serve_rotator(mount, port)
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"P 40 40\n")
    assert sock.recv(4096) == b"RPRT 0\n"
    wait_until(lambda: abs(mount.axis(AZM) - 40.0) < 0.2 and abs(mount.axis(ALT) - 40.0) < 0.2, 120, 0.5, "arrival")
    sock.sendall(b"P 40.5 40.2\n")
    assert sock.recv(4096) == b"RPRT 0\n"
    sock.close()
    wait_until(lambda: mount.values("TELESCOPE_TRACK_STATE")["TRACK_OFF"], 30, 0.2, "following to stop")
    time.sleep(1.5)
    assert at_rest(mount)


# Requests whose answers do not depend on the rotator behind (a position inside 0…90° elevation, the default limits of
# both), one connection each: hamlib's rotctld with its dummy rotator and the driver must answer the same bytes.
SAME_AS_ROTCTLD = [
    b"P 120 30\n", b"P 120 100\n", b"P abc 3\n", b"P 12abc 10\n", b"P ? 3\n", b"P\n10\n20\n", b"+P 10 20\n",
    b";\\set_pos 1,5 2.5xyz\n", b"|\\set_pos 30 20\n", b"S\n", b"+S\n", b"\\stop\n", b";S\n", b"#comment\nS\n",
    b"\\nosuch\nS\n", b" S\n", b"SS\n", b"q\n", b"P 10 20\nq\nS\n",
]  # fmt: skip


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except OSError:
        return False
    return True


def exchange(port: int, data: bytes, *, expect: int | None = None) -> bytes:
    """Send `data` on a new connection; read until the server closes it, `expect` bytes have come, or it is quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        answer = b""
        while expect is None or len(answer) < expect:
            sock.settimeout(30 if expect is not None else 1.0)
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                return answer
            answer += chunk
        sock.settimeout(0.5)  # nothing more
        try:
            answer += sock.recv(4096)
        except TimeoutError:
            pass
        return answer


def test_the_answers_are_rotctlds_own(mount_factory, tmp_path) -> None:
    """hamlib's rotctld (-m 1, the dummy rotator) beside the driver, the same requests to both."""
    mount = mount_factory()
    port, reference_port = free_port(), free_port()
    serve_rotator(mount, port)
    reference = subprocess.Popen(
        ["rotctld", "-m", "1", "-T", "127.0.0.1", "-t", str(reference_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: listening(reference_port), 30, 0.2, "rotctld to listen")
        for data in SAME_AS_ROTCTLD:
            expected = exchange(reference_port, data)
            assert exchange(port, data, expect=len(expected)) == expected, data
        theirs = exchange(reference_port, b"\\dump_state\n").splitlines()
        ours = exchange(port, b"\\dump_state\n", expect=len(b"\n".join(theirs)) + 1).splitlines()
        assert ours[0] == theirs[0] == b"1"  # protocol 1
        assert ours[2:] == theirs[2:]  # only the rotator model differs: 2 (network) for us, 1 (dummy) for it
    finally:
        reference.terminate()
        reference.wait(timeout=30)
    assert exchange(port, b"S\n", expect=7) == b"RPRT 0\n"
