"""Generated workflow programs: the data, the strategies, one interpreter workflow, a model.

A *program* is a tree of ops (msgspec Structs, JSON-encoded as the interpreter's input):

- ``Step(label, attempts, fail, broken, delay)``: an async step with
  ``Retry(max_attempts=attempts)``; its first ``fail`` attempts raise (``fail <
  attempts``, so it recovers) or, when ``broken``, every attempt raises
  ``ValueError("<label> is broken")``.
- ``Tx(label, attempts, fail, broken)``: the same as a ``@durable.transaction`` step that
  inserts one row ``(run_id, label)`` into ``prop_effects`` before it decides to fail.
- ``Sleep(seconds)``, ``Instant(kind)`` (``durable.now/uuid4/random``).
- ``Chain(ops)``: the ops one after the other (each step gets the previous value as its
  argument, so a replay that produced another ``now()`` diverges), ``Gather(branches)``:
  ``asyncio.gather`` of chains (``return_exceptions=True``, so the output does not depend
  on which branch failed first), ``Try(body)``: a chain whose error is caught.
- ``Child(body)``: the chain run as a child workflow (its failure caught as a value).
- ``Race(branches)``: `durable.race` of chains where the first always wins (the others
  are one 5 s step each, started and then cancelled); ``Deadline(body)``:
  `durable.timeout` around one 5 s step, which is cancelled.
- ``Mail(values, from_child)``: messages sent to the run itself (or by a child workflow
  to its parent), received in order, then one more `recv` that must time out: a message
  delivered twice, or lost, changes the output.

Injected failures are *deterministic in outcome*: a step either recovers within its retry
budget or never succeeds.  (A step failing "the first n times" counted across crashes
would not be: a crash can lose a failed attempt's record, and the retry budget is only
what the journal remembers.)  So every program has one correct output, which `expected`
computes without an engine.

Every body execution is written to `LOG` (and, in subprocesses, to a JSONL file) with the
*incarnation* (engine generation) it ran in; `Crasher` crashes at the k-th body point.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from hypothesis import strategies as st

import durable

# -- the program tree ---------------------------------------------------------------------


class Step(msgspec.Struct, tag="step", frozen=True):
    label: str = ""
    attempts: int = 1
    fail: int = 0
    broken: bool = False
    delay: float = 0.0


class Tx(msgspec.Struct, tag="tx", frozen=True):
    label: str = ""
    attempts: int = 1
    fail: int = 0
    broken: bool = False


class Sleep(msgspec.Struct, tag="sleep", frozen=True):
    seconds: float = 0.0


class Instant(msgspec.Struct, tag="instant", frozen=True):
    kind: str = "now"  # "now", "uuid" or "random"
    label: str = ""


class Chain(msgspec.Struct, tag="chain", frozen=True):
    ops: list[Op]


class Gather(msgspec.Struct, tag="gather", frozen=True):
    branches: list[Chain]


class Try(msgspec.Struct, tag="try", frozen=True):
    body: Chain


class Child(msgspec.Struct, tag="child", frozen=True):
    """Run `body` as a child workflow (awaiting a @workflow from the interpreter)."""

    body: Chain


class Race(msgspec.Struct, tag="race", frozen=True):
    """`durable.race` of chains.  ``branches[0]`` wins: it starts with a step that takes
    `WINNER_HEAD` seconds and is otherwise quick; every other branch is one step of
    `LOSER_DELAY` seconds, whose body has started (and is cancelled) when the winner ends."""

    branches: list[Chain]


class Deadline(msgspec.Struct, tag="deadline", frozen=True):
    """``async with durable.timeout(DEADLINE)`` around `body` (one `LOSER_DELAY` step):
    the step is cancelled and the op's value is ``"timed out"``."""

    body: Chain


class Mail(msgspec.Struct, tag="mail", frozen=True):
    """Messages on topic `label` to the current run: sent by the run itself, or by a child
    workflow (``from_child``), then received one by one, then one more `durable.recv` with
    a short timeout that must find nothing (a duplicate would be found).  Its value is
    ``[*values, None]``."""

    values: list[int]
    from_child: bool = False
    label: str = ""


WINNER_HEAD = 0.01
LOSER_DELAY = 5.0
DEADLINE = 0.02

Op = Step | Tx | Sleep | Instant | Chain | Gather | Try | Child | Race | Deadline | Mail

_decoder = msgspec.json.Decoder(Chain)


def encode(program: Chain) -> str:
    return msgspec.json.encode(program).decode()


def decode(text: str) -> Chain:
    return _decoder.decode(text)


def describe(op: Op) -> str:
    """A short readable form of a program, for failure reports."""
    if isinstance(op, Step):
        how = "broken" if op.broken else f"fails {op.fail}/{op.attempts}"
        return f"step {op.label} ({how}, delay {op.delay})"
    if isinstance(op, Tx):
        how = "broken" if op.broken else f"fails {op.fail}/{op.attempts}"
        return f"tx {op.label} ({how})"
    if isinstance(op, Sleep):
        return f"sleep {op.seconds}"
    if isinstance(op, Instant):
        return f"{op.kind} {op.label}"
    if isinstance(op, Gather):
        return "gather[" + " | ".join(describe(b) for b in op.branches) + "]"
    if isinstance(op, Try):
        return "try " + describe(op.body)
    if isinstance(op, Child):
        return "child " + describe(op.body)
    if isinstance(op, Race):
        return "race[" + " | ".join(describe(b) for b in op.branches) + "]"
    if isinstance(op, Deadline):
        return f"timeout {DEADLINE} " + describe(op.body)
    if isinstance(op, Mail):
        return f"mail {op.label} {op.values}" + (" from a child" if op.from_child else "")
    return "[" + ", ".join(describe(o) for o in op.ops) + "]"


def leaves(op: Op) -> list[Op]:
    if isinstance(op, Chain):
        return [leaf for child in op.ops for leaf in leaves(child)]
    if isinstance(op, Gather | Race):
        return [leaf for branch in op.branches for leaf in leaves(branch)]
    if isinstance(op, Try | Child | Deadline):
        return leaves(op.body)
    return [op]


def bodies(program: Chain) -> dict[str, Step | Tx]:
    """The program's steps and transactions by label."""
    return {leaf.label: leaf for leaf in leaves(program) if isinstance(leaf, Step | Tx)}


# -- strategies ----------------------------------------------------------------------------


@st.composite
def _retrying(draw: st.DrawFn) -> tuple[int, int, bool]:
    attempts = draw(st.integers(1, 3))
    broken = draw(st.booleans())
    fail = 0 if broken else draw(st.integers(0, attempts - 1))
    return attempts, fail, broken


def _step() -> st.SearchStrategy[Op]:
    return st.builds(
        lambda r, delay: Step(attempts=r[0], fail=r[1], broken=r[2], delay=delay),
        _retrying(),
        st.sampled_from([0.0, 0.001, 0.003]),
    )


def _tx() -> st.SearchStrategy[Op]:
    return _retrying().map(lambda r: Tx(attempts=r[0], fail=r[1], broken=r[2]))


def _slow() -> Chain:
    return Chain(ops=[Step(delay=LOSER_DELAY)])


def _leaf(transactions: bool) -> st.SearchStrategy[Op]:
    options = [
        _step(),
        st.sampled_from([0.0, 0.005, 0.02]).map(lambda s: Sleep(seconds=s)),
        st.sampled_from(["now", "uuid", "random"]).map(lambda k: Instant(kind=k)),
        st.builds(
            lambda values, from_child: Mail(values=values, from_child=from_child),
            st.lists(st.integers(-3, 3), max_size=3),
            st.booleans(),
        ),
        st.just(Deadline(body=_slow())),
    ]
    if transactions:
        options.append(_tx())
    return st.one_of(*options)


def _extend(children: st.SearchStrategy[Op]) -> st.SearchStrategy[Op]:
    chain = st.lists(children, min_size=1, max_size=3).map(lambda ops: Chain(ops=ops))
    return st.one_of(
        st.lists(chain, min_size=1, max_size=3).map(lambda bs: Gather(branches=bs)),
        chain.map(lambda body: Try(body=body)),
        chain.map(lambda body: Child(body=body)),
        st.tuples(chain, st.integers(1, 2)).map(
            lambda t: Race(
                branches=[
                    Chain(ops=[Step(delay=WINNER_HEAD), *t[0].ops]),
                    *(_slow() for _ in range(t[1])),
                ]
            )
        ),
    )


def programs(max_leaves: int = 8, transactions: bool = True) -> st.SearchStrategy[Chain]:
    """Small programs (at most about `max_leaves` leaves), labelled s0, s1, ... in order."""
    op = st.recursive(_leaf(transactions), _extend, max_leaves=max_leaves)
    top = st.lists(op, min_size=1, max_size=4).map(lambda ops: Chain(ops=ops))
    return top.filter(lambda p: len(leaves(p)) <= max_leaves + 2).map(label)


def label(program: Chain) -> Chain:
    """Give every leaf a unique label in program order."""
    counter = iter(range(10_000))

    def walk(op: Op) -> Op:
        if isinstance(op, Step | Tx | Instant | Mail):
            prefix = {Step: "s", Tx: "t", Instant: "i", Mail: "m"}[type(op)]
            return msgspec.structs.replace(op, label=f"{prefix}{next(counter)}")
        if isinstance(op, Chain):
            return Chain(ops=[walk(o) for o in op.ops])
        if isinstance(op, Gather):
            return Gather(branches=[walk(b) for b in op.branches])  # type: ignore[misc]
        if isinstance(op, Race):
            return Race(branches=[walk(b) for b in op.branches])  # type: ignore[misc]
        if isinstance(op, Deadline):
            return Deadline(body=walk(op.body))  # type: ignore[arg-type]
        if isinstance(op, Try):
            return Try(body=walk(op.body))  # type: ignore[arg-type]
        if isinstance(op, Child):
            return Child(body=walk(op.body))  # type: ignore[arg-type]
        return op

    return walk(program)  # type: ignore[return-value]


# -- the side-effect log and the crash trigger -----------------------------------------------


@dataclass
class Event:
    incarnation: int
    what: str  # "start", "fail", "end" for bodies; "instant" for now/uuid/random
    label: str
    value: str = ""


LOG: dict[str, list[Event]] = {}


@dataclass
class Crasher:
    """Crash when the `count` of body points in this incarnation reaches `at` (0: never)."""

    at: int = 0
    count: int = 0
    incarnation: int = 0
    action: Callable[[], None] | None = None
    log_file: str | None = field(default_factory=lambda: os.environ.get("PROP_LOG_FILE"))

    def arm(self, at: int, action: Callable[[], None] | None) -> None:
        self.at, self.count, self.action = at, 0, action


CRASHER = Crasher()
if os.environ.get("PROP_INCARNATION"):
    CRASHER.incarnation = int(os.environ["PROP_INCARNATION"])


def record(run_id: str, what: str, label: str, value: str = "") -> None:
    event = Event(CRASHER.incarnation, what, label, value)
    LOG.setdefault(run_id, []).append(event)
    if CRASHER.log_file:
        with open(CRASHER.log_file, "a") as handle:
            handle.write(json.dumps([run_id, *event.__dict__.values()]) + "\n")
            handle.flush()


def read_log(path: str | None) -> list[tuple[str, Event]]:
    """The events `record` wrote to the JSONL file `path` (none if it does not exist), each
    with its run id."""
    if not path or not os.path.exists(path):
        return []
    with open(path) as handle:
        rows = [json.loads(line) for line in handle]
    return [(run_id, Event(*fields)) for run_id, *fields in rows]


def point() -> None:
    """A crash point inside a body: crash here if this is the armed one."""
    CRASHER.count += 1
    if CRASHER.count == CRASHER.at and CRASHER.action is not None:
        action, CRASHER.action = CRASHER.action, None
        action()


def _failures(run_id: str, label: str) -> int:
    return sum(1 for e in LOG.get(run_id, []) if e.what == "fail" and e.label == label)


# -- the registered workflow ---------------------------------------------------------------


def _root() -> str:
    """Effects are logged by the root run: a child's steps count for the program as a whole
    (labels are unique across the program)."""
    return durable.context().root_id


async def _step_body(label: str, fail: int, broken: bool, delay: float, arg: Any) -> str:
    run_id = _root()
    record(run_id, "start", label)
    point()
    await asyncio.sleep(delay)  # always yields: a crash above cancels the body here
    if broken or _failures(run_id, label) < fail:
        record(run_id, "fail", label)
        raise ValueError(f"{label} is broken")
    record(run_id, "end", label)
    point()
    return label


def _sql(dialect: str, text: str) -> str:
    return text.replace("?", "%s") if dialect == "postgres" else text


EFFECTS_TABLE = (
    "CREATE TABLE IF NOT EXISTS prop_effects (run_id TEXT NOT NULL, label TEXT NOT NULL)"
)


async def _tx_body(conn: Any, dialect: str, label: str, fail: int, broken: bool, arg: Any) -> str:
    run_id = _root()
    record(run_id, "start", label)
    point()
    await conn.execute(
        _sql(dialect, "INSERT INTO prop_effects (run_id, label) VALUES (?, ?)"), (run_id, label)
    )
    if broken or _failures(run_id, label) < fail:
        record(run_id, "fail", label)
        raise ValueError(f"{label} is broken")
    record(run_id, "end", label)
    point()
    await asyncio.sleep(0)  # a crash at the point above lands before the commit
    return label


def _retry(attempts: int) -> durable.Retry:
    return durable.Retry(max_attempts=attempts, initial=0.001, backoff=1.0, jitter=0)


STEPS = {n: durable.step(name=f"prop.step.a{n}", retry=_retry(n))(_step_body) for n in (1, 2, 3)}
TXS = {n: durable.transaction(name=f"prop.tx.a{n}", retry=_retry(n))(_tx_body) for n in (1, 2, 3)}
_INSTANTS: dict[str, Callable[[], Any]] = {
    "now": durable.now,
    "uuid": durable.uuid4,
    "random": durable.random,
}


def _arg(prev: Any) -> Any:
    return len(prev) if isinstance(prev, list) else prev


def _value_or_error(result: Any) -> Any:
    if isinstance(result, durable.DurableError) or (
        isinstance(result, BaseException) and not isinstance(result, Exception)
    ):
        raise result
    if isinstance(result, Exception):
        return f"error {type(result).__name__}: {result}"
    return result


async def _run(op: Op, dialect: str, prev: Any) -> Any:
    if isinstance(op, Step):
        return await STEPS[op.attempts](op.label, op.fail, op.broken, op.delay, _arg(prev))
    if isinstance(op, Tx):
        return await TXS[op.attempts](dialect, op.label, op.fail, op.broken, _arg(prev))
    if isinstance(op, Sleep):
        await durable.sleep(op.seconds)
        return None
    if isinstance(op, Instant):
        value = _INSTANTS[op.kind]()
        record(_root(), "instant", op.label, repr(value))
        return value
    if isinstance(op, Gather):
        results = await asyncio.gather(
            *(_chain(branch, dialect, prev) for branch in op.branches), return_exceptions=True
        )
        return [_value_or_error(result) for result in results]
    if isinstance(op, Try):
        try:
            return await _chain(op.body, dialect, prev)
        except durable.DurableError:
            raise
        except Exception as exc:
            return f"caught {type(exc).__name__}: {exc}"
    if isinstance(op, Child):
        try:
            return await interpret_child(encode(op.body), dialect)
        except durable.WorkflowFailed as failed:
            cause = failed.__cause__
            return f"child failed {type(cause).__name__}: {cause}"
    if isinstance(op, Race | Deadline | Mail):
        return await _run_concurrent(op, dialect, prev)
    return await _chain(op, dialect, prev)


async def _run_concurrent(op: Race | Deadline | Mail, dialect: str, prev: Any) -> Any:
    """The ops whose outcome depends on other work: racing, timing out, messaging."""
    if isinstance(op, Race):
        return await durable.race(*(_chain(branch, dialect, prev) for branch in op.branches))
    if isinstance(op, Deadline):
        try:
            async with durable.timeout(DEADLINE):
                await _chain(op.body, dialect, prev)
        except TimeoutError:
            return "timed out"
        raise AssertionError(f"{describe(op)} outlived its deadline")
    return await _mail(op)


async def _mail(op: Mail) -> list[Any]:
    me = durable.context().workflow_id
    if op.from_child:
        await mailer(me, op.label, op.values)
    else:
        for value in op.values:
            await durable.send(me, op.label, value)
            point()  # a crash point in workflow code, between sends
    received = []
    for _ in op.values:
        received.append(await durable.recv(op.label, timeout=LOSER_DELAY))
        point()
    received.append(await durable.recv(op.label, timeout=DEADLINE))
    return received


async def _chain(chain: Chain, dialect: str, prev: Any) -> list[Any]:
    out = []
    for op in chain.ops:
        prev = await _run(op, dialect, prev)
        out.append(prev)
    return out


@durable.workflow(name="prop.interpret")
async def interpret(program: str, dialect: str = "sqlite") -> list[Any]:
    """Run a JSON-encoded program (see the module docstring)."""
    return await _chain(decode(program), dialect, None)


@durable.workflow(name="prop.interpret_child")
async def interpret_child(program: str, dialect: str = "sqlite") -> list[Any]:
    """A sub-program run as a child workflow of the interpreter."""
    return await _chain(decode(program), dialect, None)


@durable.workflow(name="prop.mailer")
async def mailer(target: str, topic: str, values: list[int]) -> None:
    """Send `values` to run `target` on `topic`, one by one."""
    for value in values:
        await durable.send(target, topic, value)
        point()


# -- the model -------------------------------------------------------------------------------


class ModelError(Exception):
    pass


@dataclass
class Expected:
    """What a crash-free run must do: its outcome and how often each body starts."""

    outcome: tuple[Any, ...]
    starts: dict[str, int]


class _Model:
    """The crash-free semantics of the interpreter, without an engine."""

    def __init__(self) -> None:
        self.starts: dict[str, int] = {}

    def body(self, op: Step | Tx) -> str:
        self.starts[op.label] = op.attempts if op.broken else op.fail + 1
        if op.broken:
            raise ModelError(f"{op.label} is broken")
        return op.label

    def catching(self, chain: Chain, prefix: str) -> Any:
        try:
            return self.run(chain)
        except ModelError as exc:
            return f"{prefix} ValueError: {exc}"

    def run(self, op: Op) -> Any:
        if isinstance(op, Step | Tx):
            return self.body(op)
        if isinstance(op, Sleep):
            return None
        if isinstance(op, Instant):
            return f"<{op.kind}>"
        if isinstance(op, Gather):
            return [self.catching(branch, "error") for branch in op.branches]
        if isinstance(op, Try):
            return self.catching(op.body, "caught")
        if isinstance(op, Child):
            return self.catching(op.body, "child failed")
        if isinstance(op, Race):
            for loser in op.branches[1:]:
                self.started(loser)
            return self.run(op.branches[0])
        if isinstance(op, Deadline):
            self.started(op.body)
            return "timed out"
        if isinstance(op, Mail):
            return [*op.values, None]
        return [self.run(o) for o in op.ops]

    def started(self, slow: Chain) -> None:
        """A slow branch: its one step starts and is cancelled."""
        (step,) = slow.ops
        assert isinstance(step, Step)
        self.starts[step.label] = 1


def expected(program: Chain) -> Expected:
    """The outcome of a crash-free run of `program`, and its body starts by label."""
    model = _Model()
    try:
        outcome: tuple[Any, ...] = ("ok", model.run(program))
    except ModelError as exc:
        outcome = ("error", "ValueError", str(exc))
    return Expected(outcome, model.starts)


def normalize(value: Any) -> Any:
    """An output with the values of now/uuid4/random replaced by placeholders."""
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, datetime.datetime):
        return "<now>"
    if isinstance(value, uuid.UUID):
        return "<uuid>"
    if isinstance(value, float):
        return "<random>"
    return value


def instants(value: Any) -> list[str]:
    """The reprs of the now/uuid4/random values in an output, in order."""
    if isinstance(value, list):
        return [r for v in value for r in instants(v)]
    if isinstance(value, datetime.datetime | uuid.UUID | float):
        return [repr(value)]
    return []
