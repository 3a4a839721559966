"""Waiting for what the drivers report, for the demo's session (on the project's raw-socket client)."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..client import IndiClient, RemoteProperty

SETTLED = ("Ok", "Alert", "Idle")


class DemoError(Exception):
    """A step did not end as it should; the message says which and how."""


def say(text: str = "") -> None:
    print(text, flush=True)


def value(client: IndiClient, device: str, name: str, member: str) -> float:
    prop = client.wait_prop(device, name)
    return prop.values[member]


def wait_value(
    client: IndiClient, device: str, name: str, member: str, accept: Callable[[object], bool], timeout: float = 10.0
) -> RemoteProperty:
    """Wait until the driver reports the member with a value `accept` likes and the property is not Busy."""

    def ready() -> RemoteProperty | None:
        prop = client.prop(device, name)
        if prop is None or prop.state == "Busy" or member not in prop.values:
            return None
        return prop if accept(prop.values[member]) else None

    return client.wait(ready, timeout, f"{device}.{name}.{member}")


def next_updates(client: IndiClient, device: str, name: str, count: int = 1, timeout: float = 10.0) -> RemoteProperty:
    """Wait for `count` fresh reports of a property (a poll marker: values read after now)."""
    prop = client.wait_prop(device, name)
    start = prop.updates
    return client.wait(
        lambda: (p := client.prop(device, name)) is not None and p.updates >= start + count and p,
        timeout,
        f"{count} fresh update(s) of {device}.{name}",
    )


def request_switch(
    client: IndiClient, device: str, name: str, on: list[str], off: list[str] | None = None
) -> RemoteProperty:
    """Switch members on (and others off), then wait for the driver's answer."""
    return _request(client, device, name, lambda: client.set_switch(device, name, on, off or []))


def request_numbers(client: IndiClient, device: str, name: str, values: dict[str, float]) -> RemoteProperty:
    return _request(client, device, name, lambda: client.set_number(device, name, values))


def request_texts(client: IndiClient, device: str, name: str, values: dict[str, str]) -> RemoteProperty:
    return _request(client, device, name, lambda: client.set_text(device, name, values))


def _request(
    client: IndiClient, device: str, name: str, send: Callable[[], None], timeout: float = 10.0
) -> RemoteProperty:
    """Send a request and wait for the driver's answer on that property: Ok, or Alert with the reason."""
    reports = _Reports(client, device, name)
    with reports:
        send()
        client.wait(lambda: reports.settled(require_busy=False), timeout, f"{device}.{name} to answer")
    return reports.outcome()


def send_and_follow(
    client: IndiClient,
    device: str,
    name: str,
    send: Callable[[], None],
    show: Callable[[], None],
    every: float = 1.0,
    timeout: float = 120.0,
) -> RemoteProperty:
    """Send a request that starts a motion, then follow it: the driver reports the property Busy while it moves and
    Ok (or Alert) once done. `show` is called every `every` seconds meanwhile. Every report is looked at, so a quick
    Busy → Ok between two reads is not missed."""
    reports = _Reports(client, device, name)
    with reports:
        send()
        deadline = time.monotonic() + timeout
        next_show = time.monotonic() + every
        while not reports.settled(require_busy=True):
            if time.monotonic() > deadline:
                raise DemoError(f"{device}.{name} was still not done after {timeout:g} s")
            if reports.states and time.monotonic() >= next_show:
                show()
                next_show += every
            client.pump(0.05)
    return reports.outcome()


class _Reports:
    """The states the driver reports for one property while installed as the client's update hook."""

    def __init__(self, client: IndiClient, device: str, name: str) -> None:
        self.client, self.key = client, (device, name)
        self.states: list[str] = []

    def __enter__(self) -> _Reports:
        self.client.on_update = self._record
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.on_update = None

    def _record(self, prop: RemoteProperty) -> None:
        if (prop.device, prop.name) == self.key:
            self.states.append(prop.state)

    def settled(self, require_busy: bool) -> bool:
        """Answered: Alert at any time; otherwise a settled state (after a Busy one, if a motion must start)."""
        if "Alert" in self.states:
            return True
        if require_busy:
            return "Busy" in self.states and self.states[-1] in SETTLED
        return any(state in ("Ok", "Idle") for state in self.states)

    def outcome(self) -> RemoteProperty:
        device, name = self.key
        if "Alert" in self.states:
            raise DemoError(f"{device} answered {name} with Alert: {_last_message(self.client, device)}")
        return self.client.wait_prop(device, name)


def _last_message(client: IndiClient, device: str) -> str:
    texts = [text for source, text in client.messages if source == device]
    return texts[-1] if texts else "no reason given"
