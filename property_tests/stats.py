"""Counters of what the property suite exercised, printed at the end of the session."""

from __future__ import annotations

from collections import Counter

STATS: Counter[str] = Counter()

LABELS = {
    "programs": "programs executed on a journal",
    "crashes": "in-process crashes injected (then resumed)",
    "crash_free": "crash-free reference runs",
    "sigkills": "real SIGKILLs of a subprocess (then resumed in another)",
    "postgres_programs": "programs executed on Postgres",
    "starts": "concurrent starts of one workflow id",
    "codec_values": "values round-tripped through the codec",
    "machine_steps": "state-machine rules applied",
}


def summary() -> list[str]:
    return [f"{STATS[key]:6d} {text}" for key, text in LABELS.items() if STATS[key]]
