"""Fan-out, fan-in and a child workflow: fetch N sources at once, summarize them in a child.

    python examples/fan_out_summarize.py              # runs it, prints the summary and lineage
    python examples/fan_out_summarize.py              # again: the finished run, nothing re-runs
    python examples/fan_out_summarize.py --id other   # a second, independent run

The sources are simulated (no network): each answers after a random latency, and one of
them is flaky (its first call fails; `durable.Retry` calls it again after a backoff).
The fetched documents are handed to a child workflow, which starts two grandchildren
(word statistics and keywords) concurrently with `durable.start_child`.  At the end the
script prints the lineage tree of the run: every run it started, with its status and
how long it took.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import sys

import durable

TEXTS = [
    "durable workflows journal every step so a crash loses nothing",
    "a journal entry is written once a step succeeds",
    "replay returns journaled results instead of running the step again",
    "child workflows get ids derived from their parent and their call number",
    "fan out with gather and fan in with one summary step",
    "a flaky source is retried with backoff until it answers",
    "lineage shows every run of a tree with its status",
    "sqlite or postgres hold the journal of every workflow",
]
STOPWORDS = {"a", "and", "of", "the", "with", "is", "so", "or", "its", "their", "every", "once"}
FLAKY = 3  # the index of the source whose first call fails
ran: list[str] = []  # step bodies that ran in this process
calls: collections.Counter[int] = collections.Counter()


def say(line: str) -> None:
    ran.append(line)
    print(f"  {line}")


@durable.step(name="fan_out.fetch", retry=durable.Retry(max_attempts=4, initial=0.2))
async def fetch(index: int) -> str:
    """Fetch one simulated source: a random latency, and a flaky one fails its first call."""
    calls[index] += 1
    latency = random.uniform(0.05, 0.4)  # a step body may be random: its result is journaled
    await asyncio.sleep(latency)
    if index == FLAKY and calls[index] == 1:
        say(f"fetch source-{index}: connection reset, will retry")
        raise ConnectionError(f"source-{index}: connection reset")
    say(f"fetch source-{index}: {len(TEXTS[index % len(TEXTS)])} bytes in {latency:.2f}s")
    return TEXTS[index % len(TEXTS)]


@durable.step(name="fan_out.count_words")
def count_words(docs: list[str]) -> dict[str, int]:
    """A plain function (it runs in a thread)."""
    say("count_words()")
    words = [word for doc in docs for word in doc.split()]
    return {"documents": len(docs), "words": len(words), "distinct": len(set(words))}


@durable.step(name="fan_out.keywords")
def keywords(docs: list[str], top: int) -> list[str]:
    say("keywords()")
    counts = collections.Counter(w for doc in docs for w in doc.split() if w not in STOPWORDS)
    return [word for word, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


@durable.workflow(name="fan_out.stats")
async def stats(docs: list[str]) -> dict[str, int]:
    return await count_words(docs)


@durable.workflow(name="fan_out.topics")
async def topics(docs: list[str]) -> list[str]:
    return await keywords(docs, 3)


@durable.workflow(name="fan_out.summarize")
async def summarize(docs: list[str]) -> str:
    """A child workflow with two children of its own, running concurrently."""
    counted = await durable.start_child(stats, docs)
    top = await durable.start_child(topics, docs)
    numbers, words = await asyncio.gather(counted, top)
    return (
        f"{numbers['documents']} documents, {numbers['words']} words "
        f"({numbers['distinct']} distinct); top keywords: {', '.join(words)}"
    )


@durable.workflow(name="fan_out.pipeline")
async def pipeline(n: int) -> str:
    docs = await asyncio.gather(*(fetch(i) for i in range(n)))  # fan-out, fan-in
    return await summarize(list(docs))  # awaiting a workflow: a child run


def print_lineage(tree: durable.LineageNode) -> None:
    print("lineage:")
    for depth, node in tree.walk():
        took = "-"
        if node.finished_at is not None:
            took = f"{(node.finished_at - node.created_at).total_seconds():.2f}s"
        print(f"  {'    ' * depth}{node.id} ({node.name}) {node.status.value} {took}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite:///fan_out_summarize.db", help="journal URL")
    parser.add_argument("--id", default="fan-out", help="the run's workflow id")
    parser.add_argument("-n", type=int, default=6, help="how many sources to fetch")
    args = parser.parse_args()

    # opening the engine resumes unfinished runs, such as one killed earlier
    async with durable.Engine(args.db) as engine:
        try:
            status = await engine.get(args.id).status()
            print(f"run {args.id!r} is already in the journal ({status.value})")
        except durable.WorkflowNotFound:
            print(f"starting run {args.id!r}: fetching {args.n} sources")
        run = await engine.start(pipeline, args.n, workflow_id=args.id)
        result = await run.result()
        retried = [h.seq for h in await engine.history(run.id) if h.attempts > 1]
        tree = await engine.lineage(run.id)
    print(f"{len(ran)} step bodies ran in this process; steps retried (seq): {retried}")
    print(f"summary: {result}")
    print_lineage(tree)


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    asyncio.run(main())
