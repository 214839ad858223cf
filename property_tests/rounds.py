"""Loops of races and timeouts that mix every primitive as winner and loser.

A `Rounds` op is a loop of `times` iterations over a list of *moves*; its messages go to
the current run on topics ``<label>.a``, ``.b``, ``.c`` (its own, so nothing outside the
loop takes them).  A move is

- ``Post(at, topics, count, from_child)``: in the iterations listed in `at`, send
  `count` messages on each topic to the run itself (or have a child workflow send them);
  each value is unique (``"a:p3@1.0"``: topic, label, iteration, index);
- ``Duel(entrants, stop)``: `durable.race` of the entrants; its value is ``[index of the
  winner, its value]``; with `stop`, a recv winning ends the loop (``while True: ...; if
  await race(sleep, recv("stop")) ...: break``);
- an entrant on its own (a recv then has a `DEADLINE` timeout; a timeout whose body
  cannot finish fires).

Entrants are every primitive: ``Work`` (a step), ``Nap`` (`durable.sleep`), ``Take``
(`durable.recv` of one topic), ``Takes`` (a recv of several topics: a race of one recv per
topic), ``Kid`` (a child workflow), ``Flag`` (`durable.set_event`) and ``Limit``
(`durable.timeout` around another entrant).  After the loop, every topic is drained
(`durable.recv` with a `DEADLINE` timeout until it gives None), so a message lost or
received twice changes the output.

**Who wins.**  The output can only be compared between runs if each race's winner is
certain, so a program arranges its races as a person would who knows what they sent
themselves: a `Mailbox` (workflow state, rebuilt identically on replay) says which topics
hold messages, and `winner` picks the first entrant that is certain to finish first: a
recv whose topic holds a message, else the first *eager* flexible entrant (a step, sleep,
child, event or timeout), else the first flexible one.  The flexible entrants then play
their part: the winner is quick (a step or child with no delay, a 0 s sleep, a timeout
that fires after `DEADLINE` around a body that cannot finish), every other one is
blocked (a `LONG` step, sleep or child, a child waiting for a message never sent, an
event followed by a `LONG` sleep).  A recv on an empty topic is blocked too.  Several
recvs holding messages may race (a recv of several topics, or recvs listed after a
winning recv): recvs take messages one at a time, in the order they are listed, so the
first one wins and the others must take nothing (`durable.race` guarantees that a losing
recv consumes nothing).  Hence each race has a flexible entrant (it may have to win) and
no recv after a recv of several topics (whose recvs start a loop iteration later).  An
event that loses goes on to its sleep only if its result is delivered before the race is
decided: so a race has at most one event, listed first, and every other entrant's result
comes after it.

Step bodies are labelled ``<label>@<iteration>``; crash points are the step bodies' and
one in workflow code after every move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
from hypothesis import strategies as st

import durable
from property_tests import effects

LONG = 5.0  # how long a blocked entrant would take (it is always given up on first)
DEADLINE = 0.02  # a timeout that must fire, and the drain's recv timeout
TOPICS = ("a", "b", "c")
TIMED_OUT = "timed out"

# -- entrants --------------------------------------------------------------------------------


class Work(msgspec.Struct, tag="work", frozen=True):
    """A step returning its label: at once when it wins, else after `LONG` s."""

    label: str = ""
    eager: bool = True


class Nap(msgspec.Struct, tag="nap", frozen=True):
    """`durable.sleep`: 0 s when it wins, else `LONG`."""

    eager: bool = True


class Take(msgspec.Struct, tag="take", frozen=True):
    """`durable.recv` of one topic: it wins when the topic holds a message."""

    topic: str = "a"


class Takes(msgspec.Struct, tag="takes", frozen=True):
    """A recv of several topics, ``durable.race(recv(t1), recv(t2), ...)``: the first
    topic holding a message gives its first message."""

    topics: list[str]


class Kid(msgspec.Struct, tag="kid", frozen=True):
    """A child workflow: one quick step when it wins, else blocked in a `LONG` step, a
    `LONG` sleep or a recv of a message never sent (`how`)."""

    label: str = ""
    eager: bool = True
    how: str = "sleep"  # "step", "sleep" or "recv"


class Flag(msgspec.Struct, tag="flag", frozen=True):
    """``durable.set_event(label, iteration)``; when it loses, a `LONG` sleep follows."""

    label: str = ""
    eager: bool = True


class Limit(msgspec.Struct, tag="limit", frozen=True):
    """``async with durable.timeout(...)`` around `body`.  Around a recv: it fires (on its
    own) when the topic is empty, else the recv wins.  Around a flexible entrant: when it
    wins, it `fires` (`DEADLINE`, the body blocked) or the body wins (`LONG` timeout);
    when it loses, the body is blocked and the timeout `LONG`."""

    body: Entrant
    fires: bool = False


Entrant = Work | Nap | Take | Takes | Kid | Flag | Limit

# -- moves and the loop ------------------------------------------------------------------------


class Post(msgspec.Struct, tag="post", frozen=True):
    """`count` messages on each of `topics` to this run, in each iteration in `at`."""

    at: list[int]
    topics: list[str] = msgspec.field(default_factory=lambda: ["a"])
    count: int = 1
    from_child: bool = False
    label: str = ""


class Duel(msgspec.Struct, tag="duel", frozen=True):
    """`durable.race` of the entrants; with `stop`, a recv winning ends the loop."""

    entrants: list[Entrant]
    stop: bool = False


Move = Work | Nap | Take | Takes | Kid | Flag | Limit | Post | Duel


class Rounds(msgspec.Struct, tag="rounds", frozen=True):
    """`times` iterations of `moves`, then every topic drained (see the module docstring)."""

    moves: list[Move]
    times: int = 1
    label: str = ""


# -- reading a program ---------------------------------------------------------------------------


def describe(op: Rounds) -> str:
    return f"rounds {op.label} x{op.times} [" + "; ".join(_show(m) for m in op.moves) + "]"


def _show(move: Move) -> str:
    eager = "" if getattr(move, "eager", True) else " blocked"
    if isinstance(move, Work):
        return f"step {move.label}{eager}"
    if isinstance(move, Nap):
        return f"sleep{eager}"
    if isinstance(move, Take):
        return f"recv {move.topic}"
    if isinstance(move, Takes):
        return "recv " + "|".join(move.topics)
    if isinstance(move, Kid):
        return f"child {move.label}" + ("" if move.eager else f" blocked in {move.how}")
    if isinstance(move, Flag):
        return f"set_event {move.label}{eager}"
    if isinstance(move, Limit):
        return ("firing " if move.fires else "") + f"timeout({_show(move.body)})"
    if isinstance(move, Post):
        sender = " from a child" if move.from_child else ""
        return f"send {move.count} to {'+'.join(move.topics)} at {move.at}{sender}"
    return "race[" + " | ".join(_show(e) for e in move.entrants) + "]" + " stop" * move.stop


def _topics(op: Rounds) -> list[str]:
    """The topics a loop uses, sorted."""
    found: set[str] = set()

    def walk(move: Move) -> None:
        if isinstance(move, Take):
            found.add(move.topic)
        elif isinstance(move, Takes | Post):
            found.update(move.topics)
        elif isinstance(move, Limit):
            walk(move.body)
        elif isinstance(move, Duel):
            for entrant in move.entrants:
                walk(entrant)

    for move in op.moves:
        walk(move)
    return sorted(found)


def bodies(op: Rounds) -> list[str]:
    """The labels of the step bodies the loop may run (one per iteration)."""
    labels: list[str] = []

    def walk(move: Move) -> None:
        if isinstance(move, Work | Kid):
            labels.extend(f"{move.label}@{i}" for i in range(op.times))
        elif isinstance(move, Limit):
            walk(move.body)
        elif isinstance(move, Duel):
            for entrant in move.entrants:
                walk(entrant)

    for move in op.moves:
        walk(move)
    return labels


def relabel(op: Rounds, fresh: Any) -> Rounds:
    """Give the loop and its steps, children, events and posts unique labels:
    ``fresh(prefix)`` returns the next label with that prefix."""

    def walk(move: Any) -> Any:
        if isinstance(move, Work | Kid | Flag | Post):
            prefix = {Work: "w", Kid: "k", Flag: "f", Post: "p"}[type(move)]
            return msgspec.structs.replace(move, label=fresh(prefix))
        if isinstance(move, Limit):
            return Limit(body=walk(move.body), fires=move.fires)
        if isinstance(move, Duel):
            return Duel(entrants=[walk(e) for e in move.entrants], stop=move.stop)
        return move

    label = fresh("r")
    return Rounds(moves=[walk(m) for m in op.moves], times=op.times, label=label)


# -- who wins --------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """The messages a loop has sent itself and not received yet, by topic."""

    queued: dict[str, list[str]] = field(default_factory=lambda: {t: [] for t in TOPICS})

    def ready(self, entrant: Entrant) -> bool | None:
        """Whether a recv entrant holds a message to take (None: not a recv)."""
        if isinstance(entrant, Take):
            return bool(self.queued[entrant.topic])
        if isinstance(entrant, Takes):
            return any(self.queued[t] for t in entrant.topics)
        if isinstance(entrant, Limit):
            return self.ready(entrant.body)
        return None

    def first(self, entrant: Take | Takes) -> str:
        """The topic a ready recv entrant takes from."""
        topics = [entrant.topic] if isinstance(entrant, Take) else entrant.topics
        return next(t for t in topics if self.queued[t])

    def took(self, value: Any) -> None:
        """A recv gave `value`: it is no longer queued."""
        if isinstance(value, str) and ":" in value:
            queue = self.queued.get(value.split(":", 1)[0], [])
            if value in queue:
                queue.remove(value)


def _eager(entrant: Entrant) -> bool:
    if isinstance(entrant, Limit):
        return entrant.fires or _eager(entrant.body)
    return bool(getattr(entrant, "eager", False))


def winner(entrants: list[Entrant], box: Mailbox) -> int:
    """The entrant certain to finish first (see the module docstring)."""
    ready = [box.ready(e) for e in entrants]
    if True in ready:
        return ready.index(True)
    flexible = [i for i, r in enumerate(ready) if r is None]
    return next((i for i in flexible if _eager(entrants[i])), flexible[0])


def _limit_plan(limit: Limit, wins: bool, box: Mailbox, alone: bool) -> tuple[float, bool]:
    """A timeout entrant's seconds, and whether its body plays to win."""
    ready = box.ready(limit.body)
    if ready is not None:  # around a recv: it finishes iff the topic holds a message
        return (LONG if ready or not alone else DEADLINE), bool(ready)
    if wins and limit.fires:
        return DEADLINE, False
    return LONG, wins


# -- the interpreter -----------------------------------------------------------------------------


@durable.workflow(name="prop.rounds.kid")
async def kid(label: str, how: str) -> str:
    """A child entrant: ``how`` is "win" (one quick step) or how it is blocked."""
    if how in ("win", "step"):
        return await effects.STEPS[1](label, 0, False, 0.0 if how == "win" else LONG, None)
    if how == "sleep":
        await durable.sleep(LONG)
    else:
        await durable.recv("never")
    return label


@dataclass
class _Turn:
    """One iteration of a loop, as the interpreter and the model see it."""

    scope: str
    i: int
    box: Mailbox

    def tag(self, label: str) -> str:
        return f"{label}@{self.i}"

    def topic(self, topic: str) -> str:
        return f"{self.scope}.{topic}"


async def _enter(entrant: Entrant, wins: bool, turn: _Turn, alone: bool = False) -> Any:
    """Run one entrant, quick if it `wins`, else blocked (a recv: as its topic says)."""
    if isinstance(entrant, Work):
        delay = 0.0 if wins else LONG
        return await effects.STEPS[1](turn.tag(entrant.label), 0, False, delay, None)
    if isinstance(entrant, Nap):
        await durable.sleep(0.0 if wins else LONG)
        return None
    if isinstance(entrant, Take):
        if alone:
            return await durable.recv(turn.topic(entrant.topic), timeout=DEADLINE)
        return await durable.recv(turn.topic(entrant.topic))
    if isinstance(entrant, Takes):
        return await durable.race(*(durable.recv(turn.topic(t)) for t in entrant.topics))
    if isinstance(entrant, Kid):
        return await kid(turn.tag(entrant.label), "win" if wins else entrant.how)
    if isinstance(entrant, Flag):
        await durable.set_event(entrant.label, turn.i)
        if not wins:
            await durable.sleep(LONG)
        return None
    seconds, body_wins = _limit_plan(entrant, wins, turn.box, alone)
    try:
        async with durable.timeout(seconds):
            return await _enter(entrant.body, body_wins, turn)
    except TimeoutError:
        return TIMED_OUT


def _letters(post: Post, turn: _Turn) -> list[tuple[str, list[str]]]:
    """The messages a post sends in this iteration, by topic (each value names its topic,
    the post and the iteration)."""
    tag = turn.tag(post.label)
    return [(t, [f"{t}:{tag}.{k}" for k in range(post.count)]) for t in post.topics]


def _alone(entrant: Entrant) -> Entrant:
    """An entrant played on its own: a recv of several topics gets a timeout (a recv of
    one topic gets `DEADLINE` as its own)."""
    return Limit(body=entrant) if isinstance(entrant, Takes) else entrant


async def _entry(index: int, entrant: Entrant, wins: bool, turn: _Turn) -> list[Any]:
    return [index, await _enter(entrant, wins, turn)]


async def _move(move: Move, turn: _Turn) -> tuple[Any, bool]:
    """Play one move; returns its value and whether it ends the loop."""
    if isinstance(move, Post):
        if turn.i not in move.at:
            return None, False
        me, sent = durable.context().workflow_id, []
        for topic, values in _letters(move, turn):
            if move.from_child:
                await effects.mailer(me, turn.topic(topic), values)
            else:
                for value in values:
                    await durable.send(me, turn.topic(topic), value)
            turn.box.queued[topic].extend(values)
            sent.extend(values)
        return sent, False
    if isinstance(move, Duel):
        best = winner(move.entrants, turn.box)
        index, value = await durable.race(
            *(_entry(i, e, i == best, turn) for i, e in enumerate(move.entrants))
        )
        turn.box.took(value)
        return [index, value], move.stop and turn.box.ready(move.entrants[index]) is not None
    value = await _enter(_alone(move), True, turn, alone=True)
    turn.box.took(value)
    return value, False


async def play(op: Rounds) -> list[Any]:
    """Run the loop in workflow code: ``[rows of move values, drained topics]``."""
    box = Mailbox()
    rows = []
    for i in range(op.times):
        turn, row, stop = _Turn(op.label, i, box), [], False
        for move in op.moves:
            value, stop = await _move(move, turn)
            row.append(value)
            effects.point()  # a crash point in workflow code, between moves
            if stop:
                break
        rows.append(row)
        if stop:
            break
    drained = []
    for topic in _topics(op):
        got = [topic]
        while got[-1] is not None:
            got.append(await durable.recv(f"{op.label}.{topic}", timeout=DEADLINE))
        drained.append(got)
    return [rows, drained]


# -- the model -----------------------------------------------------------------------------------


@dataclass
class _Model:
    """What a crash-free run of a loop returns, and which step bodies start."""

    starts: dict[str, int]
    optional: set[str]  # bodies that start once or never (a blocked child's step)

    def enter(self, entrant: Entrant, wins: bool, turn: _Turn, alone: bool = False) -> Any:
        if not wins:
            self.lose(entrant, turn)
            return None
        if isinstance(entrant, Work | Kid):
            self.starts[turn.tag(entrant.label)] = 1
            return turn.tag(entrant.label)
        if isinstance(entrant, Take | Takes):
            if not turn.box.ready(entrant):
                return None
            return turn.box.queued[turn.box.first(entrant)].pop(0)
        if isinstance(entrant, Limit):
            seconds, body_wins = _limit_plan(entrant, wins, turn.box, alone)
            if seconds == DEADLINE:
                self.lose(entrant.body, turn)
                return TIMED_OUT
            return self.enter(entrant.body, body_wins, turn)
        return None  # a sleep or an event

    def lose(self, entrant: Entrant, turn: _Turn) -> None:
        """A blocked entrant, given up on: a step's body started (a child's may not have)."""
        if isinstance(entrant, Work):
            self.starts[turn.tag(entrant.label)] = 1
        elif isinstance(entrant, Kid) and entrant.how == "step":
            self.optional.add(turn.tag(entrant.label))
        elif isinstance(entrant, Limit) and turn.box.ready(entrant.body) is None:
            self.lose(entrant.body, turn)

    def move(self, move: Move, turn: _Turn) -> tuple[Any, bool]:
        if isinstance(move, Post):
            if turn.i not in move.at:
                return None, False
            sent = []
            for topic, values in _letters(move, turn):
                turn.box.queued[topic].extend(values)
                sent.extend(values)
            return sent, False
        if isinstance(move, Duel):
            best = winner(move.entrants, turn.box)
            for i, entrant in enumerate(move.entrants):
                if i != best:
                    self.lose(entrant, turn)
            value = self.enter(move.entrants[best], True, turn)
            return [best, value], move.stop and turn.box.ready(move.entrants[best]) is not None
        return self.enter(_alone(move), True, turn, alone=True), False


def expect(op: Rounds, starts: dict[str, int], optional: set[str]) -> list[Any]:
    """The value `play` returns in a crash-free run; fills in the bodies' starts."""
    model, box, rows = _Model(starts, optional), Mailbox(), []
    for i in range(op.times):
        turn, row, stop = _Turn(op.label, i, box), [], False
        for move in op.moves:
            value, stop = model.move(move, turn)
            row.append(value)
            if stop:
                break
        rows.append(row)
        if stop:
            break
    return [rows, [[t, *box.queued[t], None] for t in _topics(op)]]


# -- strategies ------------------------------------------------------------------------------------
# `st.one_of` draws each of its (flattened) branches equally often: a strategy listed
# twice is drawn twice as often, and `_whole` keeps a one_of one branch.

_topic = st.sampled_from(TOPICS)
_work = st.builds(Work, eager=st.booleans())
_nap = st.builds(Nap, eager=st.booleans())
_kid = st.builds(Kid, eager=st.booleans(), how=st.sampled_from(["step", "sleep", "recv"]))
_flag = st.builds(Flag, eager=st.booleans())
_take = st.builds(Take, topic=_topic)
_takes = st.lists(_topic, min_size=2, max_size=3, unique=True).map(lambda ts: Takes(topics=ts))
_limit = st.builds(
    Limit, body=st.one_of(_work, _nap, _kid, _flag, _take, _takes), fires=st.booleans()
)
# recvs and sleeps weigh double: the races the loser rule is about
_entrant: st.SearchStrategy[Entrant] = st.one_of(
    _work, _nap, _nap, _kid, _flag, _take, _take, _takes, _takes, _limit
)


def _whole(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(lambda value: value, strategy)


def _fair(entrants: list[Entrant]) -> list[Entrant]:
    """Give a race a flexible entrant, its recvs of several topics the last places among
    its recvs, and at most one event, in the first place (see the module docstring)."""
    box = Mailbox({t: ["x"] for t in TOPICS})  # every recv counts as one

    def inner(e: Entrant) -> Entrant:
        return e.body if isinstance(e, Limit) else e

    def several(e: Entrant) -> bool:
        return isinstance(inner(e), Takes)

    flags = [e for e in entrants if isinstance(inner(e), Flag)]
    entrants = flags[:1] + [e for e in entrants if not isinstance(inner(e), Flag)]

    slots = [i for i, e in enumerate(entrants) if box.ready(e) is not None]
    recvs = sorted((entrants[i] for i in slots), key=several)
    arranged = list(entrants)
    for slot, entrant in zip(slots, recvs, strict=True):
        arranged[slot] = entrant
    if len(slots) == len(arranged):
        arranged.append(Nap(eager=False))
    return arranged


def _post(times: int) -> st.SearchStrategy[Move]:
    return st.builds(
        Post,
        at=st.lists(st.integers(0, times - 1), min_size=1, max_size=times, unique=True).map(sorted),
        topics=st.lists(_topic, min_size=1, max_size=2, unique=True),
        count=st.integers(1, 2),
        from_child=st.booleans(),
    )


_duel: st.SearchStrategy[Move] = st.builds(
    Duel, entrants=st.lists(_entrant, min_size=2, max_size=3).map(_fair), stop=st.booleans()
)


@st.composite
def rounds(draw: st.DrawFn, max_moves: int = 4) -> Rounds:
    """A loop of 1-3 iterations of 1-`max_moves` moves (half of them races, a third
    sends), unlabelled (see `relabel`)."""
    times = draw(st.integers(1, 3))
    post = _post(times)
    move = st.one_of(_duel, _duel, _duel, post, post, _whole(_entrant))
    moves = draw(st.lists(move, min_size=1, max_size=max_moves))
    return Rounds(moves=moves, times=times)
