"""The request dispatch is built once, from what the parts declare (indi/part.py build_dispatch, Device.wire): both
drivers build it with every writable property served, in every mode, and each start-up check fires with a message
naming the property and the parts: a property served twice, a declaration for a property that does not exist or is
read-only, a writable property served by nobody, a guard in front of a property no handler serves."""

from __future__ import annotations

import pytest

from indi_astrojolo.astrolink4.dewheaters import DewHeaters
from indi_astrojolo.astrolink4.driver import AstroLink4Driver
from indi_astrojolo.astrolink4.main import SPEC as ASTROLINK_SPEC
from indi_astrojolo.indi.device import Device
from indi_astrojolo.indi.outbox import Outbox
from indi_astrojolo.indi.part import Declared, Guard, Handler, Part, WiringError, build_dispatch
from indi_astrojolo.indi.properties import NumberMember, NumberVector, PropertySet, State, Update
from indi_astrojolo.indi.runtime import Runtime
from indi_astrojolo.indi.spec import DriverSpec, prepare_properties
from indi_astrojolo.indi.xmlstream import NewVector, XmlStream
from indi_astrojolo.nexstar.driver import NexStarDriver
from indi_astrojolo.nexstar.main import SPEC as NEXSTAR_SPEC

# The writable properties each driver deliberately leaves passive (read when used): adding one is a decision.
PASSIVE = {
    AstroLink4Driver: {
        "DEW_HEAT_SETTINGS",
        "DEW_HOLD_SETTINGS",
        "DEW_HOLD_SENSOR",
        "DEW_HOLD_DIRECTION",
        "DEW_STARTUP",
    },
    NexStarDriver: {"TELESCOPE_SLEW_RATE", "TELESCOPE_REVERSE_MOTION", "GUIDE_RATE", "APPROACH"},
}
SPECS: dict[type[Device], DriverSpec] = {AstroLink4Driver: ASTROLINK_SPEC, NexStarDriver: NEXSTAR_SPEC}


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("INDICONFIG", raising=False)


def build(driver_class: type[Device]) -> Device:
    spec = SPECS[driver_class]
    return driver_class(spec, prepare_properties(spec), Outbox())


# --- both drivers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("driver_class", [AstroLink4Driver, NexStarDriver])
def test_every_writable_property_of_either_driver_has_exactly_one_entry(driver_class) -> None:
    driver = build(driver_class)
    # Every property of every mode is declared (the mini's USB-only ones, the bus focuser's, the simulation ones):
    # a mode only decides which are defined, and a request for an undefined one is refused before dispatch.
    writable = {name for name, vector in driver.props.vectors.items() if vector.perm != "ro"}
    assert set(driver.dispatch) == writable
    passive = {name for name, handler in driver.dispatch.items() if handler == driver._accept_passive}
    assert passive == PASSIVE[driver_class]


def test_the_bus_focuser_serves_only_what_it_declares_writable() -> None:
    driver = build(NexStarDriver)
    # The interface's optional properties: the bus focuser has no FOCUS_SYNC or FOCUS_REVERSE_MOTION, and its
    # FOCUS_MAX comes from the hard stops (read-only).
    assert {"FOCUS_SYNC", "FOCUS_REVERSE_MOTION", "FOCUS_MAX"}.isdisjoint(driver.dispatch)
    assert {"ABS_FOCUS_POSITION", "FOCUS_CALIBRATE", "FOCUS_BACKLASH_STEPS", "SIMULATION_FOCUSER"} <= set(
        driver.dispatch
    )


async def test_a_request_for_a_passive_property_is_kept_and_answered_ok() -> None:
    astrolink = build(AstroLink4Driver)
    astrolink.props.defined["DEW_STARTUP"] = None  # as while connected
    members = (("DEW_CHANNEL_1", "30"), ("DEW_CHANNEL_2", "-1"))
    await astrolink.handle_request(NewVector("Number", astrolink.name, "DEW_STARTUP", members, None))
    startup = astrolink.props.number("DEW_STARTUP")
    assert startup.values() == {"DEW_CHANNEL_1": 30, "DEW_CHANNEL_2": -1} and startup.state is State.OK
    assert 'state="Ok"' in astrolink.outbox.take().decode()

    nexstar = build(NexStarDriver)
    nexstar.props.defined["TELESCOPE_SLEW_RATE"] = None
    await nexstar.handle_request(NewVector("Switch", nexstar.name, "TELESCOPE_SLEW_RATE", (("7x", "On"),), None))
    slew_rate = nexstar.props.switch("TELESCOPE_SLEW_RATE")
    assert slew_rate.selected() == "7x" and slew_rate.state is State.OK


def test_a_driver_that_leaves_a_part_out_does_not_start(monkeypatch) -> None:
    def without_dew_heaters(self: Device, *parts: Part, guards=()) -> None:
        Device.wire(self, *(part for part in parts if not isinstance(part, DewHeaters)), guards=guards)

    monkeypatch.setattr(AstroLink4Driver, "wire", without_dew_heaters)
    with pytest.raises(WiringError) as raised:
        build(AstroLink4Driver)
    text = str(raised.value)
    assert "DEW_CHANNELS is writable (rw) but no part serves it" in text
    assert "DEW_STARTUP is writable (rw) but no part serves it" in text


def test_a_property_served_twice_stops_the_driver_naming_both_parts(monkeypatch) -> None:
    async def extra(update: Update) -> None: ...

    def with_a_second_site_handler(self: Device, *parts: Part, guards=()) -> None:
        Device.wire(self, *parts, Declared("a second site handler", {"GEOGRAPHIC_COORD": extra}), guards=guards)

    monkeypatch.setattr(NexStarDriver, "wire", with_a_second_site_handler)
    with pytest.raises(WiringError, match=r"GEOGRAPHIC_COORD is declared by more than one part: NexStarDriver .*"
                                          r"\(handler\), a second site handler \(handler\)"):  # fmt: skip
        build(NexStarDriver)


def test_a_device_that_was_never_wired_does_not_run(monkeypatch) -> None:
    monkeypatch.setattr(AstroLink4Driver, "wire", lambda self, *parts, guards=(): None)
    driver = build(AstroLink4Driver)
    with pytest.raises(WiringError, match="its constructor must end with wire"):
        Runtime(driver, XmlStream(), [])
    with pytest.raises(WiringError):
        driver.dispatch  # noqa: B018 - the lookup is what raises


def test_the_dispatch_is_built_once() -> None:
    driver = build(AstroLink4Driver)
    with pytest.raises(WiringError, match="built once"):
        driver.wire()


# --- each check, on a small property set ----------------------------------------------------------------------


async def served(update: Update) -> None: ...


async def passive_handler(update: Update) -> None: ...


def props_with(**perms: str) -> PropertySet:
    props = PropertySet("Dev")
    for name, perm in perms.items():
        props.add(NumberVector("Dev", name, name, "Main", [NumberMember("V", "V", "%g", 0, 10, 1, 0)], perm=perm))
    return props


def parts(**declared: dict[str, Handler]) -> list[Part]:
    return [Declared(owner, handlers) for owner, handlers in declared.items()]


def test_a_consistent_table_maps_handlers_and_passive_names() -> None:
    props = props_with(SET="rw", KEEP="rw", ORDER="wo", SHOWN="ro")
    table = build_dispatch(
        props,
        [Declared("one", {"SET": served, "ORDER": served}), Declared("two", {}, passive={"KEEP"})],
        passive_handler,
    )
    assert table == {"SET": served, "ORDER": served, "KEEP": passive_handler}


def test_the_same_name_handled_twice_is_refused() -> None:
    with pytest.raises(WiringError, match=r"SET is declared by more than one part: one \(handler\), two \(handler\)"):
        build_dispatch(props_with(SET="rw"), parts(one={"SET": served}, two={"SET": served}), passive_handler)


def test_a_name_both_handled_and_passive_is_refused() -> None:
    declared = [Declared("one", {"SET": served}), Declared("two", {}, passive={"SET"})]
    with pytest.raises(WiringError, match=r"SET is declared by more than one part: one \(handler\), two \(passive\)"):
        build_dispatch(props_with(SET="rw"), declared, passive_handler)


def test_a_handler_for_an_undeclared_name_is_refused() -> None:
    with pytest.raises(WiringError, match="GHOST is declared by one .*no property of that name exists"):
        build_dispatch(props_with(SET="rw"), parts(one={"SET": served, "GHOST": served}), passive_handler)


def test_a_handler_for_a_read_only_property_is_refused() -> None:
    with pytest.raises(WiringError, match=r"SHOWN is read-only \(requests to it are refused\), yet declared by one"):
        build_dispatch(props_with(SET="rw", SHOWN="ro"), parts(one={"SET": served, "SHOWN": served}), passive_handler)


@pytest.mark.parametrize("perm", ["rw", "wo"])
def test_a_writable_property_with_neither_handler_nor_passive_mark_is_refused(perm: str) -> None:
    with pytest.raises(WiringError, match=f"FORGOTTEN is writable \\({perm}\\) but no part serves it"):
        build_dispatch(props_with(SET="rw", FORGOTTEN=perm), parts(one={"SET": served}), passive_handler)


def test_every_problem_is_listed_at_once() -> None:
    props = props_with(SET="rw", FORGOTTEN="rw")
    with pytest.raises(WiringError) as raised:
        build_dispatch(props, parts(one={"SET": served, "GHOST": served}, two={"SET": served}), passive_handler)
    assert [line.split()[0] for line in str(raised.value).splitlines()[1:]] == ["SET", "GHOST", "FORGOTTEN"]


async def test_guards_wrap_handlers_in_order_and_never_a_passive_or_missing_name() -> None:
    calls: list[str] = []

    def wrap(tag: str):
        def wrapper(handler: Handler) -> Handler:
            async def guarded(update: Update) -> None:
                calls.append(tag)
                await handler(update)

            return guarded

        return wrapper

    props = props_with(SET="rw", KEEP="rw")
    declared = [Declared("one", {"SET": served}, passive={"KEEP"})]
    table = build_dispatch(props, declared, passive_handler, [Guard("inner", {"SET": wrap("inner")}),
                                                              Guard("outer", {"SET": wrap("outer")})])  # fmt: skip
    await table["SET"](Update(props["SET"], {"V": 1.0}, ("V",)))
    assert calls == ["outer", "inner"]  # a later guard is asked first
    for name in ("KEEP", "GHOST"):
        with pytest.raises(WiringError, match=f"a guard guards {name}, which no part serves with a handler"):
            build_dispatch(props, declared, passive_handler, [Guard("a guard", {name: wrap("x")})])
