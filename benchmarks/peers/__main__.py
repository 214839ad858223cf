"""``python -m benchmarks.peers PEER SCENARIO --url URL [...]``: one measurement, in
this fresh process, printed as ``RESULT <json>`` (see `benchmarks.peers`)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging

from benchmarks.peers import Job

SCENARIOS = ("sequential", "concurrent", "latency", "recovery_prepare", "recovery", "fanout")
WORKER_SCENARIOS = ("worker_latency", "worker_throughput")  # in `{peer}_workers`


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("peer", choices=("durable", "dbos", "absurd", "raw"))
    parser.add_argument("scenario", choices=SCENARIOS + WORKER_SCENARIOS)
    parser.add_argument("--url", required=True)
    parser.add_argument("--steps", type=int, default=0)
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--durability", default="process", choices=("process", "full"))
    parser.add_argument("--workers", type=int, default=1)
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    kind = "workers" if options.scenario in WORKER_SCENARIOS else "peer"
    module = importlib.import_module(f"benchmarks.peers.{options.peer}_{kind}")
    job = Job(options.url, options.steps, options.runs, options.durability, options.workers)
    figures = asyncio.run(getattr(module, options.scenario)(job))
    print("RESULT " + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
