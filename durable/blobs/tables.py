"""Tables as Parquet: pyarrow Tables, pandas DataFrames and polars DataFrames.

A table is recognised by its type's module and name, so nothing is imported for values
that are not tables.  Writing streams: a DataFrame is converted to Arrow one slice of
about `SLICE_BYTES` at a time and each slice is written as a row group before the next
is made, so a 1 GB DataFrame needs about one slice of extra memory, not a second 1 GB
copy.  Reading gives back the same type: an Arrow table, a pandas DataFrame (with its
index, columns and dtypes as pyarrow's pandas metadata keeps them) or a polars one.
"""

from __future__ import annotations

import importlib
from typing import Any

from durable import errors

__all__ = ["SLICE_BYTES", "estimate", "kind_of", "read", "write"]

SLICE_BYTES = 4 * 1024 * 1024
_KINDS = {("pyarrow", "Table"): "arrow", ("pandas", "DataFrame"): "pandas"}
_KINDS[("polars", "DataFrame")] = "polars"


def kind_of(value: Any) -> str | None:
    """``"arrow"``, ``"pandas"`` or ``"polars"`` for a table, None for anything else."""
    kind = type(value)
    return _KINDS.get((kind.__module__.split(".", 1)[0], kind.__name__))


def estimate(value: Any, kind: str) -> int:
    """The table's size in memory, in bytes (cheap: no deep scan of every string)."""
    if kind == "arrow":
        return int(value.nbytes)
    if kind == "polars":
        return int(value.estimated_size())
    return _pandas_row_bytes(value) * len(value)


def _pandas_row_bytes(frame: Any) -> int:
    sample = frame.iloc[:1000]
    rows = max(1, len(sample))
    return max(1, int(sample.memory_usage(index=True, deep=True).sum()) // rows)


def _pyarrow() -> tuple[Any, Any]:
    try:
        return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.parquet")
    except ImportError as exc:
        raise errors.SerializationError(
            "a table is kept in the blob store as Parquet, which needs pyarrow: "
            "pip install 'durable[blobs]'"
        ) from exc


def write(value: Any, kind: str, file: Any) -> None:
    """Write the table `value` to the binary `file` as Parquet, one slice at a time."""
    pa, pq = _pyarrow()
    if kind == "polars":
        value, kind = value.to_arrow(), "arrow"  # zero-copy for most column types
    if kind == "arrow":
        rows = max(1, SLICE_BYTES * max(1, value.num_rows) // max(1, value.nbytes))
        with pq.ParquetWriter(file, value.schema, **_options(pa, value.schema)) as writer:
            for start in range(0, max(1, value.num_rows), rows):
                writer.write_table(value.slice(start, rows))  # slices share the buffers
        return
    _write_pandas(pa, pq, value, file)


def _write_pandas(pa: Any, pq: Any, frame: Any, file: Any) -> None:
    rows = max(1, SLICE_BYTES // _pandas_row_bytes(frame))
    keep_index = not _default_index(frame)
    first = pa.Table.from_pandas(frame.iloc[:rows], preserve_index=keep_index)
    schema = first.schema
    with pq.ParquetWriter(file, schema, **_options(pa, schema)) as writer:
        writer.write_table(first)
        del first
        for start in range(rows, len(frame), rows):
            part = pa.Table.from_pandas(
                frame.iloc[start : start + rows], schema=schema, preserve_index=keep_index
            )
            writer.write_table(part)
            del part  # freed before the next slice is converted


def _options(pa: Any, schema: Any) -> dict[str, Any]:
    """Dictionary encoding only where it pays: strings, binaries, categoricals.  On numbers
    (random floats most of all) each small row group tries a dictionary and gives it up,
    which made writing 4 MB slices 5 times slower than one `write_table`."""
    types = pa.types
    wanted = [
        field.name
        for field in schema
        if not (types.is_floating(field.type) or types.is_integer(field.type))
        and not types.is_temporal(field.type)
    ]
    return {"use_dictionary": wanted}


def _default_index(frame: Any) -> bool:
    """Whether the index is the plain 0..n-1 one, which need not be written."""
    pandas = importlib.import_module("pandas")
    index = frame.index
    return (
        isinstance(index, pandas.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )


def read(file: Any, kind: str | None) -> Any:
    """Read a Parquet file (a binary file, or a local path) written by `write` back as a
    table of `kind`."""
    _pa, pq = _pyarrow()
    table = pq.read_table(file, memory_map=isinstance(file, str))
    if kind == "pandas":
        # self_destruct frees each Arrow column once converted: no second full copy
        return table.to_pandas(self_destruct=True, split_blocks=True)
    if kind == "polars":
        return importlib.import_module("polars").from_arrow(table)
    return table
