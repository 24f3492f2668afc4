"""The results as a text table (stdout) and as Markdown (``results.md``, for docs/ and history)."""

from __future__ import annotations

from typing import Any


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "failed"
    return f"{value:,.{digits}f}"


def _spread(summary: dict[str, Any], digits: int = 0) -> tuple[str, str]:
    """(median, "min-max") of a summary, formatted."""
    if summary["median"] is None:
        return "failed", "-"
    return _num(summary["median"], digits), (
        f"{_num(summary['min'], digits)}–{_num(summary['max'], digits)}"
    )


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def rows(results: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, column names, rows) of each section present in the results."""
    ratios, tables = results.get("ratios", {}), []
    if "consume" in results:
        body = []
        for key, entry in results["consume"].items():
            median, spread = _spread(entry["rate"])
            vs = [ratios.get(f"consume:{key}/{o}") for o in ("ceiling", "celery", "dramatiq")]
            if key == "ceiling":
                vs = [1.0, None, None]
            start = _spread(entry["startup_s"], 2)[0]
            body.append([entry["label"], median, spread, *map(_ratio, vs), start,
                         _num(entry["rss_mib"]["median"])])  # fmt: skip
        cols = ["consume (msg/s)", "median", "min–max", "×ceiling", "×Celery", "×Dramatiq",
                "start-up s", "RSS MiB"]  # fmt: skip
        tables.append(("Consume: worker consuming → queue empty, all acked", cols, body))
    if "publish" in results:
        body = []
        for key, entry in results["publish"].items():
            median, spread = _spread(entry["rate"])
            other = {"mqwire_publish": "raw_each", "mqwire_apublish": "raw_each",
                     "mqwire_batch": "raw_pipelined", "mqwire_abatch": "raw_pipelined"}  # fmt: skip
            ratio = ratios.get(f"publish:{key}/{other.get(key.split('@')[0])}")
            body.append([entry["label"], median, spread, _ratio(ratio)])
        cols = ["publish (msg/s)", "median", "min–max", "×raw (same mode)"]
        tables.append(("Publish: confirmed; one by one taking turns, pipelined alone", cols, body))
    if "latency" in results:
        body = []
        for key, entry in results["latency"].items():
            p50, p50_spread = _spread(entry["p50_ms"], 2)
            p99, p99_spread = _spread(entry["p99_ms"], 2)
            ratio = 1.0 if key == "ceiling" else ratios.get(f"latency:{key}/ceiling:p50_ms")
            body.append([entry["label"], p50, p50_spread, p99, p99_spread, _ratio(ratio)])
        cols = ["latency (ms)", "p50", "min–max", "p99", "min–max", "p50 ×ceiling"]
        tables.append(("Latency: publish → task start, steady rate", cols, body))
    if "compile" in results:
        body = []
        for size, entry in results["compile"]["sizes"].items():
            body.append([f"mq-compile, {size} queues", *_spread(entry["command_s"], 3),
                         _spread(entry["in_process_s"], 3)[0],
                         _spread(entry["in_process_per_queue_ms"], 3)[0]])  # fmt: skip
        compiled = results["compile"]
        for key, label in _startup_variants(results):
            body.append([f"mserve start-up, ticketing example{label} (s)",
                         *_spread(compiled[f"mserve_startup_s{key}"], 3), "-", "-"])  # fmt: skip
            body.append([f"mserve resident memory{label} (MiB)",
                         *_spread(compiled[f"mserve_rss_mib{key}"], 1), "-", "-"])  # fmt: skip
            if f"mserve_rss_settled_mib{key}" in compiled:  # older results had none
                body.append([f"mserve resident memory 2 s later{label} (MiB)",
                             *_spread(compiled[f"mserve_rss_settled_mib{key}"], 1),
                             "-", "-"])  # fmt: skip
        if "raw_startup_s" in compiled:  # results written before the raw yardstick had none
            body.append(["raw pika consumer start-up (s)",
                         *_spread(compiled["raw_startup_s"], 3), "-", "-"])  # fmt: skip
            body.append(["raw pika consumer resident memory (MiB)",
                         *_spread(compiled["raw_rss_mib"], 1), "-", "-"])  # fmt: skip
        cols = ["compile and start-up", "command s", "min–max", "in-process s", "ms/queue"]
        tables.append(("Compile and start-up", cols, body))
    if "middleware" in results:
        body = []
        for entry in results["middleware"].values():
            body.append([entry["label"], *_spread(entry["none"], 2), *_spread(entry["one"], 2),
                         *_spread(entry["added"], 2)])  # fmt: skip
        cols = ["middleware (µs/msg, CPU)", "none", "min–max", "one no-op", "min–max",
                "added", "min–max"]  # fmt: skip
        tables.append(("Middleware: cost per message, none against one no-op", cols, body))
    return tables


def _startup_variants(results: dict[str, Any]) -> list[tuple[str, str]]:
    """(key suffix, label suffix) of each fast path mode the compile section measured
    mserve's start-up in: the first mode's keys have no suffix (results before had only it)."""
    _, *others = results["meta"].get("fastpaths", ["auto"])
    compiled = results["compile"]
    return [("", ""), *((f"@{m}", f" [fastpath {m}]") for m in others
                        if f"mserve_startup_s@{m}" in compiled)]  # fmt: skip


def _header(results: dict[str, Any]) -> list[str]:
    meta, machine = results["meta"], results["meta"]["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    runs = f"{meta['repeat']} run{'s' if meta['repeat'] > 1 else ''} each"
    return [
        f"mqwire benchmark, {meta['date']}{' (--quick)' if meta['quick'] else ''}: "
        f"N={meta['n']}, {runs} (median, min–max), prefetch {meta['prefetch']}, "
        f"~{meta['message_bytes']}-byte persistent JSON messages, durable queues",
        f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory']}, "
        f"{machine['system']}; {versions}",
        machine["shared"]
        + (
            f" Load average (1 min) before {meta['load_before'][0]:.2f}, after "
            f"{meta['load_after'][0]:.2f}."
            if "load_after" in meta
            else ""
        ),
    ]


def render(results: dict[str, Any]) -> str:
    lines = _header(results)
    for title, cols, body in rows(results):
        widths = [max(len(str(r[i])) for r in [cols, *body]) for i in range(len(cols))]
        lines += ["", title]
        for row in [cols, *body]:
            cells = [row[0].ljust(widths[0])] + [
                c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
            ]
            lines.append("  " + "  ".join(cells))
    lines += ["", "Targets (issue 5)"]
    for target in results.get("targets", []):
        verdict = {True: "met", False: "MISSED", None: "n/a"}[target["met"]]
        lines.append(f"  {verdict:<7}{target['target']:<66}{_ratio(target['ratio']):>7}")
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    lines = [f"_{line}_  " for line in _header(results)]
    for _, cols, body in rows(results):
        lines += ["", "| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
    lines += ["", "| target | ratio | |", "| --- | --- | --- |"]
    for target in results.get("targets", []):
        verdict = {True: "met", False: "**missed**", None: "n/a"}[target["met"]]
        lines.append(f"| {target['target']} | {_ratio(target['ratio'])} | {verdict} |")
    return "\n".join(lines) + "\n"
