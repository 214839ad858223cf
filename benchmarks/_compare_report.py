"""Figures of `benchmarks.compare`: medians, ratios, the printed table, CSV and PNG."""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Measurement", "Summary", "loads", "summarize", "table", "write"]

PEERS = ("durable", "dbos", "absurd", "raw")
NAMES = {"durable": "durable", "dbos": "DBOS", "absurd": "Absurd", "raw": "raw"}
OTHERS = ("dbos", "absurd", "raw")  # the peers durable's figures are divided by
WORKER_COUNTS = (1, 2, 4)  # worker processes in worker_throughput
CHART_COLUMNS = 6  # panels per row of the chart


def loads(text: str) -> dict[str, Any]:
    figures: dict[str, Any] = json.loads(text)
    return figures


def _percentile(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


@dataclass(frozen=True)
class Metric:
    """One figure of a scenario.  `per` names the size a time is divided by before two
    peers that ran different sizes are compared (None: compare only equal sizes)."""

    name: str
    unit: str
    higher_is_better: bool
    value: Callable[[dict[str, Any]], float]
    per: str | None = None
    size_free: bool = False  # a rate or a per-start figure: comparable across sizes


def _rate(f: dict[str, Any]) -> float:
    return f["steps"] * f["runs"] / f["seconds"]


def _p(q: int) -> Metric:
    """The q-th percentile of a latency scenario's samples, in ms."""
    return Metric(
        f"p{q}", "ms", False, lambda f: 1000 * _percentile(f["samples"], q), size_free=True
    )


def _drain_rate(count: int) -> Metric:
    """Runs per second of worker_throughput with `count` worker processes."""
    label = f"{count} worker{'s' if count > 1 else ''}"
    return Metric(
        label, "runs/s", True, lambda f: f["runs"] / f["seconds"][str(count)], size_free=True
    )


METRICS: dict[str, list[Metric]] = {
    "sequential": [Metric("steps/s", "steps/s", True, _rate, size_free=True)],
    "concurrent": [Metric("steps/s", "steps/s", True, _rate, size_free=True)],
    "latency": [_p(50), _p(99)],
    "recovery": [Metric("time", "s", False, lambda f: f["seconds"], per="runs")],
    "fanout": [
        Metric("time", "s", False, lambda f: f["seconds"], per="steps"),
        Metric("peak RSS growth", "MiB", False, lambda f: f["peak_mib"]),
    ],
    "worker_latency": [_p(50), _p(99)],
    "worker_throughput": [_drain_rate(n) for n in WORKER_COUNTS],
}


@dataclass(frozen=True)
class Measurement:
    """The figures of one peer in one round of one scenario."""

    backend: str
    scenario: str
    peer: str
    round: int
    figures: dict[str, Any]

    @property
    def size(self) -> str:
        return f"{self.figures['runs']}x{self.figures['steps']}"

    def brief(self) -> str:
        shown = ", ".join(
            f"{m.name} {_number(m.value(self.figures))} {m.unit}" for m in METRICS[self.scenario]
        )
        return f"{NAMES[self.peer]:<8} {shown}  [{self.size}]"


@dataclass
class Summary:
    """Medians of one metric for every peer that ran it, and the ratios."""

    backend: str
    scenario: str
    metric: Metric
    medians: dict[str, float]
    sizes: dict[str, str]
    counts: dict[str, int]
    units: dict[str, float]  # the `per` size each peer ran

    def ratio(self, other: str) -> float | None:
        """durable's figure over `other`'s (per unit of `per` when their sizes differ)."""
        if "durable" not in self.medians or other not in self.medians:
            return None
        mine, theirs = self.medians["durable"], self.medians[other]
        if self.sizes["durable"] != self.sizes[other] and not self.metric.size_free:
            if self.metric.per is None:
                return None
            mine, theirs = mine / self.units["durable"], theirs / self.units[other]
        return mine / theirs if theirs else None


def summarize(rows: list[Measurement]) -> list[Summary]:
    keys: list[tuple[str, str]] = []
    for row in rows:
        if (row.backend, row.scenario) not in keys:
            keys.append((row.backend, row.scenario))
    out = []
    for backend, scenario in keys:
        mine = [r for r in rows if (r.backend, r.scenario) == (backend, scenario)]
        for metric in METRICS[scenario]:
            summary = Summary(backend, scenario, metric, {}, {}, {}, {})
            for peer in PEERS:
                runs = [r for r in mine if r.peer == peer]
                if not runs:
                    continue
                summary.medians[peer] = statistics.median(metric.value(r.figures) for r in runs)
                summary.sizes[peer] = runs[0].size
                summary.counts[peer] = len(runs)
                summary.units[peer] = runs[0].figures[metric.per] if metric.per else 1
            out.append(summary)
    return out


def _number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}x"


ABSURD_RECOVERY = (
    "Absurd recovery: timed once the killed worker's leases have expired (Absurd learns of "
    "a dead worker only then); a real crash adds up to claim_timeout (default 120 s) first"
)
WORKER_NOTE = (
    "worker scenarios: DBOS and Absurd workers poll their queue every 10 ms and their "
    "clients poll for a result every 1 ms (a drain's end: every 10 ms); durable's are woken"
)


def table(summaries: list[Summary], rounds: int, durability: str) -> str:
    head = [
        "backend",
        "scenario",
        "metric",
        *(NAMES[p] for p in PEERS),
        *(f"durable/{NAMES[p]}" for p in OTHERS),
    ]
    lines = [head]
    notes: list[str] = []
    absurd_note: list[str] = []
    for s in summaries:
        arrow = "higher" if s.metric.higher_is_better else "lower"
        cells = []
        for peer in PEERS:
            text = _number(s.medians.get(peer))
            if peer in s.sizes and s.sizes[peer] != s.sizes.get("durable", s.sizes[peer]):
                text += "*"
                note = (
                    f"* {s.backend} {s.scenario}: {NAMES[peer]} ran {s.sizes[peer]} "
                    f"(runs x steps), durable {s.sizes['durable']}"
                )
                if note not in notes:
                    notes.append(note)
            cells.append(text)
        label = f"{s.metric.name} ({s.metric.unit}, {arrow} is better)"
        ratios = [_ratio(s.ratio(p)) for p in OTHERS]
        lines.append([s.backend, s.scenario, label, *cells, *ratios])
        if s.scenario == "recovery" and "absurd" in s.medians:
            absurd_note = [ABSURD_RECOVERY]
        if s.scenario.startswith("worker_") and WORKER_NOTE not in notes:
            notes.append(WORKER_NOTE)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    rendered = [
        "  ".join(
            c.ljust(w) if i < 3 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    rendered.insert(1, "  ".join("-" * w for w in widths))
    footer = [
        f"medians of {rounds} round(s); SQLite durability: {durability}",
        "ratios: durable's figure over the peer's (per run or step where sizes differ)",
    ]
    return "\n".join([*rendered, "", *footer, *notes, *absurd_note])


def write(
    folder: Path, stamp: str, rows: list[Measurement], summaries: list[Summary]
) -> list[Path]:
    """The summary CSV, the per-round CSV and, when matplotlib is installed, the chart."""
    folder.mkdir(parents=True, exist_ok=True)
    summary_path = folder / f"compare-{stamp}.csv"
    with summary_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["backend", "scenario", "metric", "unit", "better"]
            + [f"{p}_median" for p in PEERS]
            + [f"{p}_size" for p in PEERS]
            + [f"{p}_rounds" for p in PEERS]
            + [f"durable_over_{p}" for p in OTHERS]
        )
        for s in summaries:
            writer.writerow(
                [s.backend, s.scenario, s.metric.name, s.metric.unit]
                + ["higher" if s.metric.higher_is_better else "lower"]
                + [s.medians.get(p, "") for p in PEERS]
                + [s.sizes.get(p, "") for p in PEERS]
                + [s.counts.get(p, 0) for p in PEERS]
                + [s.ratio(p) or "" for p in OTHERS]
            )
    rounds_path = folder / f"compare-{stamp}-rounds.csv"
    with rounds_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["backend", "scenario", "peer", "round", "size", "metric", "unit", "value"])
        for row in rows:
            for metric in METRICS[row.scenario]:
                where = (row.backend, row.scenario, row.peer, row.round, row.size)
                writer.writerow([*where, metric.name, metric.unit, metric.value(row.figures)])
    written = [summary_path, rounds_path]
    chart = _chart(folder / f"compare-{stamp}.png", summaries)
    if chart is not None:
        written.append(chart)
    return written


def _at_durable_size(s: Summary, peer: str) -> float:
    """A time scaled to durable's size when `peer` ran another (marked * on the chart)."""
    value = s.medians[peer]
    if s.metric.per and "durable" in s.units and s.sizes[peer] != s.sizes["durable"]:
        value *= s.units["durable"] / s.units[peer]
    return value


def _chart(path: Path, summaries: list[Summary]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no chart: matplotlib is not installed (pip install -e '.[bench]')")
        return None
    backends = list(dict.fromkeys(s.backend for s in summaries))
    columns = list(dict.fromkeys((s.scenario, s.metric.name) for s in summaries))
    if not backends:
        return None
    wide = min(len(columns), CHART_COLUMNS)
    tall = -(-len(columns) // wide)  # rows of panels per backend
    figure, axes = plt.subplots(
        len(backends) * tall,
        wide,
        figsize=(3.2 * wide, 3.4 * len(backends) * tall),
        squeeze=False,
    )
    for axis in axes.flat:
        axis.set_visible(False)
    colours = {"durable": "#2a7ab0", "dbos": "#d9822b", "absurd": "#5a9e4b", "raw": "#7a7a7a"}
    for row, backend in enumerate(backends):
        for col, (scenario, name) in enumerate(columns):
            axis = axes[row * tall + col // wide][col % wide]
            found = [
                s
                for s in summaries
                if (s.backend, s.scenario, s.metric.name) == (backend, scenario, name)
            ]
            if not found:
                continue
            axis.set_visible(True)
            s = found[0]
            peers = [p for p in PEERS if p in s.medians]
            values = [_at_durable_size(s, p) for p in peers]
            labels = [
                _number(v) + ("*" if s.sizes[p] != s.sizes.get("durable", s.sizes[p]) else "")
                for p, v in zip(peers, values, strict=True)
            ]
            bars = axis.bar([NAMES[p] for p in peers], values, color=[colours[p] for p in peers])
            axis.bar_label(bars, labels=labels, fontsize=8)
            axis.set_yscale("log")
            axis.set_ylim(bottom=min(values) / 4)
            better = "higher" if s.metric.higher_is_better else "lower"
            axis.set_title(
                f"{backend}: {scenario}\n{name} ({s.metric.unit}, {better} is better)", fontsize=9
            )
            axis.margins(y=0.25)
    figure.text(
        0.005,
        0.005,
        "* ran a smaller size: times scaled to durable's size per run or step, memory as measured",
        fontsize=8,
    )
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
