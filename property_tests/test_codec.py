"""Codec round-trip: every supported value decodes to an equal value of the same type."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import math
import uuid
from typing import Any

import msgspec
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import durable
from durable.codec import Codec, unframe
from property_tests.conftest import scaled
from property_tests.stats import STATS


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Mixed(enum.Enum):
    """An enum whose values mix str and int: msgspec cannot decode it."""

    TEXT = "text"
    NUMBER = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 10


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    label: str
    when: datetime.date | None = None


class Order(msgspec.Struct, frozen=True):
    id: uuid.UUID
    amount: decimal.Decimal
    tags: list[str] = []
    color: Color = Color.RED


class NotData:
    """A plain class: neither a dataclass nor a Struct, so only pickling can carry it."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NotData) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


ints = st.integers(-(2**63), 2**64 - 1)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)  # no lone surrogates
floats = st.floats(allow_nan=False)
aware = st.datetimes(timezones=st.just(datetime.UTC))
decimals = st.decimals(allow_nan=False, allow_infinity=True, places=None)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    floats,
    text,
    st.binary(max_size=12),
    st.datetimes(),
    aware,
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.uuids(),
    decimals,
    st.sampled_from(Color),
    st.sampled_from(Level),
)
points = st.builds(Point, x=ints, label=text, when=st.none() | st.dates())
orders = st.builds(Order, id=st.uuids(), amount=decimals, tags=st.lists(text, max_size=3))


def _homogeneous(item: st.SearchStrategy[Any], hashable: bool) -> st.SearchStrategy[Any]:
    """Containers whose items all have one type, as the codec's type specs describe them."""
    options = [
        st.lists(item, max_size=4),
        st.lists(item, max_size=4).map(tuple),
        st.dictionaries(text, item, max_size=3),
    ]
    if hashable:
        options.append(st.frozensets(item, max_size=3).map(set))
    return st.one_of(*options)


def _same_type_values() -> st.SearchStrategy[Any]:
    leaf = st.one_of(scalars, points, orders)
    kinds = [
        (st.none(), True),
        (ints, True),
        (text, True),
        (st.dates(), True),
        (st.uuids(), True),
        (aware, True),
        (st.timedeltas(), True),
        (st.sampled_from(Color), True),
        (points, True),
        (orders, False),
    ]
    nested = st.one_of(*(_homogeneous(kind, hashable) for kind, hashable in kinds))
    tuples = st.tuples(leaf, nested, st.lists(st.lists(ints, max_size=2), max_size=2))
    return st.one_of(leaf, nested, tuples, st.lists(st.lists(st.dates(), min_size=1, max_size=2)))


def equal(a: Any, b: Any) -> bool:
    """Equality that also compares types all the way down (True == 1 is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(v, b[k]) for k, v in a.items())
    if isinstance(a, datetime.datetime | datetime.time):
        return a == b and a.utcoffset() == b.utcoffset()
    return bool(a == b)


@settings(max_examples=scaled(150))
@given(value=_same_type_values(), pickle=st.booleans())
def test_supported_values_round_trip(value: Any, pickle: bool) -> None:
    """For builtins (None, bool, 64-bit ints, finite floats, str without lone surrogates,
    bytes), datetime (naive and UTC), date, time, timedelta, UUID, Decimal, enums,
    dataclasses and msgspec Structs, and lists/tuples/dicts/sets of values of one type,
    nested: ``decode(encode(v))`` equals ``v`` with the same type at every level (and the
    same UTC offset for datetimes), with and without pickling allowed."""
    codec = Codec(pickle=pickle)
    encoded = codec.encode(value)
    if not pickle:
        assert not bytes(unframe(encoded)).startswith(b"P")
    decoded = codec.decode(encoded)
    STATS["codec_values"] += 1
    assert equal(decoded, value), f"{value!r} came back as {decoded!r}"


_mixed = st.one_of(
    st.tuples(ints, st.dates()).map(list),
    st.tuples(st.none(), st.uuids()).map(list),
    st.fixed_dictionaries({"count": ints, "when": aware}),
    st.tuples(st.tuples(ints), st.tuples(ints, ints)).map(list),
    st.tuples(st.just([]), st.lists(st.dates(), min_size=1, max_size=2)).map(list),
)


@settings(max_examples=scaled(20))
@given(value=_mixed)
def test_mixed_containers_of_supported_types_round_trip(value: Any) -> None:
    """A list or dict whose items are supported values of *different* types (``[1,
    date(...)]``, ``{"count": 1, "when": now}``, ``[(1,), (1, 2)]``, ``[[], [date(...)]]``)
    round-trips with
    ``pickle=False``: API.md lists these types as supported, with no homogeneity rule."""
    codec = Codec(pickle=False)
    note(repr(value))
    assert equal(codec.decode(codec.encode(value)), value)


@settings(max_examples=scaled(10))
@given(
    value=st.text(st.characters(categories=("Cs",)), min_size=1, max_size=3), pickle=st.booleans()
)
def test_unencodable_strings_raise_serialization_error(value: str, pickle: bool) -> None:
    """A str msgpack cannot hold (a lone surrogate) either round-trips through the pickle
    fallback or raises `durable.SerializationError`; never another exception type."""
    codec = Codec(pickle=pickle)
    try:
        decoded = codec.decode(codec.encode([value]))
    except durable.SerializationError:
        assert not pickle
    else:
        assert decoded == [value]


@settings(max_examples=scaled(5))
@given(value=st.sampled_from(Mixed), pickle=st.booleans())
def test_what_encodes_decodes(value: Mixed, pickle: bool) -> None:
    """Whatever `Codec.encode` accepts, `Codec.decode` gives back: an enum with mixed
    str/int values either round-trips or is refused at encode (`SerializationError`) or
    pickled, never journaled in a form that later reads as corrupt."""
    codec = Codec(pickle=pickle)
    try:
        encoded = codec.encode(value)
    except durable.SerializationError:
        return
    assert codec.decode(encoded) is value


unsupported = st.one_of(
    st.integers(min_value=2**64),
    st.integers(max_value=-(2**63) - 1),
    st.builds(NotData, st.integers()),
    st.binary(max_size=4).map(bytearray),
    st.just(object()),
    st.just(lambda: None),
)


@settings(max_examples=scaled(30))
@given(value=unsupported, wrap=st.sampled_from(["bare", "list", "dict", "tuple"]))
def test_unsupported_values_without_pickle_raise(value: Any, wrap: str) -> None:
    """With ``Codec(pickle=False)``, a value msgspec cannot carry (ints beyond 64 bits,
    plain classes, bytearray, functions, ``object()``), bare or nested in a list, dict or
    tuple, raises `durable.SerializationError`; with pickling allowed it round-trips
    (functions and bare objects excepted: they only have to encode)."""
    wrapped = {"bare": value, "list": [value], "dict": {"k": value}, "tuple": (value,)}[wrap]
    with pytest.raises(durable.SerializationError):
        Codec(pickle=False).encode(wrapped)
    codec = Codec(pickle=True)
    decoded = codec.decode(codec.encode(wrapped))
    STATS["codec_values"] += 1
    if isinstance(value, int | NotData | bytearray):
        assert decoded == wrapped
