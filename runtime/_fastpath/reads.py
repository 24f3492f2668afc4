"""How mqwire's pika connections read: by offset, and a whole delivery in one step.

pika 1.x takes a message's three frames (method, header, body) one at a time: per frame it
slices the buffer, decodes, checks the connection's pending callbacks, finds the channel and
feeds the channel's content assembler; and after every frame it copies the rest of its read
buffer to trim the frame off, a visible share of a consuming ``mserve``'s CPU per message.
``FrameReads`` walks the buffer by offset and trims it once per read. A
``Basic.Deliver`` whose header and body frame are all in the buffer is decoded with pika's
own method and property decoders and handed to the channel's ``_on_deliver``, which keeps
pika's consumer lookup and its handling of cancelled consumers. Anything else (a message
split across reads, a body of several frames, another method, a heartbeat, a channel with a
message half assembled) goes frame by frame through pika's ``_process_frame``.
It leans on pika's connection internals: ``supported()`` checks they exist, ``MQWIRE_FASTPATH``
(``switch.py``) gates it to the pika versions it was tested with, and
``tests/runtime/fastpath/test_reads.py`` compares it with pika's own ``Connection``.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, NamedTuple

from pika import channel, connection, frame, spec  # type: ignore[import-untyped]
from pika.exceptions import InvalidFrameError  # type: ignore[import-untyped]

_HEAD = struct.Struct(">BHL").unpack_from  # frame type, channel, payload size
_BODY_SIZE = struct.Struct(">Q").unpack_from  # in a content header, after class and weight
_HEAD_SIZE: int = spec.FRAME_HEADER_SIZE  # 7
_DELIVER = struct.pack(">I", spec.Basic.Deliver.INDEX)
_PROTOCOL_HEADER = b"AMQP"
_PROTOCOL_HEADER_SIZE = 8  # b"AMQP", 0, then the version the broker speaks


def supported() -> bool:
    """Whether the installed pika still has what ``FrameReads`` relies on."""
    base = connection.Connection
    init_state = getattr(base, "_init_connection_state", None)
    return (
        all(
            callable(getattr(base, name, None))
            for name in ("_on_data_available", "_process_frame", "_has_pending_callbacks")
        )
        and "_frame_buffer" in getattr(getattr(init_state, "__code__", None), "co_names", ())
        and "_channels" in getattr(getattr(init_state, "__code__", None), "co_names", ())
        and callable(getattr(channel.Channel, "_on_deliver", None))
        and hasattr(channel.ContentFrameAssembler(), "_method_frame")
    )


class _Delivery(NamedTuple):
    end: int  # offset just past its last frame
    frames: int
    channel: Any
    method: frame.Method
    header: frame.Header
    body: bytes


class FrameReads:
    """Mixin for a pika ``Connection`` subclass (listed before it)."""

    bytes_received: int
    frames_received: int
    _frame_buffer: bytes
    _channels: dict[int, Any]

    if TYPE_CHECKING:  # pika's own, which this mixin must not shadow

        def _process_frame(self, value: Any) -> None: ...

        def _has_pending_callbacks(self, value: Any) -> bool: ...

    def _on_data_available(self, data_in: bytes) -> None:
        buf = self._frame_buffer + data_in if self._frame_buffer else data_in
        self._frame_buffer = buf  # pika replaces it when the connection resets: then stop
        offset, size = 0, len(buf)
        try:
            while offset + _HEAD_SIZE <= size and self._frame_buffer is buf:
                if buf.startswith(_PROTOCOL_HEADER, offset):  # the broker refused our version
                    end = offset + _PROTOCOL_HEADER_SIZE
                else:
                    kind, number, length = _HEAD(buf, offset)
                    end = offset + _HEAD_SIZE + length + 1
                    if (
                        end <= size
                        and kind == spec.FRAME_METHOD
                        and buf.startswith(_DELIVER, offset + _HEAD_SIZE)
                        and (delivery := self._whole_delivery(buf, offset, end, number)) is not None
                    ):
                        self.bytes_received += delivery.end - offset
                        self.frames_received += delivery.frames
                        offset = delivery.end  # consumed first, as pika does, even if it raises
                        delivery.channel._on_deliver(
                            delivery.method, delivery.header, delivery.body
                        )
                        continue
                if end > size:
                    break
                consumed, value = frame.decode_frame(buf[offset:end])
                offset = end
                self.bytes_received += consumed
                self._process_frame(value)
        finally:
            if self._frame_buffer is buf:
                self._frame_buffer = buf[offset:]

    def _whole_delivery(self, buf: bytes, offset: int, end: int, number: int) -> _Delivery | None:
        """The ``Basic.Deliver`` at ``offset`` with its content, if all of it is in ``buf``."""
        channel = self._channels.get(number)
        if channel is None or channel._content_assembler._method_frame is not None:
            return None
        if buf[end - 1] != spec.FRAME_END:
            return None  # pika's decoder raises for it
        size = len(buf)
        header_end = _frame_end(buf, end, spec.FRAME_HEADER, number, size)
        if header_end is None:
            return None
        body_size = _BODY_SIZE(buf, end + _HEAD_SIZE + 4)[0]
        position, body, frames = header_end, b"", 2
        if body_size:  # one body frame, as any body below frame_max comes; more go pika's way
            body_end = _frame_end(buf, position, spec.FRAME_BODY, number, size)
            if body_end is None or body_end - position - _HEAD_SIZE - 1 != body_size:
                return None
            body, position, frames = buf[position + _HEAD_SIZE : body_end - 1], body_end, 3
        deliver = spec.Basic.Deliver().decode(buf[offset + _HEAD_SIZE : end - 1], 4)
        method = frame.Method(number, deliver)
        if self._has_pending_callbacks(method):
            return None
        properties = spec.BasicProperties()
        properties.decode(buf[end + _HEAD_SIZE : header_end - 1], 12)
        header = frame.Header(number, body_size, properties)
        return _Delivery(position, frames, channel, method, header, body)


def _frame_end(buf: bytes, offset: int, kind: int, number: int, size: int) -> int | None:
    """The end of the frame of ``kind`` on channel ``number`` at ``offset``, if it is whole."""
    if offset + _HEAD_SIZE > size:
        return None
    found, channel, length = _HEAD(buf, offset)
    end: int = offset + _HEAD_SIZE + length + 1
    if found != kind or channel != number or end > size:
        return None
    if buf[end - 1] != spec.FRAME_END:
        raise InvalidFrameError("Invalid FRAME_END marker")
    return end
