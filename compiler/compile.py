"""The compile core: a topology in, the text of the generated files out. No I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass, replace

from mqwire.topology.ini import read_compiled_ini
from mqwire.topology.model import Topology, Transport, frozen_mapping

from ._jinja import make_environment
from .context import header, ini_sections, registry_context
from .errors import CompilerError


@dataclass(frozen=True)
class CompileOptions:
    """What the generated files say about where they came from.

    ``source`` is the topology's path relative to the output folder (POSIX separators), so
    output never holds absolute paths and is the same on every machine.
    """

    source: str = "topology.yaml"
    source_sha256: str = ""
    registry_file: str = "compiled_registry.py"
    transport: Transport | None = None


@dataclass(frozen=True)
class CompiledOutput:
    ini: str
    registry_py: str


def compile_topology(topology: Topology, options: CompileOptions | None = None) -> CompiledOutput:
    """Render the INI settings and the registry module; byte-identical for equal input.

    Raises:
        CompilerError: if the INI would not read back to the same topology.
    """
    options = options or CompileOptions()
    if not options.source.isprintable():  # it lands in comments and an INI value: one line
        options = replace(options, source=ascii(options.source))
    if options.transport is not None:
        topology = with_transport(topology, options.transport)
    env = make_environment()
    top = header(options.source, options.source_sha256)
    ini = env.get_template("compiled.ini.j2").render(
        header=top,
        sections=ini_sections(topology, source=options.source, registry=options.registry_file),
    )
    registry = env.get_template("registry.py.j2").render(header=top, **registry_context(topology))
    readback = read_compiled_ini(ini, source_name="<compiled.ini>").topology
    if readback != topology:
        raise CompilerError("the compiled INI does not read back to the topology; please report")
    return CompiledOutput(ini=ini, registry_py=registry)


def with_transport(topology: Topology, transport: Transport) -> Topology:
    """The same topology with every publisher_consumer on ``transport`` (``--transport``).

    On the local transport a publisher_consumer has no connection: its URL would be resolved
    at ``load()`` for nothing, so a test would need ``AMQP_URL`` set without a broker.
    """
    pcs = {
        n: replace(
            pc, transport=transport, connection=pc.connection if transport == "amqp" else None
        )
        for n, pc in topology.publisher_consumers.items()
    }
    return replace(topology, publisher_consumers=frozen_mapping(pcs))
