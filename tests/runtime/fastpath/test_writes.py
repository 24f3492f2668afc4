"""One send per message, at once, and the shared I/O loop's poller: against a real broker."""

from __future__ import annotations

import select
import socket
from typing import Any

import pika  # type: ignore[import-untyped]
import pytest
from pika.adapters.select_connection import SelectConnection  # type: ignore[import-untyped]

from mqwire.runtime._fastpath import shared_loop, writes
from mqwire.runtime._fastpath.classes import DirectSelectConnection
from mqwire.runtime._fastpath.shared_loop import SharedIOLoop
from mqwire.runtime._fastpath.writes import DirectWrites


def test_pika_still_has_what_the_writes_and_the_shared_loop_rely_on() -> None:
    assert writes.supported()
    assert shared_loop.supported()


def test_a_message_is_written_as_one_chunk_with_exact_counters() -> None:
    connection = DirectWrites()  # only the write path: the emit is recorded
    connection.bytes_sent = connection.frames_sent = 0
    written: list[bytes] = []
    connection._adapter_emit_data = written.append  # type: ignore[method-assign]

    connection._output_marshaled_frames([b"method", b"header", b"body1", b"body2"])
    connection._output_marshaled_frames([b"heartbeat"])

    assert written == [b"methodheaderbody1body2", b"heartbeat"]
    assert (connection.bytes_sent, connection.frames_sent) == (31, 5)


class _StaleEpoll:
    """Reports what a real epoll had collected before a caller removed the socket."""

    def __init__(self, events: list[tuple[int, int]]) -> None:
        self.events = events

    def poll(self, timeout: float = -1) -> list[tuple[int, int]]:
        events, self.events = self.events, []
        return events

    def register(self, fd: int, events: int) -> None:
        pass

    unregister = modify = close = lambda self, *args: None


def test_an_event_for_a_socket_removed_while_epoll_waited_is_dropped() -> None:
    loop = SharedIOLoop()
    kept_events: list[int] = []
    gone, kept = socket.socketpair()
    with gone, kept:
        loop.add_handler(gone.fileno(), lambda fd, events: None, loop.READ)
        loop.add_handler(kept.fileno(), lambda fd, events: kept_events.append(events), loop.READ)
        hang_up = select.EPOLLIN | select.EPOLLHUP
        poller = loop._poller
        poller._init_poller()  # as start() does, with the epoll call that returns them
        poller._poll._epoll.close()
        stale = [(gone.fileno(), hang_up), (kept.fileno(), select.EPOLLIN)]
        poller._poll._epoll = _StaleEpoll(stale)
        loop.remove_handler(gone.fileno())  # by a caller, while the I/O thread waited
        try:
            with loop.lock:  # as the I/O thread runs: lock held but while waiting
                poller.poll()  # pika raised KeyError here and the I/O thread died
        finally:
            poller._uninit_poller()
            loop.close()

    assert kept_events == [loop.READ]


def publish_without_running_the_loop(url: str, queue: str, kind: type[Any]) -> int:
    """Open ``kind``, publish one message, and say how many bytes it left buffered."""
    buffered: list[int] = []

    def on_channel(channel: Any) -> None:
        channel.basic_publish(
            "", queue, b'{"n": 1}', pika.BasicProperties(message_id=kind.__name__)
        )
        buffered.append(connection._transport.get_write_buffer_size())  # before any loop turn
        connection.close()

    connection = kind(
        pika.URLParameters(url),
        on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_open_error_callback=lambda c, exc: c.ioloop.stop(),
        on_close_callback=lambda c, exc: c.ioloop.stop(),
    )
    connection.ioloop.start()
    connection.ioloop.close()  # its wake-up socket pair
    assert buffered, "the connection never opened"
    return buffered[0]


@pytest.mark.broker
def test_a_publish_leaves_the_socket_before_the_next_loop_turn(
    amqp_url: str, unique_name: str
) -> None:
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as admin:
        channel = admin.channel()
        channel.queue_declare(unique_name, auto_delete=False)
        try:
            # pika itself buffers until the loop reports the socket writable...
            assert publish_without_running_the_loop(amqp_url, unique_name, SelectConnection) > 0
            # ...ours sends at once (if pika's internals change, this falls back and fails).
            assert (
                publish_without_running_the_loop(amqp_url, unique_name, DirectSelectConnection) == 0
            )

            got = [channel.basic_get(unique_name, auto_ack=True) for _ in range(2)]
            assert [props.message_id for _, props, _ in got] == [
                "SelectConnection",
                "DirectSelectConnection",
            ]
        finally:
            channel.queue_delete(unique_name)
