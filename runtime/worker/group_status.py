"""A process group's ``/healthz`` and ``/readyz``: every child asked on its own unix socket.

Each child of ``mserve --processes N`` serves its own status endpoint on a unix socket in the
group's private folder (never on the network); the supervisor's ``--http`` endpoint asks each
one at every probe (``ask``, stdlib ``http.client``) and ``combine`` makes one answer of them
(pure). A probe costs N local requests of a millisecond or so.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: How long one child gets to answer a probe.
ASK_TIMEOUT = 2.0


@dataclass(frozen=True)
class Answer:
    """What one child said: ``status`` ``None`` when it is not running or did not answer."""

    child: str  #: ``child 1 (pid 4242)``
    status: int | None
    text: str


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def ask(path: str, what: str, timeout: float = ASK_TIMEOUT) -> tuple[int, str]:
    """``GET what`` on the status socket ``path``: (status, body).

    Raises:
        OSError: nothing listens there (yet), or no answer within ``timeout`` seconds.
    """
    connection = _UnixConnection(path, timeout)
    try:
        connection.request("GET", what)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace").strip()
    finally:
        connection.close()


@dataclass(frozen=True)
class Child:
    """One slot as the supervisor sees it now: its label, socket, and whether it runs."""

    label: str
    socket: str
    running: bool


def answers(
    children: Sequence[Child],
    what: str,
    asker: Callable[[str, str], tuple[int, str]] = ask,
) -> list[Answer]:
    """Each child's answer to ``GET what``, in slot order."""
    out = []
    for child in children:
        if not child.running:
            out.append(Answer(child.label, None, "not running (restarting)"))
            continue
        try:
            status, text = asker(child.socket, what)
        except OSError as exc:
            out.append(Answer(child.label, None, f"no answer ({type(exc).__name__}: starting?)"))
            continue
        out.append(Answer(child.label, status, text))
    return out


def readiness(found: Sequence[Answer]) -> tuple[bool, str]:
    """Ready when every child is (all of them consume); else why each other one is not."""
    waiting = [f"{a.child}: {a.text}" for a in found if a.status != 200]
    return not waiting, "; ".join(waiting)


def liveness(found: Sequence[Answer]) -> tuple[bool, str]:
    """Unhealthy only when a child says so (stuck tasks: it stops itself, exit 6). A child
    that is down or starting is the supervisor's to restart, not a reason to kill the group."""
    sick = [f"{a.child}: {a.text}" for a in found if a.status is not None and a.status != 200]
    if sick:
        return False, "; ".join(sick)
    return True, "; ".join(f"{a.child}: {a.text}" for a in found)
