"""``mq-compile graph``: golden Mermaid and DOT for the example, ids, and the CLI edges."""

from __future__ import annotations

import io
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tool_example import EXAMPLE, check_golden, load_example

from mqwire.compiler import cli
from mqwire.compiler.graph import node_id, render, topology_graph
from mqwire.testing import skip_unless_ci
from mqwire.topology import load_topology

TOPOLOGY = str(EXAMPLE / "topology.yaml")


@pytest.mark.parametrize(("fmt", "name"), [("mermaid", "graph.mmd"), ("dot", "graph.dot")])
def test_example_draws_golden_graph(fmt: str, name: str) -> None:
    check_golden(f"ticketing/{name}", render(load_example(), fmt))


def test_graph_holds_every_part_of_the_topology() -> None:
    graph = topology_graph(load_example())
    kinds = {(n.kind, n.label) for n in graph.nodes}
    assert ("exchange", "ticketing.lots") in kinds
    assert ("queue", "lots.election.retry.30s") in kinds
    assert ("queue", "cart.dead") in kinds
    assert ("task", "send_lottery_mail") in kinds
    route = (node_id("exchange", "ticketing.lots"), node_id("queue", "lots.mail"), "lots.*.mail")
    assert route in {(e.source, e.target, e.label) for e in graph.edges}


def test_node_ids_are_safe_and_never_collide() -> None:
    names = ["a.b", "a_b", "a-b", "a_2eb", "ab"]
    ids = {node_id("queue", n) for n in names}
    assert len(ids) == len(names)
    assert all(i.replace("_", "").isalnum() for i in ids)
    assert node_id("queue", "x") != node_id("exchange", "x")


def test_local_publishers_are_marked_and_output_is_stable() -> None:
    text = """\
version: 1
publisher_consumers:
  dev: {prefix: dev.mq, transport: local, exchange: x, routes: {"a.#": q}}
queues:
  q: {consumer: dev}
"""
    topology = load_topology(text, scanner=None)
    mermaid = render(topology, "mermaid")
    assert 'pc_dev(["dev (local)"])' in mermaid
    assert '-->|"a.#35;"| q_q' in mermaid  # '#' escaped as a Mermaid entity
    assert render(load_topology(text, scanner=None), "dot") == render(topology, "dot")
    with pytest.raises(ValueError, match="unknown graph format"):
        render(topology, "svg")


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["graph", *argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_prints_mermaid_and_writes_dot_by_suffix(tmp_path: Path) -> None:
    code, out, _ = run_cli(TOPOLOGY)
    assert code == 0 and out == render(load_example(), "mermaid")
    code, _, err = run_cli(TOPOLOGY, "-o", str(tmp_path / "t.dot"))
    assert code == 0, err
    assert (tmp_path / "t.dot").read_text(encoding="utf-8") == render(load_example(), "dot")


def test_cli_explains_a_missing_graphviz(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    code, _, err = run_cli(TOPOLOGY, "-o", str(tmp_path / "t.svg"))
    assert code == 2 and "needs Graphviz's `dot`" in err and "apt-get install graphviz" in err
    assert not (tmp_path / "t.svg").exists()


def test_cli_draws_a_picture_with_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "dot"  # records its arguments and input, writes the -o file
    fake.write_text(
        '#!/bin/sh\necho "$@" > "$0.args"\ncat > "$0.input"\n'
        'while [ "$1" != -o ]; do shift; done; echo "<svg/>" > "$2"\n',
        encoding="utf-8",
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(shutil, "which", lambda name: str(fake))
    code, _, err = run_cli(TOPOLOGY, "-o", str(tmp_path / "out" / "t.svg"))
    assert code == 0, err
    assert (tmp_path / "out" / "t.svg").exists()
    assert (tmp_path / "dot.args").read_text(encoding="utf-8").startswith("-Tsvg -o ")
    assert (tmp_path / "dot.input").read_text(encoding="utf-8") == render(load_example(), "dot")


def test_real_graphviz_draws_the_example(tmp_path: Path) -> None:
    if shutil.which("dot") is None:  # .ci/run installs it: CI never skips this
        skip_unless_ci("Graphviz is not installed (.ci/run installs it)")
    code, _, err = run_cli(TOPOLOGY, "-o", str(tmp_path / "t.svg"))
    assert code == 0, err
    assert "<svg" in (tmp_path / "t.svg").read_text(encoding="utf-8")


def test_cli_refuses_a_mermaid_picture_and_a_bad_topology(tmp_path: Path) -> None:
    code, _, err = run_cli(TOPOLOGY, "--format", "mermaid", "-o", str(tmp_path / "t.png"))
    assert code == 2 and "cannot draw Mermaid" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 7\n", encoding="utf-8")
    code, out, err = run_cli(str(bad))
    assert (code, out) == (2, "") and "bad.yaml" in err


def test_docs_show_the_current_picture_of_the_example() -> None:
    page = (EXAMPLE.parent.parent / "docs" / "mq-compile.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{render(load_example(), 'mermaid')}```\n" in page


def test_mq_compile_dispatches_the_review_tools() -> None:
    for tool, args in [("graph", []), ("explain", ["--lint"]), ("export", ["--vhost", "v"])]:
        done = subprocess.run(
            [sys.executable, "-m", "mqwire.compiler.cli", tool, TOPOLOGY, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (tool, done.stderr)
        assert done.stdout or tool == "explain"
