"""Reading the records of one stored object, a chunk at a time (`durable.sources.Objects`).

Parquet is read one row group at a time (``pyarrow.parquet.ParquetFile`` on the
fsspec file, which fetches the footer and then only that row group's byte ranges),
CSV and JSON lines one line at a time: no reader holds the whole object in memory.
Rows are numbered from 0 across the object, so a reader resumes at a row.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
from collections.abc import Generator, Iterator
from typing import Any

__all__ = ["FORMATS", "RowReader", "format_of"]

FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def format_of(path: str) -> str | None:
    """The record format of an object, by its name's ending (None: not one)."""
    for ending, name in FORMATS.items():
        if path.lower().endswith(ending):
            return name
    return None


class RowReader:
    """The rows of one object from row `start` on; call from a thread (it blocks)."""

    def __init__(self, fs: Any, path: str, fmt: str, start: int) -> None:
        self._file = fs.open(path, "rb")
        # a text wrapper, when there is one, is what must be closed (it closes the file)
        self._text = None if fmt == "parquet" else io.TextIOWrapper(self._file, "utf-8", newline="")
        self._rows = _rows(self._text or self._file, fmt, start)
        self.next_row = start
        self._peeked: list[tuple[int, dict[str, Any]]] = []

    def take(self, limit: int) -> tuple[list[tuple[int, dict[str, Any]]], bool]:
        """Up to `limit` ``(row number, row)`` pairs, and whether the object is finished."""
        taken = self._peeked[:limit]
        self._peeked = self._peeked[limit:]
        for row in self._rows:
            if len(taken) >= limit:
                self._peeked.append(row)
                break
            taken.append(row)
        finished = not self._peeked
        if taken:
            self.next_row = taken[-1][0] + 1
        return taken, finished

    def close(self) -> None:
        self._rows.close()
        (self._text or self._file).close()


def _rows(file: Any, fmt: str, start: int) -> Generator[tuple[int, dict[str, Any]]]:
    if fmt == "parquet":
        yield from _parquet_rows(file, start)
        return
    if fmt == "csv":
        lines: Iterator[dict[str, Any]] = csv.DictReader(file)
    else:
        lines = (json.loads(line) for line in file if line.strip())
    for number, row in enumerate(lines):
        if number >= start:
            yield number, dict(row)


def _parquet_rows(file: Any, start: int) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        pq = importlib.import_module("pyarrow.parquet")
    except ImportError as exc:  # pragma: no cover - pyarrow is in the sources extra
        raise RuntimeError("Parquet objects need pyarrow: pip install 'durable[sources]'") from exc
    parquet = pq.ParquetFile(file)
    first = 0
    for group in range(parquet.num_row_groups):
        count = parquet.metadata.row_group(group).num_rows
        if first + count > start:  # row groups wholly before `start` are not read
            for offset, row in enumerate(parquet.read_row_group(group).to_pylist()):
                if first + offset >= start:
                    yield first + offset, row
        first += count
