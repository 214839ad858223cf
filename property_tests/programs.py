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
- ``Renew()`` (top level only): `durable.continue_as_new` with the rest of the program,
  the output so far and the previous value; its output is ``"renewed"``.
- ``Rounds(moves, times)``: a loop whose moves are races and timeouts that mix every
  primitive as winner and loser (steps, recvs of one topic and of several, sleeps,
  children, events, timeouts), messages the run sends itself, and crash points between
  moves; see `property_tests.rounds`.

Injected failures are *deterministic in outcome*: a step either recovers within its retry
budget or never succeeds.  (A step failing "the first n times" counted across crashes
would not be: a crash can lose a failed attempt's record, and the retry budget is only
what the journal remembers.)  So every program has one correct output, which `expected`
computes without an engine.

The bodies, the log of their side effects and the crash points are in
`property_tests.effects`.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from hypothesis import strategies as st

import durable
from property_tests import effects, rounds

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


Rounds = rounds.Rounds

WINNER_HEAD = 0.01
LOSER_DELAY = 5.0
DEADLINE = 0.02


class Renew(msgspec.Struct, tag="renew", frozen=True):
    pass


Op = (
    Step
    | Tx
    | Sleep
    | Instant
    | Chain
    | Gather
    | Try
    | Child
    | Race
    | Deadline
    | Mail
    | Rounds
    | Renew
)

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
    if isinstance(op, Rounds | Renew):
        return rounds.describe(op) if isinstance(op, Rounds) else "continue_as_new"
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
    """The program's steps and transactions by label (a loop's, one per iteration)."""
    found: dict[str, Step | Tx] = {}
    for leaf in leaves(program):
        if isinstance(leaf, Step | Tx):
            found[leaf.label] = leaf
        elif isinstance(leaf, Rounds):
            found.update((label, Step(label=label)) for label in rounds.bodies(leaf))
    return found


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


def _leaf(transactions: bool, loops: bool = False) -> st.SearchStrategy[Op]:
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
    if loops:
        options.append(rounds.rounds(max_moves=3))
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


def programs(
    max_leaves: int = 8, transactions: bool = True, loops: bool = False
) -> st.SearchStrategy[Chain]:
    """Small programs (at most about `max_leaves` leaves), labelled s0, s1, ... in order;
    with `loops`, a leaf may be a loop of races (`Rounds`)."""
    op = st.recursive(_leaf(transactions, loops), _extend, max_leaves=max_leaves)
    top = st.lists(op, min_size=1, max_size=4).map(lambda ops: Chain(ops=ops))
    return top.filter(lambda p: len(leaves(p)) <= max_leaves + 2).map(label)


def renewing_programs(max_leaves: int = 6) -> st.SearchStrategy[Chain]:
    """Programs whose top level continues as new (`Renew`) once or twice between its ops."""
    op = st.recursive(_leaf(True), _extend, max_leaves=max_leaves)
    part = st.lists(op, max_size=2)
    return st.builds(
        lambda first, second, third, twice: Chain(
            ops=[*first, Renew(), *second, *([Renew()] if twice else []), *third]
        ),
        part,
        part,
        part,
        st.booleans(),
    ).map(label)


def looping_programs(max_leaves: int = 3) -> st.SearchStrategy[Chain]:
    """Programs built around a loop of races (`Rounds`): the loop at the top, between
    small programs that may hold more loops (in gathers, child workflows, races)."""
    op = st.recursive(_leaf(True, loops=True), _extend, max_leaves=max_leaves)
    around = st.lists(op, max_size=1)
    return st.builds(
        lambda before, loop, after: Chain(ops=[*before, loop, *after]),
        around,
        rounds.rounds(),
        around,
    ).map(label)


def label(program: Chain) -> Chain:
    """Give every leaf a unique label in program order."""
    counter = iter(range(10_000))

    def fresh(prefix: str) -> str:
        return f"{prefix}{next(counter)}"

    def walk(op: Op) -> Op:
        if isinstance(op, Step | Tx | Instant | Mail):
            prefix = {Step: "s", Tx: "t", Instant: "i", Mail: "m"}[type(op)]
            return msgspec.structs.replace(op, label=fresh(prefix))
        if isinstance(op, Rounds):
            return rounds.relabel(op, fresh)
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
        return await effects.STEPS[op.attempts](op.label, op.fail, op.broken, op.delay, _arg(prev))
    if isinstance(op, Tx):
        return await effects.TXS[op.attempts](dialect, op.label, op.fail, op.broken, _arg(prev))
    if isinstance(op, Sleep):
        await durable.sleep(op.seconds)
        return None
    if isinstance(op, Instant):
        value = _INSTANTS[op.kind]()
        effects.record(effects.root(), "instant", op.label, repr(value))
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
    if isinstance(op, Race | Deadline | Mail | Rounds):
        return await _run_concurrent(op, dialect, prev)
    return await _chain(op, dialect, prev)


async def _run_concurrent(op: Race | Deadline | Mail | Rounds, dialect: str, prev: Any) -> Any:
    """The ops whose outcome depends on other work: racing, timing out, messaging."""
    if isinstance(op, Rounds):
        return await rounds.play(op)
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
        await effects.mailer(me, op.label, op.values)
    else:
        for value in op.values:
            await durable.send(me, op.label, value)
            effects.point()  # a crash point in workflow code, between sends
    received = []
    for _ in op.values:
        received.append(await durable.recv(op.label, timeout=LOSER_DELAY))
        effects.point()
    received.append(await durable.recv(op.label, timeout=DEADLINE))
    return received


async def _chain(chain: Chain, dialect: str, prev: Any) -> list[Any]:
    out = []
    for op in chain.ops:
        prev = await _run(op, dialect, prev)
        out.append(prev)
    return out


@durable.workflow(name="prop.interpret")
async def interpret(
    program: str,
    dialect: str = "sqlite",
    start: int = 0,
    done: list[Any] | None = None,
    prev: Any = None,
) -> list[Any]:
    """Run a JSON-encoded program (see the module docstring) from its top-level op `start`
    on, after the outputs `done` (a `Renew` continues as new with the rest)."""
    ops = decode(program).ops
    out = list(done or [])
    for index in range(start, len(ops)):
        if isinstance(ops[index], Renew):
            out.append("renewed")
            durable.continue_as_new(program, dialect, index + 1, out, prev)
        prev = await _run(ops[index], dialect, prev)
        out.append(prev)
    return out


@durable.workflow(name="prop.interpret_child")
async def interpret_child(program: str, dialect: str = "sqlite") -> list[Any]:
    """A sub-program run as a child workflow of the interpreter."""
    return await _chain(decode(program), dialect, None)


# -- the model -------------------------------------------------------------------------------


class ModelError(Exception):
    pass


@dataclass
class Expected:
    """What a crash-free run must do: its outcome, how often each body starts, and which
    bodies may start once or never (a blocked child's step, given up on)."""

    outcome: tuple[Any, ...]
    starts: dict[str, int]
    optional: set[str] = field(default_factory=set)


class _Model:
    """The crash-free semantics of the interpreter, without an engine."""

    def __init__(self) -> None:
        self.starts: dict[str, int] = {}
        self.optional: set[str] = set()

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
        if isinstance(op, Sleep | Renew):
            return None if isinstance(op, Sleep) else "renewed"
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
        if isinstance(op, Rounds):
            return rounds.expect(op, self.starts, self.optional)
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
    return Expected(outcome, model.starts, model.optional)


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
