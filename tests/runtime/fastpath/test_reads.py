"""Reading frames by offset, a whole delivery at once: exactly what pika's own reading gives.

Two real pika connections with nothing but memory behind them (no socket) open the same
channels and consumers; one reads pika's way, the other with ``FrameReads``. Both are fed
the same byte stream, made with pika's own frame encoding and cut into reads anywhere, and
what each hands its consumers, writes back (rejects, close-oks) and counts (the heartbeat
checker reads the counters) must be the same, event by event.
"""

from __future__ import annotations

from typing import Any

import pika  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pika import channel, connection, frame, spec
from pika.exceptions import InvalidFrameError  # type: ignore[import-untyped]

from mqwire.runtime._fastpath import reads
from mqwire.runtime._fastpath.classes import DirectSelectConnection, DirectTornadoConnection
from mqwire.runtime._fastpath.reads import FrameReads

_CAPABILITIES = {"basic.nack": True, "consumer_cancel_notify": True, "publisher_confirms": True}


def _method(number: int, method: Any) -> bytes:
    return bytes(frame.Method(number, method).marshal())


class MemoryConnection(connection.Connection):  # type: ignore[misc]
    """pika's ``Connection`` on no socket: reads are fed in, writes and consumer calls logged."""

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.one_by_one: list[str] = []  # the frames that went pika's frame-by-frame way
        params = pika.ConnectionParameters(heartbeat=0)  # no heartbeat timer to run
        super().__init__(params, internal_connection_workflow=False)
        self._on_stream_connected()  # sends the protocol header, as after a TCP connect
        self._on_data_available(
            _method(0, spec.Connection.Start(server_properties={"capabilities": _CAPABILITIES}))
            + _method(0, spec.Connection.Tune(channel_max=2047, frame_max=131072, heartbeat=0))
            + _method(0, spec.Connection.OpenOk())
        )
        for number in (1, 2):
            opened = self.channel(channel_number=number)
            self._on_data_available(_method(number, spec.Channel.OpenOk()))
            for tag in ("ctag-1", "ctag-gone"):
                opened.basic_consume("q", self._on_message, consumer_tag=tag)
                self._on_data_available(_method(number, spec.Basic.ConsumeOk(tag)))
            opened.basic_cancel("ctag-gone")  # its deliveries are rejected from now on
        assert self.is_open and all(c.is_open for c in self._channels.values())
        self.log.clear()
        self.one_by_one.clear()

    def _on_message(self, on: Any, method: Any, properties: Any, body: bytes) -> None:
        self.log.append(
            ("deliver", on.channel_number, method.consumer_tag, method.delivery_tag,
             method.redelivered, method.exchange, method.routing_key, properties.__dict__, body)
        )  # fmt: skip

    def _process_frame(self, value: Any) -> None:
        self.one_by_one.append(type(value).__name__)
        super()._process_frame(value)

    def _adapter_emit_data(self, data: bytes) -> None:
        self.log.append(("sent", data))

    def _adapter_get_write_buffer_size(self) -> int:
        return 0

    def _adapter_connect_stream(self) -> None:
        pass

    def _adapter_disconnect_stream(self) -> None:
        raise AssertionError("the stream never closes in these tests")

    def _adapter_call_later(self, delay: float, callback: Any) -> Any:
        raise AssertionError("no timers in these tests")

    def _adapter_remove_timeout(self, timeout_id: Any) -> None:
        pass

    def _adapter_add_callback_threadsafe(self, callback: Any) -> None:
        raise AssertionError("single-threaded")


class FastConnection(FrameReads, MemoryConnection):
    pass


def _message(number: int, tag: int, body: bytes, parts: int = 1, ctag: str = "ctag-1",
             **props: Any) -> bytes:  # fmt: skip
    deliver = spec.Basic.Deliver(ctag, tag, tag % 2 == 0, "ex", f"key.{tag}")
    frames = [
        frame.Method(number, deliver),
        frame.Header(number, len(body), spec.BasicProperties(**props)),
    ]
    step = max(1, -(-len(body) // parts))
    frames += [frame.Body(number, body[i : i + step]) for i in range(0, len(body), step)]
    return b"".join(f.marshal() for f in frames)


def _feed(reader: MemoryConnection, stream: bytes, cuts: list[int]) -> None:
    start = 0
    for cut in [*sorted({c for c in cuts if c < len(stream)}), len(stream)]:
        reader._on_data_available(stream[start:cut])
        start = cut


def _both(stream: bytes, cuts: list[int]) -> tuple[MemoryConnection, FastConnection]:
    pikas, fast = MemoryConnection(), FastConnection()
    _feed(pikas, stream, cuts)
    _feed(fast, stream, cuts)
    return pikas, fast


_PROPS = st.sampled_from(
    [{}, {"content_type": "application/json", "delivery_mode": 2},
     {"headers": {"x-mqwire-attempt": 2}, "message_id": "m-1"}]
)  # fmt: skip
_DELIVERY = st.tuples(
    st.just("deliver"),
    st.sampled_from([1, 2]),
    st.binary(max_size=300),
    st.integers(1, 3),  # body frames
    st.sampled_from(["ctag-1", "ctag-1", "ctag-1", "ctag-gone", "ctag-unknown"]),
    _PROPS,
)
_OTHER = st.sampled_from(
    [("heartbeat",), ("server-cancel", 1), ("server-cancel", 2), ("close", 2), ("flow", 1)]
)
_EVENTS = st.lists(st.one_of(_DELIVERY, _DELIVERY, _DELIVERY, _OTHER), max_size=14)


def _stream(events: list[tuple[Any, ...]]) -> bytes:
    stream = b""
    for tag, event in enumerate(events, start=1):
        kind, *args = event
        if kind == "deliver":
            number, body, parts, ctag, props = args
            stream += _message(number, tag, body, parts, ctag, **props)
        elif kind == "heartbeat":
            stream += frame.Heartbeat().marshal()
        elif kind == "server-cancel":
            stream += _method(args[0], spec.Basic.Cancel("ctag-1"))
        elif kind == "close":
            stream += _method(args[0], spec.Channel.Close(406, "PRECONDITION_FAILED", 60, 80))
        else:
            stream += _method(args[0], spec.Channel.Flow(active=True))
    return stream


@given(_EVENTS, st.lists(st.integers(0, 6000), max_size=20))
def test_consumers_get_what_pikas_own_reading_gives_however_the_reads_cut(
    events: list[tuple[Any, ...]], cuts: list[int]
) -> None:
    pikas, fast = _both(_stream(events), cuts)

    assert fast.log == pikas.log
    assert (fast.bytes_received, fast.frames_received) == (
        pikas.bytes_received,
        pikas.frames_received,
    )
    assert fast._frame_buffer == pikas._frame_buffer == b""
    assert sorted(fast._channels) == sorted(pikas._channels)


def test_a_whole_delivery_in_one_read_skips_pikas_frame_by_frame_path() -> None:
    stream = _message(1, 1, b'{"n": 1}') + frame.Heartbeat().marshal() + _message(2, 2, b"")
    pikas, fast = _both(stream, [])

    assert fast.one_by_one == ["Heartbeat"]
    assert [entry[3] for entry in fast.log] == [1, 2]
    assert fast.log == pikas.log


def test_a_delivery_split_across_reads_or_bodies_goes_pikas_way() -> None:
    whole = _message(1, 1, b"0123456789", parts=2)  # two body frames
    second = _message(1, 2, b"ab")
    cut = len(whole) + 45  # in the second message's header, after its method
    pikas, fast = _both(whole + second, [cut])

    assert fast.one_by_one == ["Method", "Header", "Body", "Body", "Method", "Header", "Body"]
    assert [entry[-1] for entry in fast.log] == [b"0123456789", b"ab"]
    assert fast.log == pikas.log


def test_a_channel_with_callbacks_waiting_for_deliver_gets_the_frame_itself() -> None:
    taken = []
    for kind in (MemoryConnection, FastConnection):
        reader = kind()
        reader.callbacks.add(1, spec.Basic.Deliver, taken.append)  # as BlockingConnection does
        # The callback takes the method frame; pika then fails on the orphaned content frames,
        # and the reader must do whatever pika does.
        with pytest.raises(AttributeError):
            reader._on_data_available(_message(1, 1, b"x"))
        taken.append(reader.one_by_one)

    assert len(taken) == 4 and taken[1] == taken[3] == ["Method", "Header", "Body"]


def test_a_bad_frame_end_is_refused_as_pika_refuses_it() -> None:
    stream = bytearray(_message(1, 1, b"body"))
    stream[-1] = 0  # the body frame's end marker

    for kind in (MemoryConnection, FastConnection):
        with pytest.raises(InvalidFrameError):
            kind()._on_data_available(bytes(stream))


def test_a_connection_reset_by_a_callback_stops_the_read() -> None:
    fast = FastConnection()
    consume = fast._on_message

    def deliver_then_reset(*args: Any) -> None:
        consume(*args)
        fast._frame_buffer = b""  # pika's connection state reset, as on close

    fast._on_message = deliver_then_reset  # type: ignore[method-assign]
    fast._channels[1]._consumers["ctag-1"] = deliver_then_reset
    fast._on_data_available(_message(1, 1, b"a") + _message(1, 2, b"b"))

    assert [entry[3] for entry in fast.log] == [1]
    assert fast._frame_buffer == b""


@pytest.mark.parametrize("kind", [DirectSelectConnection, DirectTornadoConnection])
def test_pika_still_has_what_the_reader_relies_on(kind: type[Any]) -> None:
    assert reads.supported()
    assert kind.__mro__.index(FrameReads) < kind.__mro__.index(connection.Connection)
    assert kind._on_data_available is FrameReads._on_data_available
    assert kind._process_frame is connection.Connection._process_frame
    assert kind._has_pending_callbacks is connection.Connection._has_pending_callbacks
    assert callable(channel.Channel._on_deliver)
