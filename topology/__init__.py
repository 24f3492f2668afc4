"""The topology file: loading, validation, the immutable model and the topic matcher."""

from __future__ import annotations

from .errors import Location, MqError, TopologyError, TopologyErrors
from .ini import CompiledIni, read_compiled_ini
from .loader import load_topology, load_topology_file
from .model import Connection, PublisherConsumer, Queue, Retry, Route, Task, Topology
from .routing import RouteTable, topic_matches

__all__ = [
    "CompiledIni",
    "Connection",
    "Location",
    "MqError",
    "PublisherConsumer",
    "Queue",
    "Retry",
    "Route",
    "RouteTable",
    "Task",
    "Topology",
    "TopologyError",
    "TopologyErrors",
    "load_topology",
    "load_topology_file",
    "read_compiled_ini",
    "topic_matches",
]
