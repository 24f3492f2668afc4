"""A fake AMQP 0-9-1 server speaking just enough for a confirming publisher, and breakable.

It accepts connections, opens channels, puts them in confirm mode and confirms every publish
after recording its message id. Faults, at any moment and from any thread: drop every open
connection (``kill``, as a broker crash or a network cut would), close every open channel
from the server's side (``close_channels``, as a 404 or 406 does), refuse every ``nack_every``-th
publish with a ``basic.nack``, confirm what it read together with one ``multiple`` ack
(``coalesce``), and block
publishing (``block``/``unblock``: ``connection.blocked`` sent, publishes held unconfirmed until
unblocked, as a resource alarm does). No broker is involved: tests can break it at will.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from pika import frame, spec  # type: ignore[import-untyped]

_CAPABILITIES = {
    "basic.nack": True,
    "connection.blocked": True,
    "consumer_cancel_notify": True,
    "publisher_confirms": True,
}


@dataclass(eq=False)
class _Connection:
    """One client connection: its socket (writes from any thread under ``lock``) and channels."""

    sock: socket.socket
    lock: threading.Lock = field(default_factory=threading.Lock)
    tags: dict[int, int] = field(default_factory=dict)  # open channel -> last delivery tag
    closing: set[int] = field(default_factory=set)  # closed by us, waiting for close-ok
    #: channel -> (delivery tag, nack?) of publishes not confirmed yet
    unconfirmed: dict[int, list[tuple[int, bool]]] = field(default_factory=dict)
    blocked: bool = False
    killed: bool = False

    def send(self, number: int, method: Any) -> None:
        with self.lock:
            self.sock.sendall(frame.Method(number, method).marshal())


class FakeBroker:
    def __init__(self, *, nack_every: int = 0, coalesce: bool = False) -> None:
        """``nack_every``: nack each n-th publish (0: never); ``coalesce``: confirm the
        publishes read together with one ``multiple`` ack."""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.received: list[str] = []  # message ids acked, in the order they arrived
        self.nacked: list[str] = []
        self.connections = 0
        self.nack_every, self.coalesce = nack_every, coalesce
        self._publishes = 0
        self._lock = threading.Lock()
        self._open: dict[socket.socket, _Connection] = {}
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def kill(self) -> int:
        """Drop every open connection (the client sees its socket reset); how many."""
        with self._lock:
            live = [c for c in self._open.values() if not c.killed]
            for connection in live:
                connection.killed = True
                with contextlib.suppress(OSError):
                    connection.sock.shutdown(socket.SHUT_RDWR)
            return len(live)

    def close_channels(
        self, reply_code: int = 406, reply_text: str = "PRECONDITION_FAILED"
    ) -> None:
        """Close every open channel from the server's side; unconfirmed publishes on them
        are never confirmed (their message ids are not in ``received``)."""
        for connection in self._connections():
            with connection.lock:
                numbers = [n for n in connection.tags if n not in connection.closing]
                connection.closing.update(numbers)
            for number in numbers:
                with contextlib.suppress(OSError):
                    connection.send(number, spec.Channel.Close(reply_code, reply_text, 0, 0))

    def block(self, reason: str = "low on memory") -> None:
        """Send ``connection.blocked`` and hold every later publish unconfirmed."""
        for connection in self._connections():
            connection.blocked = True
            with contextlib.suppress(OSError):
                connection.send(0, spec.Connection.Blocked(reason))

    def unblock(self) -> None:
        """Send ``connection.unblocked`` and confirm what was held."""
        for connection in self._connections():
            connection.blocked = False
            with contextlib.suppress(OSError):
                connection.send(0, spec.Connection.Unblocked())
                self._flush(connection)

    def close(self) -> None:
        self._listener.close()
        self.kill()
        self._accepting.join(5)
        for thread in self._threads:
            thread.join(5)

    def _connections(self) -> list[_Connection]:
        with self._lock:
            return list(self._open.values())

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            connection = _Connection(sock)
            with self._lock:
                self._open[sock] = connection
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: _Connection) -> None:
        try:
            self._converse(connection)
        except OSError:
            pass  # killed
        finally:
            with self._lock:
                self._open.pop(connection.sock, None)
            connection.sock.close()

    def _converse(self, connection: _Connection) -> None:
        buffer, content = b"", {}
        while True:
            data = connection.sock.recv(65536)
            if not data:
                return
            buffer += data
            while True:
                used, value = frame.decode_frame(buffer)
                if not used:
                    break
                buffer = buffer[used:]
                if isinstance(value, frame.ProtocolHeader):
                    capabilities = {"capabilities": _CAPABILITIES}
                    connection.send(0, spec.Connection.Start(server_properties=capabilities))
                    continue
                number = value.channel_number
                if number in connection.closing:
                    # After our channel.close, everything but close-ok is discarded (AMQP).
                    if isinstance(value, frame.Method) and isinstance(
                        value.method, spec.Channel.CloseOk
                    ):
                        with connection.lock:
                            connection.closing.discard(number)
                            connection.tags.pop(number, None)
                            connection.unconfirmed.pop(number, None)
                    continue
                if isinstance(value, frame.Header):
                    content[number] = value.properties.message_id
                    if value.body_size == 0:
                        self._confirm(connection, number, content.pop(number))
                    continue
                if isinstance(value, frame.Body):
                    self._confirm(connection, number, content.pop(number))  # small messages
                    continue
                if not isinstance(value, frame.Method):
                    continue  # heartbeats
                if self._answer(connection, number, value.method):
                    return
            self._flush(connection)

    def _answer(self, connection: _Connection, number: int, method: Any) -> bool:
        """Reply to a method frame; True once the connection is closed."""
        if isinstance(method, spec.Connection.StartOk):
            connection.send(0, spec.Connection.Tune(channel_max=64, frame_max=131072, heartbeat=0))
        elif isinstance(method, spec.Connection.Open):
            connection.send(0, spec.Connection.OpenOk())
        elif isinstance(method, spec.Connection.Close):
            connection.send(0, spec.Connection.CloseOk())
            return True
        elif isinstance(method, spec.Channel.Open):
            with connection.lock:
                connection.tags[number] = 0
                connection.unconfirmed[number] = []
            connection.send(number, spec.Channel.OpenOk())
        elif isinstance(method, spec.Confirm.Select):
            connection.send(number, spec.Confirm.SelectOk())
        elif isinstance(method, spec.Channel.Close):
            with connection.lock:
                connection.tags.pop(number, None)
                connection.unconfirmed.pop(number, None)
            connection.send(number, spec.Channel.CloseOk())
        return False

    def _confirm(self, connection: _Connection, number: int, message_id: str) -> None:
        """Record a publish; its confirm goes out with the others of the same read."""
        with self._lock:
            self._publishes += 1
            nack = self.nack_every > 0 and self._publishes % self.nack_every == 0
            (self.nacked if nack else self.received).append(message_id)
        with connection.lock:
            connection.tags[number] += 1
            connection.unconfirmed[number].append((connection.tags[number], nack))

    def _flush(self, connection: _Connection) -> None:
        """Send the held confirms (unless blocked): a run of acks as one ``multiple`` ack
        when ``coalesce`` is set, as RabbitMQ does for publishes read together."""
        if connection.blocked:
            return
        with connection.lock:
            frames = []
            for number, held in connection.unconfirmed.items():
                if number in connection.closing:  # closed by us: never confirmed
                    held.clear()
                    continue
                run: list[int] = []
                for tag, nack in [*held, (0, True)]:  # the sentinel ends the last run
                    if not nack:
                        run.append(tag)
                        continue
                    if run and self.coalesce:
                        frames.append((number, spec.Basic.Ack(delivery_tag=run[-1], multiple=True)))
                    else:
                        frames.extend((number, spec.Basic.Ack(delivery_tag=t)) for t in run)
                    run = []
                    if tag:
                        frames.append((number, spec.Basic.Nack(delivery_tag=tag)))
                held.clear()
            if frames:
                connection.sock.sendall(b"".join(frame.Method(n, m).marshal() for n, m in frames))
