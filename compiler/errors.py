"""Errors of the compiler layer (a bad topology is ``mqwire.topology``'s ``TopologyErrors``)."""

from __future__ import annotations

from mqwire.topology.errors import MqError


class CompilerError(MqError):
    """The compiler produced output that does not read back as its input: a bug in mqwire."""


class InputError(MqError):
    """A file or revision ``mq-compile diff`` cannot read; the message says which and why."""
