"""Loads a backend's named SQL blocks (``-- name: NAME``) from its ``queries.sql``."""

from __future__ import annotations

import re
from importlib import resources

__all__ = ["load_migrations", "load_queries", "load_schema"]

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def _read(dialect: str, filename: str) -> str:
    return resources.files("durable.journal").joinpath("sql", dialect, filename).read_text()


def load_queries(dialect: str) -> dict[str, str]:
    """Every named query of one dialect, by name."""
    text = _read(dialect, "queries.sql")
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for index in range(1, len(parts), 2):
        name, body = parts[index], parts[index + 1].strip()
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice in sql/{dialect}/queries.sql")
        queries[name] = body
    return queries


def load_schema(dialect: str) -> str:
    """The fresh schema of one dialect."""
    return _read(dialect, "schema.sql")


def load_migrations(dialect: str) -> list[tuple[int, str]]:
    """The numbered migrations of one dialect, in order: ``[(version, sql), ...]``."""
    folder = resources.files("durable.journal").joinpath("sql", dialect, "migrations")
    found = []
    for item in folder.iterdir():
        if item.name.endswith(".sql"):
            found.append((int(item.name.split("_", 1)[0]), item.read_text()))
    return sorted(found)
