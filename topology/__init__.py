"""The topology file: loading, validation, the immutable model and the topic matcher."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from .errors import Location, MqError, TopologyError, TopologyErrors
    from .ini import CompiledIni, read_compiled_ini
    from .loader import load_topology, load_topology_file
    from .model import Connection, PublisherConsumer, Queue, Retry, Route, Task, Topology
    from .routing import RouteTable, topic_matches

_EXPORTS = {
    "CompiledIni": ".ini",
    "Connection": ".model",
    "Location": ".errors",
    "MqError": ".errors",
    "PublisherConsumer": ".model",
    "Queue": ".model",
    "Retry": ".model",
    "Route": ".model",
    "RouteTable": ".routing",
    "Task": ".model",
    "Topology": ".model",
    "TopologyError": ".errors",
    "TopologyErrors": ".errors",
    "load_topology": ".loader",
    "load_topology_file": ".loader",
    "read_compiled_ini": ".ini",
    "topic_matches": ".routing",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

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
