"""RAG with a durable agent: a tool searches a small local corpus, the answer streams.

    pip install -e '.[ai]'
    python examples/rag_agent.py                      # asks, prints the tokens as they stream
    python examples/rag_agent.py                      # again: the answer from the journal
    python examples/rag_agent.py --question "how do retries work?" --id rag-2

The agent is a Pydantic AI `Agent` with the `Durability` capability; its model is a
`FunctionModel` standing in for an LLM (no network, no API key): it asks the
``search`` tool for passages, then answers from them.  Each model request and the tool
call are journaled steps of the ``rag.answer`` workflow.  The answer's tokens are
written to the run's durable stream ``answer`` (`stream_text`) while the model
streams, and this script reads them back with `engine.read_stream`, as another process
or an HTTP client (``GET /api/runs/{id}/streams/answer``) would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

import durable
from durable.contrib.pydantic_ai import Durability, stream_text

CORPUS = {
    "journal": "Every step result is written to the journal once the step succeeds, "
    "so a run that crashes replays the journal and skips finished steps.",
    "retries": "A step retries failed attempts with exponential backoff; the wait is "
    "durable, so a crash during the backoff resumes the remaining wait.",
    "streams": "A durable stream keeps chunks written by a run; readers resume from an "
    "offset, and chunks of a retried attempt carry that attempt number.",
    "children": "A workflow awaited from a workflow is a child run with its own "
    "journal; the lineage tree shows parents and children.",
    "race": "durable.race awaits several calls; the first to finish wins and the "
    "others are cancelled, and the journal records the winner for replay.",
}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower())) - {"a", "the", "how", "do", "is", "of"}


def search_corpus(query: str, limit: int = 2) -> list[dict[str, str]]:
    """The passages sharing the most words with `query`, best first."""
    wanted = _words(query)
    ranked = sorted(CORPUS.items(), key=lambda kv: (-len(wanted & _words(kv[1])), kv[0]))
    return [{"id": doc_id, "text": text} for doc_id, text in ranked[:limit]]


async def model(
    messages: list[ModelMessage], info: AgentInfo
) -> AsyncIterator[str | DeltaToolCalls]:
    """Stand-in LLM: first ask `search` for the question, then answer from the passages."""
    last = messages[-1].parts[-1]
    if isinstance(last, UserPromptPart):
        args = json.dumps({"query": str(last.content)})
        yield {0: DeltaToolCall(name="search", json_args=args, tool_call_id="search-1")}
        return
    assert isinstance(last, ToolReturnPart)
    passages = last.content
    yield f"From {len(passages)} passages: "
    for passage in passages:
        for word in passage["text"].split():
            yield word + " "
        yield f"[{passage['id']}] "


agent = Agent(
    FunctionModel(stream_function=model),
    name="librarian",
    capabilities=[Durability(event_stream_handler=stream_text("answer"))],
)


@agent.tool_plain
def search(query: str) -> list[dict[str, str]]:
    """Search the local corpus."""
    print(f"  tool search({query!r})")
    return search_corpus(query)


@durable.workflow(name="rag.answer")
async def answer(question: str) -> str:
    result = await agent.run(question)
    return str(result.output).strip()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite:///rag_agent.db", help="journal URL")
    parser.add_argument("--id", default="rag-1", help="the run's workflow id")
    parser.add_argument("--question", default="what happens to a step after a crash?")
    args = parser.parse_args()

    async with durable.Engine(args.db) as engine:
        try:
            status = await engine.get(args.id).status()
            print(f"run {args.id!r} is already in the journal ({status.value})")
        except durable.WorkflowNotFound:
            print(f"starting run {args.id!r}: {args.question!r}")
        run = await engine.start(answer, args.question, workflow_id=args.id)
        tokens = 0
        print("stream: ", end="")
        async for chunk in engine.read_stream(run.id, "answer"):
            print(chunk.value, end="")
            tokens += 1
        print()
        final = await run.result()
        steps = [h.name for h in await engine.history(run.id) if h.kind == "step"]
    print(f"{tokens} chunks streamed; journaled steps: {', '.join(steps)}")
    print(f"answer: {final}")


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    asyncio.run(main())
