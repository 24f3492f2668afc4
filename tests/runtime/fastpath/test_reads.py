"""Reading frames by offset, a whole delivery at once: the same messages pika's way would give.

The stream is made with pika's own frame encoding and cut into reads anywhere; the reader
must hand every delivery over once, whole and in order, whichever path it took, and keep
pika's byte and frame counters exact (the heartbeat checker reads them).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pika import channel, connection, frame, spec  # type: ignore[import-untyped]
from pika.exceptions import InvalidFrameError  # type: ignore[import-untyped]

from mqwire.runtime._fastpath.reads import FrameReads
from mqwire.runtime._fastpath.writes import DirectSelectConnection, DirectTornadoConnection


class _Channel:
    """What the reader uses of a pika channel: its assembler and ``_on_deliver``."""

    def __init__(self, delivered: list[tuple[Any, ...]]) -> None:
        self._content_assembler = channel.ContentFrameAssembler()
        self.delivered = delivered

    def _on_deliver(self, method: Any, header: Any, body: bytes) -> None:
        m = method.method
        self.delivered.append(
            (method.channel_number, m.consumer_tag, m.delivery_tag, m.redelivered, m.exchange,
             m.routing_key, header.properties.__dict__, body)
        )  # fmt: skip


class _Connection:
    """pika's side of the frame path, as ``Connection`` has it, recording what it was given."""

    def __init__(self) -> None:
        self._frame_buffer, self.bytes_received, self.frames_received = b"", 0, 0
        self.delivered: list[tuple[Any, ...]] = []
        self._channels = {1: _Channel(self.delivered), 2: _Channel(self.delivered)}
        self.one_by_one: list[str] = []  # the frames that went pika's usual way
        self.pending: set[tuple[int, type[Any]]] = set()

    def _has_pending_callbacks(self, value: Any) -> bool:
        return (value.channel_number, type(value.method)) in self.pending

    def _process_frame(self, value: Any) -> None:
        self.frames_received += 1
        self.one_by_one.append(type(value).__name__)
        if isinstance(value, frame.Heartbeat):
            return
        content = self._channels[value.channel_number]._content_assembler.process(value)
        if content:
            self._channels[value.channel_number]._on_deliver(*content)


class _Reader(FrameReads, _Connection):
    pass


def _message(number: int, tag: int, body: bytes, parts: int = 1, **props: Any) -> bytes:
    deliver = spec.Basic.Deliver("ctag-1", tag, tag % 2 == 0, "ex", f"key.{tag}")
    frames = [
        frame.Method(number, deliver),
        frame.Header(number, len(body), spec.BasicProperties(**props)),
    ]
    step = max(1, -(-len(body) // parts))
    frames += [frame.Body(number, body[i : i + step]) for i in range(0, len(body), step)]
    return b"".join(f.marshal() for f in frames)


def _expected(number: int, tag: int, body: bytes, **props: Any) -> tuple[Any, ...]:
    properties = spec.BasicProperties(**props).__dict__
    return (number, "ctag-1", tag, tag % 2 == 0, "ex", f"key.{tag}", properties, body)


def _feed(reader: _Reader, stream: bytes, cuts: list[int]) -> None:
    start = 0
    for cut in [*sorted(set(cuts)), len(stream)]:
        reader._on_data_available(stream[start:cut])
        start = cut


_MESSAGES = st.lists(
    st.tuples(
        st.sampled_from([1, 2]),
        st.binary(max_size=300),
        st.integers(1, 3),  # body frames
        st.sampled_from([{}, {"content_type": "application/json", "delivery_mode": 2},
                         {"headers": {"x-mqwire-attempt": 2}, "message_id": "m-1"}]),
        st.booleans(),  # a heartbeat after it
    ),
    max_size=12,
)  # fmt: skip


@given(_MESSAGES, st.lists(st.integers(0, 6000), max_size=20))
def test_every_delivery_arrives_once_whole_and_in_order_however_the_reads_cut(
    messages: list[tuple[int, bytes, int, dict[str, Any], bool]], cuts: list[int]
) -> None:
    stream, expected = b"", []
    for tag, (number, body, parts, props, beat) in enumerate(messages, start=1):
        stream += _message(number, tag, body, parts, **props)
        stream += frame.Heartbeat().marshal() if beat else b""
        expected.append(_expected(number, tag, body, **props))
    frames = sum(
        2 + len(range(0, len(body), max(1, -(-len(body) // parts)))) + beat
        for number, body, parts, props, beat in messages
    )
    reader = _Reader()

    _feed(reader, stream, [c for c in cuts if c < len(stream)])

    assert reader.delivered == expected
    assert (reader.bytes_received, reader.frames_received) == (len(stream), frames)
    assert reader._frame_buffer == b""


def test_a_whole_delivery_in_one_read_skips_pikas_frame_by_frame_path() -> None:
    reader = _Reader()
    stream = _message(1, 1, b'{"n": 1}') + frame.Heartbeat().marshal() + _message(2, 2, b"")

    reader._on_data_available(stream)

    assert reader.one_by_one == ["Heartbeat"]
    assert [d[2] for d in reader.delivered] == [1, 2]


def test_a_delivery_split_across_reads_or_bodies_goes_pikas_way() -> None:
    reader = _Reader()
    whole = _message(1, 1, b"0123456789", parts=2)  # two body frames

    second = _message(1, 2, b"ab")
    reader._on_data_available(whole + second[:45])  # cut in its header, after its method
    reader._on_data_available(second[45:])

    assert reader.one_by_one == ["Method", "Header", "Body", "Body", "Method", "Header", "Body"]
    assert [d[-1] for d in reader.delivered] == [b"0123456789", b"ab"]


def test_a_channel_with_callbacks_waiting_for_deliver_gets_the_frame_itself() -> None:
    reader = _Reader()
    reader.pending.add((1, spec.Basic.Deliver))

    reader._on_data_available(_message(1, 1, b"x"))

    assert reader.one_by_one == ["Method", "Header", "Body"]


def test_a_bad_frame_end_is_refused_as_pika_refuses_it() -> None:
    stream = bytearray(_message(1, 1, b"body"))
    stream[-1] = 0  # the body frame's end marker

    with pytest.raises(InvalidFrameError):
        _Reader()._on_data_available(bytes(stream))


def test_a_connection_reset_by_a_callback_stops_the_read() -> None:
    reader = _Reader()
    reset = reader._channels[1]._on_deliver

    def deliver_then_reset(*args: Any) -> None:
        reset(*args)
        reader._frame_buffer = b""  # pika's connection state reset, as on close

    reader._channels[1]._on_deliver = deliver_then_reset  # type: ignore[method-assign]
    reader._on_data_available(_message(1, 1, b"a") + _message(1, 2, b"b"))

    assert [d[2] for d in reader.delivered] == [1]
    assert reader._frame_buffer == b""


@pytest.mark.parametrize("kind", [DirectSelectConnection, DirectTornadoConnection])
def test_pika_still_has_what_the_reader_relies_on(kind: type[Any]) -> None:
    assert kind.__mro__.index(FrameReads) < kind.__mro__.index(connection.Connection)
    assert kind._on_data_available is FrameReads._on_data_available
    assert kind._process_frame is connection.Connection._process_frame
    assert kind._has_pending_callbacks is connection.Connection._has_pending_callbacks
    assert callable(channel.Channel._on_deliver)
    assert channel.ContentFrameAssembler()._method_frame is None
    init_state = connection.Connection._init_connection_state
    assert "_frame_buffer" in init_state.__code__.co_names
