"""Statistics, the ratios and targets of issue 5, and the table printed at the end of a run.

Every ratio is of medians measured in the same run. Throughput ratios are mqwire / other
(higher is better); latency ratios are mqwire / ceiling (lower is better).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def summarize(runs: Sequence[Any], field: str) -> dict[str, Any]:
    """Median, min and max of ``field`` over the successful runs; failed runs' errors."""
    values = [r[field] for r in runs if "error" not in r]
    errors = [r["error"] for r in runs if "error" in r]
    if not values:
        return {"median": None, "min": None, "max": None, "values": [], "errors": errors}
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "values": values,
        "errors": errors,
    }


def _median(results: dict[str, Any], section: str, key: str, field: str) -> float | None:
    entry = results.get(section, {}).get(key)
    return entry[field]["median"] if entry else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _best_plain(results: dict[str, Any]) -> str | None:
    plain = {
        k: v["rate"]["median"]
        for k, v in results.get("consume", {}).items()
        if k.startswith("mserve_plain") and "@" not in k and v["rate"]["median"] is not None
    }
    return max(plain, key=lambda k: plain[k]) if plain else None


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """Every ratio worth printing, keyed ``section:mqwire/other``."""
    found: dict[str, float | None] = {}
    consume = results.get("consume", {})
    for key in (k for k in consume if k.startswith("mserve")):  # "@off": another fast path
        for other in ("ceiling", "celery", "dramatiq"):
            if other in consume:
                found[f"consume:{key}/{other}"] = _ratio(
                    _median(results, "consume", key, "rate"),
                    _median(results, "consume", other, "rate"),
                )
    publish = results.get("publish", {})
    pairs = [(k, "raw_each") for k in publish if k.startswith(("mqwire_publish", "mqwire_apub"))]
    pairs += [(k, "raw_pipelined") for k in publish if k.startswith(("mqwire_batch", "mqwire_ab"))]
    pairs += [("mqwire_publish", peer) for peer in ("celery", "dramatiq") if peer in publish]
    for mine, other in pairs:
        if mine in publish and other in publish:
            found[f"publish:{mine}/{other}"] = _ratio(
                _median(results, "publish", mine, "rate"),
                _median(results, "publish", other, "rate"),
            )
    for key in ("mserve_plain", "mserve_async"):
        for field in ("p50_ms", "p99_ms"):
            if key in results.get("latency", {}):
                found[f"latency:{key}/ceiling:{field}"] = _ratio(
                    _median(results, "latency", key, field),
                    _median(results, "latency", "ceiling", field),
                )
    return found


def targets(results: dict[str, Any], found: dict[str, float | None]) -> list[dict[str, Any]]:
    """The targets of issue 5 (and linear compile time), each with its ratio and verdict."""
    best = _best_plain(results)
    wanted: list[tuple[str, str, str, float]] = []  # (text, ratio key, op, bound)
    if "consume" in results:
        wanted += [
            ("consume: mserve async / ceiling", "consume:mserve_async/ceiling", ">=", 0.9),
            (f"consume: {best} / ceiling", f"consume:{best}/ceiling", ">=", 0.75),
            (f"consume: {best} / Celery", f"consume:{best}/celery", ">=", 3.0),
            (f"consume: {best} / Dramatiq", f"consume:{best}/dramatiq", ">=", 1.5),
        ]
    if "publish" in results:
        wanted += [
            ("publish: one by one / raw per-message", "publish:mqwire_publish/raw_each", ">=", 1.0),
            ("publish: batch / raw pipelined", "publish:mqwire_batch/raw_pipelined", ">=", 0.8),
        ]
    if "latency" in results:
        for key in ("mserve_plain", "mserve_async"):
            text = f"latency p50: {key} / ceiling"
            wanted.append((text, f"latency:{key}/ceiling:p50_ms", "<=", 1.2))
    checked = []
    for text, key, op, bound in wanted:
        value = found.get(key)
        met = None if value is None else value >= bound if op == ">=" else value <= bound
        checked.append({"target": f"{text} {op} {bound:g}", "ratio": value, "met": met})
    compiled = results.get("compile", {})
    if "raw_startup_s" in compiled:
        startup = _ratio(
            compiled["mserve_startup_s"]["median"], compiled["raw_startup_s"]["median"]
        )
        # Once its start-up checks ran, when the run measured that; else at consuming.
        rss = compiled.get("mserve_rss_settled_mib", compiled["mserve_rss_mib"])["median"]
        checked += [
            {
                "target": "start-up: mserve (ticketing) / raw pika consumer <= 2",
                "ratio": startup,
                "met": None if startup is None else startup <= 2,
            },
            {
                "target": "memory: mserve (ticketing) RSS MiB <= 30",
                "ratio": rss,
                "met": None if rss is None else rss <= 30,
            },
        ]
    sizes = compiled.get("sizes", {})
    if "100" in sizes and "1000" in sizes:
        small = sizes["100"]["in_process_per_queue_ms"]["median"]
        large = sizes["1000"]["in_process_per_queue_ms"]["median"]
        growth = _ratio(large, small)
        checked.append(
            {
                "target": "compile: per-queue time at 1000 queues / at 100 <= 1.5 (linear)",
                "ratio": growth,
                "met": None if growth is None else growth <= 1.5,
            }
        )
    return checked
