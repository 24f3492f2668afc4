"""Property tests of the compiler: any accepted topology compiles deterministically, reads back
to itself, yields a registry made only of safe constructs, and names cannot inject lines.

Topologies come from ``topology_strategies.topology_dicts`` (plain dicts, dumped with
``yaml.safe_dump`` and loaded with ``load_topology(text, scanner=None)``).

The tests at the end guard bugs this suite found (the comment above each gives the minimal
YAML): names with line breaks, unimportable import paths, blanks at value ends, float error in
millisecond delays and code injected through the source file name.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import os
import re
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from topology_strategies import topology_dicts

import mqwire.compiler
from mqwire.compiler import CompileOptions, compile_topology
from mqwire.topology import Topology, TopologyErrors, load_topology, read_compiled_ini

#: Each example parses YAML, validates and compiles (~25 ms): keep the file under ~20 s.
PROPERTY = settings(max_examples=60, deadline=None)

OPTIONS = CompileOptions(
    source="../topology.yaml", source_sha256="ab" * 32, registry_file="compiled_registry.py"
)


def dump(data: dict[str, Any], *, sort_keys: bool = True) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=sort_keys)


def load(data: dict[str, Any], *, sort_keys: bool = True) -> Topology:
    return load_topology(dump(data, sort_keys=sort_keys), scanner=None)


def plain_ini(text: str) -> configparser.ConfigParser:
    """The INI as any configparser user reads it (keys keep their case, no interpolation)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


# --------------------------------------------------------------------------- 2. round trip


@PROPERTY
@given(topology_dicts())
def test_compile_is_deterministic_and_reads_back(data: dict[str, Any]) -> None:
    topology = load(data)
    assert set(topology.connections) == set(data["connections"])
    assert set(topology.publisher_consumers) == set(data["publisher_consumers"])
    assert set(topology.queues) == set(data["queues"])
    assert set(topology.tasks) == set(data.get("tasks", {}))

    output = compile_topology(topology, OPTIONS)
    assert compile_topology(topology, OPTIONS) == output
    # Key order in the YAML file makes no difference to the output either.
    assert compile_topology(load(data, sort_keys=False), OPTIONS) == output

    assert read_compiled_ini(output.ini).topology == topology

    parser = plain_ini(output.ini)
    for name, pc in topology.publisher_consumers.items():
        routes = parser["settings"][f"{pc.prefix}.routes"].split()
        assert routes == [f"{r.pattern}:{r.queue}" for r in topology.effective_routes(name)]
    for name, connection in topology.connections.items():
        assert parser[f"connection:{name}"]["url"] == connection.url
    for name, queue in topology.queues.items():
        assert parser.has_section(f"queue:{name}")
        assert parser[f"queue:{name}"]["dead_letter_queue"] == queue.dead_letter_queue


@settings(max_examples=20, deadline=None)
@given(topology_dicts(), st.sampled_from(["local", "amqp"]))
def test_compile_with_transport_override(data: dict[str, Any], transport: Any) -> None:
    # compile_topology checks internally that the INI reads back to the overridden topology.
    output = compile_topology(load(data), CompileOptions(transport=transport))
    pcs = read_compiled_ini(output.ini).topology.publisher_consumers.values()
    assert {pc.transport for pc in pcs} == {transport}


# --------------------------------------------------------------------------- 3. registry


def _import_names(tree: ast.Module) -> set[str]:
    return {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}


def check_safe_registry(tree: ast.Module) -> None:
    """Fail on any node outside the registry's tiny grammar (no defs, lambdas, f-strings...)."""
    body = tree.body
    assert body and isinstance(body[0], ast.Expr), "the module starts with its docstring"
    imported_roots = {name.split(".")[0] for name in _import_names(tree)}
    loadable = {"MappingProxyType"} | imported_roots  # a module may be called TASKS too
    for node in ast.walk(tree):
        match node:
            case ast.Module() | ast.Load() | ast.Store() | ast.Dict() | ast.Tuple():
                pass
            case ast.Expr():
                assert node is body[0], "only the docstring may be an expression statement"
                assert isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            case ast.Constant():
                assert node.value is None or isinstance(node.value, str | float)
            case ast.Import():
                assert all(a.asname is None for a in node.names)
            case ast.alias():
                pass
            case ast.ImportFrom():
                assert node.module == "types" and node.level == 0
                assert [(a.name, a.asname) for a in node.names] == [("MappingProxyType", None)]
            case ast.Assign():
                assert [ast.unparse(t) for t in node.targets] in (["TASKS"], ["MIDDLEWARE"])
                if node.targets[0].id == "MIDDLEWARE":  # type: ignore[attr-defined]
                    assert node is body[-1], "bound last: after TASKS, which may use a module"
                    assert isinstance(node.value, ast.Tuple)
                    assert all(isinstance(e, ast.Attribute) for e in node.value.elts)
            case ast.Name(ctx=ast.Store()):
                assert node.id in ("TASKS", "MIDDLEWARE"), node.id
            case ast.Name():
                assert node.id in loadable, node.id
            case ast.Attribute():
                assert isinstance(node.ctx, ast.Load)
            case ast.Call():
                assert isinstance(node.func, ast.Name) and node.func.id == "MappingProxyType"
                assert not node.keywords and len(node.args) == 1
                assert isinstance(node.args[0], ast.Dict)
            case _:
                pytest.fail(f"unsafe construct in the registry: {ast.dump(node)[:200]}")


def _tasks_dict(tree: ast.Module) -> ast.Dict:
    (assign,) = [n for n in tree.body if isinstance(n, ast.Assign) and _bound(n) == "TASKS"]
    assert isinstance(assign.value, ast.Call) and isinstance(assign.value.args[0], ast.Dict)
    return assign.value.args[0]


def _bound(assign: ast.Assign) -> str:
    return ast.unparse(assign.targets[0])


def _middleware(tree: ast.Module) -> list[str]:
    """The references of ``MIDDLEWARE = (...)``, or [] when the registry has none."""
    found = [n for n in tree.body if isinstance(n, ast.Assign) and _bound(n) == "MIDDLEWARE"]
    if not found:
        return []
    assert isinstance(found[0].value, ast.Tuple)
    return [ast.unparse(e) for e in found[0].value.elts]


def _reference(path: str | None) -> str:
    return "None" if path is None else path.replace(":", ".")


@PROPERTY
@given(topology_dicts())
def test_registry_has_only_safe_constructs(data: dict[str, Any]) -> None:
    topology = load(data)
    tree = ast.parse(compile_topology(topology, OPTIONS).registry_py)
    check_safe_registry(tree)

    tasks = topology.tasks.values()
    modules = {p.split(":")[0] for t in tasks for p in (t.task, t.root_factory) if p}
    modules |= {p.split(":")[0] for p in topology.middleware}
    assert _import_names(tree) == modules
    assert _middleware(tree) == [_reference(p) for p in topology.middleware]

    entries = _tasks_dict(tree)
    keys = [ast.literal_eval(k) for k in entries.keys if k is not None]
    assert keys == list(topology.tasks)
    for key, value in zip(keys, entries.values, strict=True):
        task = topology.tasks[key]
        assert isinstance(value, ast.Call) and isinstance(value.args[0], ast.Dict)
        fields = {
            ast.literal_eval(k): ast.unparse(v)
            for k, v in zip(value.args[0].keys, value.args[0].values, strict=True)
            if k is not None
        }
        assert fields["task"] == _reference(task.task)
        assert fields["root_factory"] == _reference(task.root_factory)
        literals = {
            k: ast.literal_eval(fields[k])
            for k in ("name", "task_path", "root_factory_path", "queue", "timeout")
        }
        assert literals == {
            "name": task.name,
            "task_path": task.task,
            "root_factory_path": task.root_factory,
            "queue": task.queue,
            "timeout": task.timeout,
        }
        consumer = topology.queues[task.queue].consumer
        assert ast.literal_eval(fields["publisher_consumer"]) == consumer


# --------------------------------------------------------------------------- 4. no machine data

MACHINE_PATHS = sorted(
    {
        p
        for p in (
            os.getcwd(),
            tempfile.gettempdir(),
            str(Path.home()),
            str(Path(__file__).resolve().parent),
            str(Path(mqwire.compiler.__file__).resolve().parent),
            sys.prefix,
        )
        if len(p) > 1
    }
)
TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}"  # ISO date
    r"|\d{1,2}:\d{2}:\d{2}"  # clock time
    r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d"  # RFC 2822
    r"|\b\d{10}(?:\.\d+)?\b"  # a Unix time in seconds
)


@PROPERTY
@given(topology_dicts())
def test_output_has_no_machine_paths_or_timestamps(data: dict[str, Any]) -> None:
    text = dump(data)
    output = compile_topology(load_topology(text, scanner=None), OPTIONS)
    for line in (output.ini + output.registry_py).splitlines():
        for path in MACHINE_PATHS:
            # The strategy's free text has no ASCII letters, so it never spells a path itself.
            assert path not in line or path in text, f"machine path {path!r} in {line!r}"
        for match in TIMESTAMP.finditer(line):
            assert match.group() in text, f"timestamp-like {match.group()!r} in {line!r}"


# --------------------------------------------------------------------------- 5. injection

PAYLOADS = (
    "\n",
    "\r\n",
    "\r",
    "\n[evil]\nkey = value\n",
    "[mqwire]",
    "[queue:x]",
    "]\n[settings",
    '"""\nimport os\n#',
    "')\nimport os\n#",
    "\u2028",
    "\x85",
    "\x00",
    " ",
    "\t",
    "#",
    ";",
    "=",
    "é",
    "(",
)


def _rename_key(mapping: dict[str, Any], old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


def _rename_queue(data: dict[str, Any], old: str, new: str) -> None:
    """Rename a queue everywhere it is named, so only the new name itself can be at fault."""
    _rename_key(data["queues"], old, new)
    for queue in data["queues"].values():
        if queue.get("dead_letter_queue") == old:
            queue["dead_letter_queue"] = new
    for pc in data["publisher_consumers"].values():
        routes = pc.get("routes", {})
        for pattern in list(routes):
            target = routes[pattern]
            if isinstance(target, str):
                routes[pattern] = new if target == old else target
            else:
                routes[pattern] = [new if t == old else t for t in target]
    for task in data.get("tasks", {}).values():
        if task["queue"] == old:
            task["queue"] = new


def _rename_pc(data: dict[str, Any], old: str, new: str) -> None:
    _rename_key(data["publisher_consumers"], old, new)
    for queue in data["queues"].values():
        if queue.get("consumer") == old:
            queue["consumer"] = new


def _rename_connection(data: dict[str, Any], old: str, new: str) -> None:
    _rename_key(data["connections"], old, new)
    for pc in data["publisher_consumers"].values():
        if pc.get("connection") == old:
            pc["connection"] = new


def _targets(data: dict[str, Any]) -> list[tuple[str, str, Callable[[str], None]]]:
    """(kind, current value, set a new value) for every name the injection may hit."""
    out: list[tuple[str, str, Callable[[str], None]]] = []

    def setter(mapping: dict[str, Any], key: str) -> Callable[[str], None]:
        return lambda value: mapping.__setitem__(key, value)

    for q in data["queues"]:
        out.append(("queue", q, lambda new, q=q: _rename_queue(data, q, new)))
    for n, pc in data["publisher_consumers"].items():
        out.append(("publisher_consumer", n, lambda new, n=n: _rename_pc(data, n, new)))
        out.append(("prefix", pc["prefix"], setter(pc, "prefix")))
        if "exchange" in pc:
            out.append(("exchange", pc["exchange"], setter(pc, "exchange")))
    for n in data["connections"]:
        out.append(("connection", n, lambda new, n=n: _rename_connection(data, n, new)))
    for n, task in data.get("tasks", {}).items():
        out.append(("task name", n, lambda new, n=n: _rename_key(data["tasks"], n, new)))
        out.append(("task import path", task["task"], setter(task, "task")))
        if "root_factory" in task:
            out.append(("root factory", task["root_factory"], setter(task, "root_factory")))
    for i, module in enumerate(data.get("scan", [])):
        out.append(("scan module", module, setter(data["scan"], i)))  # type: ignore[arg-type]
    return out


@PROPERTY
@given(topology_dicts(), st.data())
def test_injected_line_breaks_or_sections_in_names_are_rejected(
    data: dict[str, Any], draw: st.DataObject
) -> None:
    load(data)  # accepted as generated
    kind, value, set_value = draw.draw(st.sampled_from(_targets(data)), label="target")
    payload = draw.draw(st.sampled_from(PAYLOADS), label="payload")
    # Inserted before an existing character: a payload at the very end is the separate
    # test below (a trailing newline passes the schema's `$`).
    at = draw.draw(st.integers(0, len(value) - 1), label="position")
    set_value(value[:at] + payload + value[at:])
    note(f"{kind} {value!r} became {value[:at] + payload + value[at:]!r}")
    with pytest.raises(TopologyErrors):
        load(data)


# --------------------------------------------------------------------------- found bugs

MINIMAL = """\
version: 1
publisher_consumers:
  {pc}:
    prefix: {prefix}
    transport: local
queues:
  {queue}:
    consumer: {pc}
tasks:
  {task}:
    task: {path}
    queue: {queue}
"""


def minimal(**overrides: str) -> str:
    values = {"pc": "jobs", "prefix": "jobs.mq", "queue": "jobs", "task": "t", "path": "a.b:c"}
    return MINIMAL.format(**(values | overrides))


# Found here: jsonschema's "pattern" uses re.search and the patterns end in `$`, which also
# matches before a final "\n"; so a name, prefix or import path ending in a newline passed the
# loader, and compile_topology then fails with ValueError ("cannot write 'jobs\n' as one INI
# value") or, for an unused connection, with an unparsable INI (its [connection:c\n] section
# title is not checked). Minimal YAML (queue name "jobs\n"):
#
#   version: 1
#   publisher_consumers:
#     jobs: {prefix: jobs.mq, transport: local}
#   queues:
#     "jobs\n": {consumer: jobs}
#
# load_topology accepted it; text_checks now refuses it.
@pytest.mark.parametrize(
    "yaml_text",
    [
        minimal(queue='"jobs\\n"'),
        minimal(prefix='"jobs.mq\\n"'),
        minimal(path='"a.b:c\\n"'),
        minimal(pc='"jobs\\n"'),
        minimal(task='"t\\n"'),
        minimal() + 'connections:\n  "c\\n": {url: "amqp://h"}\n',
    ],
    ids=["queue", "prefix", "import-path", "publisher_consumer", "task", "connection"],
)
def test_trailing_newline_in_a_name_is_rejected(yaml_text: str) -> None:
    with pytest.raises(TopologyErrors, match="control character U\\+000A"):
        load_topology(yaml_text, scanner=None)


@contextlib.contextmanager
def stub_modules(paths: list[str]) -> Iterator[None]:
    """Put empty modules holding the named attributes into sys.modules for a while."""
    added: list[str] = []
    try:
        for path in paths:
            module_name, attribute = path.split(":")
            parts = module_name.split(".")
            for i in range(1, len(parts) + 1):
                name = ".".join(parts[:i])
                if name not in sys.modules:
                    sys.modules[name] = types.ModuleType(name)
                    added.append(name)
                if i > 1:
                    setattr(sys.modules[".".join(parts[: i - 1])], parts[i - 1], sys.modules[name])
            setattr(sys.modules[module_name], attribute, f"stub {path}")
        yield
    finally:
        for name in added:
            del sys.modules[name]


# Found here: import paths were only checked against the schema's identifier pattern, so a
# Python keyword passed, and a module called MappingProxyType shadowed the registry's own
# `from types import MappingProxyType`. Minimal YAML (path "a.if:run"):
#
#   version: 1
#   publisher_consumers:
#     jobs: {prefix: jobs.mq, transport: local}
#   queues:
#     jobs: {consumer: jobs}
#   tasks:
#     t: {task: "a.if:run", queue: jobs}
@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("a.if:run", "Python keyword 'if'"),
        ("tasks:class", "Python keyword 'class'"),
        ("a.None:run", "Python keyword 'None'"),
        ("MappingProxyType:run", "a name the generated registry uses itself"),
        ("MappingProxyType.x:run", "a name the generated registry uses itself"),
    ],
)
def test_unimportable_import_paths_are_refused(path: str, words: str) -> None:
    with pytest.raises(TopologyErrors, match=re.escape(words)):
        load_topology(minimal(path=path), scanner=None)


@pytest.mark.parametrize("path", ["TASKS:run", "match.type:case", "_.__init__:TASKS"])
def test_registry_imports_names_that_look_like_its_own(path: str) -> None:
    registry = compile_topology(load_topology(minimal(path=path), scanner=None)).registry_py
    with stub_modules([path]):
        namespace: dict[str, Any] = {}
        exec(compile(registry, "compiled_registry.py", "exec"), namespace)
    assert namespace["TASKS"]["t"]["task"] == f"stub {path}"


# Found here: the loader accepted blanks at either end of a URL or schema path, and then
# compile_topology raised a bare ValueError instead of the loader reporting where. Minimal YAML:
#
#   version: 1
#   connections:
#     c: {url: "amqp://h "}
#   publisher_consumers:
#     jobs: {prefix: jobs.mq, transport: local}
@pytest.mark.parametrize(
    "extra",
    [
        'connections:\n  c: {url: "amqp://h "}\n',
        'connections:\n  c: {url: "amqp://h\\u00a0"}\n',
        "queues:\n  other: {schema: 'x.json '}\n",
        "queues:\n  other: {schema: ' x.json'}\n",
    ],
    ids=["url-space", "url-nbsp", "schema-trailing", "schema-leading"],
)
def test_white_space_at_value_ends_is_refused_where_it_stands(extra: str) -> None:
    data = yaml.safe_load(minimal())
    for section, entries in yaml.safe_load(extra).items():
        data[section] = {**data.get(section, {}), **entries}
    with pytest.raises(TopologyErrors, match="white space at its start or end") as raised:
        load(data)
    assert all(error.location.line > 0 for error in raised.value.errors)


# Found here: semantics tested `abs(delay * 1000 - round(delay * 1000)) > 1e-9`; above
# 16384 s the float error of `delay * 1000` exceeds 1e-9, so whole-millisecond delays were
# refused as "finer than a millisecond". Minimal YAML:
#
#   version: 1
#   publisher_consumers:
#     jobs: {prefix: jobs.mq, transport: local}
#   queues:
#     jobs: {retry: {delays: [16387.69]}}
#
# -> "retry delay 16387.69 is finer than a millisecond".
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2_592_000_000))
@example(16_387_690)
def test_every_whole_millisecond_delay_is_accepted(milliseconds: int) -> None:
    delay = milliseconds / 1000
    data = yaml.safe_load(minimal())
    data["queues"]["jobs"]["retry"] = {"delays": [delay]}
    topology = load(data)
    assert topology.queues["jobs"].retry_queues[0][0] == delay
    assert read_compiled_ini(compile_topology(topology).ini).topology == topology


# Found here: CompileOptions.source (the CLI sets it from the topology's file name) was written
# unescaped into the registry's docstring and both headers, so a file named
# 'a"""+__import__("os").getcwd()+"""b.yaml' gave a registry that ran code when imported. It
# now stands only in comments and one INI value, written with ascii() when not printable.
@pytest.mark.parametrize(
    "source", ['a"""+__import__("os").getcwd()+"""b.yaml', "a\n[evil]\nb.yaml", "a\\.yaml"]
)
def test_source_name_cannot_inject_code_or_lines(source: str) -> None:
    topology = load_topology(minimal(), scanner=None)
    output = compile_topology(topology, CompileOptions(source=source))
    check_safe_registry(ast.parse(output.registry_py))
    assert not plain_ini(output.ini).has_section("evil")
    assert read_compiled_ini(output.ini).topology == topology
    assert output.registry_py.splitlines()[0] == output.ini.splitlines()[0]
