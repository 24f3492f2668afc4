"""Load a topology: parse YAML, validate against the schema, check references, build the model."""

from __future__ import annotations

import os
from pathlib import Path

from ._yaml import parse_yaml
from .build import build_topology
from .errors import TopologyErrors
from .message_schema import FileReader
from .model import Topology
from .scan import Scanner, ScanResult, scan_packages
from .schema_check import schema_errors
from .semantics import SemanticChecker
from .task_imports import Importer, import_errors
from .text_checks import text_errors


def load_topology(
    text: str,
    *,
    source_name: str = "topology.yaml",
    scanner: Scanner | None = scan_packages,
    allow_literal_password: bool = False,
    read_file: FileReader | None = None,
    importer: Importer | None = None,
    allow_unverified_tls: bool = False,
) -> Topology:
    """Parse and validate topology ``text``; pure apart from the injected imports.

    Parameters:
        text: the YAML document.
        source_name: the file name shown in error locations.
        scanner: imports the ``scan:`` packages; None skips scanning (their tasks are then
            missing from the result, so only tools that do not compile should pass None).
        allow_literal_password: accept a password written into a connection URL.
        allow_unverified_tls: accept ``verify: false`` in a connection's ``tls:``.
        read_file: reads a file named relative to the topology (queue ``schema:`` files are
            checked to be JSON Schemas); None skips that check.
        importer: resolves each ``tasks:`` entry's ``task:`` and ``root_factory:``
            (``task_imports.ModuleImporter`` imports them); None, the default, skips that check.

    Raises:
        TopologyErrors: with every problem found, sorted by location.
    """
    parsed = parse_yaml(text, source_name)
    errors = schema_errors(parsed, source_name) + text_errors(parsed)
    scan = ScanResult()
    packages = parsed.data.get("scan") if isinstance(parsed.data, dict) else None
    if scanner is not None and isinstance(packages, list):
        scan = scanner([p for p in packages if isinstance(p, str)])
    elif packages:
        scan = ScanResult(skipped=True)
    errors += SemanticChecker(
        parsed, source_name, scan, allow_literal_password, read_file,
        allow_unverified_tls=allow_unverified_tls,
    ).run()  # fmt: skip
    if importer is not None:
        errors += import_errors(parsed, importer)
    if errors:
        raise TopologyErrors(errors)
    assert isinstance(parsed.data, dict)  # the schema guarantees a mapping
    return build_topology(parsed.data, scan)


def load_topology_file(
    path: str | os.PathLike[str],
    *,
    scanner: Scanner | None = scan_packages,
    allow_literal_password: bool = False,
    importer: Importer | None = None,
    allow_unverified_tls: bool = False,
) -> Topology:
    """Read ``path`` (UTF-8) and load it; errors name the file as given."""
    path = Path(path)
    return load_topology(
        path.read_text(encoding="utf-8"),
        source_name=str(path),
        scanner=scanner,
        allow_literal_password=allow_literal_password,
        allow_unverified_tls=allow_unverified_tls,
        importer=importer,
        read_file=lambda name: (path.parent / name).read_text(encoding="utf-8"),
    )
