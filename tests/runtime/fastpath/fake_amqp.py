"""A fake AMQP 0-9-1 server speaking just enough for a confirming publisher, and killable.

It accepts connections, opens channels, puts them in confirm mode, acks every publish after
recording its message id, and can drop every open connection at once (``kill``), as a
broker crash or a network cut would. No broker is involved: tests can break it at will.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from pika import frame, spec  # type: ignore[import-untyped]

_CAPABILITIES = {"basic.nack": True, "consumer_cancel_notify": True, "publisher_confirms": True}


class FakeBroker:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.received: list[str] = []  # message ids, in the order they arrived (acked)
        self.connections = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def kill(self) -> None:
        """Drop every open connection (the client sees its socket reset)."""
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()
        self.kill()
        self._accepting.join(5)
        for thread in self._threads:
            thread.join(5)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.add(sock)
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            self._converse(sock)
        except OSError:
            pass  # killed
        finally:
            with self._lock:
                self._open.discard(sock)
            sock.close()

    def _converse(self, sock: socket.socket) -> None:
        def send(number: int, method: Any) -> None:
            sock.sendall(frame.Method(number, method).marshal())

        buffer, tags, content = b"", {}, {}
        while True:
            data = sock.recv(65536)
            if not data:
                return
            buffer += data
            while True:
                used, value = frame.decode_frame(buffer)
                if not used:
                    break
                buffer = buffer[used:]
                if isinstance(value, frame.ProtocolHeader):
                    send(
                        0, spec.Connection.Start(server_properties={"capabilities": _CAPABILITIES})
                    )
                    continue
                number = value.channel_number
                if isinstance(value, frame.Header):
                    content[number] = value.properties.message_id
                    if value.body_size == 0:
                        self._ack(sock, number, tags, content)
                    continue
                if isinstance(value, frame.Body):
                    self._ack(sock, number, tags, content)  # one body frame: small messages
                    continue
                if not isinstance(value, frame.Method):
                    continue  # heartbeats
                method = value.method
                if isinstance(method, spec.Connection.StartOk):
                    send(0, spec.Connection.Tune(channel_max=64, frame_max=131072, heartbeat=0))
                elif isinstance(method, spec.Connection.Open):
                    send(0, spec.Connection.OpenOk())
                elif isinstance(method, spec.Connection.Close):
                    send(0, spec.Connection.CloseOk())
                    return
                elif isinstance(method, spec.Channel.Open):
                    tags[number] = 0
                    send(number, spec.Channel.OpenOk())
                elif isinstance(method, spec.Confirm.Select):
                    send(number, spec.Confirm.SelectOk())
                elif isinstance(method, spec.Channel.Close):
                    send(number, spec.Channel.CloseOk())

    def _ack(
        self, sock: socket.socket, number: int, tags: dict[int, int], content: dict[int, str]
    ) -> None:
        tags[number] += 1
        with self._lock:
            self.received.append(content.pop(number))
        sock.sendall(frame.Method(number, spec.Basic.Ack(delivery_tag=tags[number])).marshal())
