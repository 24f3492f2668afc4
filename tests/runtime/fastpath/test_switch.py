"""``MQWIRE_FASTPATH``: each trick on only where it was tested, or where it is asked for."""

from __future__ import annotations

import logging

import pika  # type: ignore[import-untyped]
import pytest
from pika.adapters.select_connection import (  # type: ignore[import-untyped]
    IOLoop,
    SelectConnection,
)
from pika.adapters.tornado_connection import TornadoConnection  # type: ignore[import-untyped]

from mqwire.runtime._fastpath import shared_loop
from mqwire.runtime._fastpath.classes import DirectSelectConnection
from mqwire.runtime._fastpath.reads import FrameReads
from mqwire.runtime._fastpath.switch import ENV, TESTED, TRICKS, Fastpath, choose, decide
from mqwire.runtime._fastpath.writes import DirectWrites
from mqwire.runtime.amqp.connections import publisher_loop, select_connection, tornado_connection
from mqwire.runtime.errors import ConfigurationError

ALL = {"reads": True, "writes": True, "shared_ioloop": True}


def tricks(decision: Fastpath) -> tuple[bool, bool, bool]:
    return decision.reads, decision.writes, decision.shared_ioloop


def test_auto_turns_on_only_the_tricks_tested_with_this_pika_minor() -> None:
    assert tricks(choose("auto", "1.4.0", ALL)) == (True, True, True)
    assert tricks(choose("auto", "1.4.9", ALL)) == (True, True, True)
    assert tricks(choose("auto", "1.5.0", ALL)) == (False, False, False)
    assert tricks(choose("auto", "1.14.0", ALL)) == (False, False, False)
    assert tricks(choose("auto", "2.0.0b1", ALL)) == (False, False, False)
    assert dict(TESTED) == {t: frozenset({"1.4"}) for t in TRICKS}, "as docs/fastpath.md says"


def test_on_forces_every_trick_whose_internals_exist_and_off_none() -> None:
    assert tricks(choose("on", "1.5.0", ALL)) == (True, True, True)
    missing = {**ALL, "reads": False}
    assert tricks(choose("on", "1.4.0", missing)) == (False, True, True)
    assert tricks(choose("auto", "1.4.0", missing)) == (False, True, True)
    assert tricks(choose("off", "1.4.0", ALL)) == (False, False, False)


@pytest.mark.parametrize("value", ["", "auto", " AUTO ", "on", "off"])
def test_the_mode_comes_from_the_given_environment(value: str) -> None:
    decision = decide({ENV: value})
    assert decision.mode == (value.strip().lower() or "auto")
    assert decision.pika_version == pika.__version__
    assert decide({}).mode == "auto"


@pytest.mark.parametrize("value", ["yes", "1", "true", "fast"])
def test_a_bad_value_names_the_variable_and_the_choices(value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        decide({ENV: value})
    assert str(caught.value) == f"{ENV}={value!r} is not valid: use one of auto, on, off"


def test_the_start_up_line_says_which_tricks_are_on_and_why() -> None:
    decision = choose("auto", "1.4.0", ALL)
    assert decision.describe() == (
        "fastpath: reads=on writes=on shared_ioloop=on (pika 1.4.0, MQWIRE_FASTPATH=auto)"
    )


def test_off_gives_pikas_own_classes_and_loop_and_on_the_fast_ones() -> None:
    off, on = decide({ENV: "off"}), decide({ENV: "on"})
    assert select_connection(off) is SelectConnection
    assert tornado_connection(off) is TornadoConnection
    loop = publisher_loop(off)
    try:
        assert type(loop) is IOLoop
        with shared_loop.held(loop, 0.01) as mine:
            assert not mine  # pika's own loop: callers never touch the connection
    finally:
        loop.close()

    assert select_connection(on) is DirectSelectConnection
    assert FrameReads in tornado_connection(on).__mro__
    loop = publisher_loop(on)
    try:
        assert isinstance(loop, shared_loop.SharedIOLoop)
    finally:
        loop.close()


def test_each_trick_composes_alone() -> None:
    reads_only = select_connection(Fastpath(reads=True))
    writes_only = select_connection(Fastpath(writes=True))
    assert reads_only.__mro__[:2] == (reads_only, FrameReads)
    assert DirectWrites not in reads_only.__mro__
    assert writes_only.__mro__[1] is DirectWrites and FrameReads not in writes_only.__mro__
    assert select_connection(Fastpath(reads=True)) is reads_only  # one class, not one per call


def test_pika_still_has_every_trick_s_internals() -> None:
    assert tricks(decide({ENV: "on"})) == (True, True, True)


def test_the_process_decision_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    from mqwire.runtime._fastpath import switch

    caplog.set_level(logging.INFO, logger="mqwire.fastpath")
    switch.for_process.cache_clear()
    try:
        first, again = switch.for_process(), switch.for_process()
    finally:
        switch.for_process.cache_clear()
    assert first is again
    assert [r.getMessage() for r in caplog.records] == [first.describe()]
