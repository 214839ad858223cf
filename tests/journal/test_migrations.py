"""All migrations applied in order build exactly the fresh schema, per backend
(procrastinate's ``tests/migration``): compared through the database's catalog."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
from psycopg import sql

from durable.journal import base, open_journal, queries


def test_migrations_are_numbered_from_one_to_the_schema_version() -> None:
    for dialect in ("sqlite", "postgres"):
        numbers = [number for number, _ in queries.load_migrations(dialect)]
        assert numbers == list(range(1, base.SCHEMA_VERSION + 1)), dialect


def _sqlite_catalog(conn: sqlite3.Connection) -> dict[str, Any]:
    catalog: dict[str, Any] = {}
    names = conn.execute(
        "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ).fetchall()
    for kind, name, table in names:
        if kind == "table":
            catalog[name] = (
                conn.execute(f"PRAGMA table_xinfo({name})").fetchall(),
                conn.execute(f"PRAGMA index_list({name})").fetchall(),
            )
        elif kind == "index":
            catalog[name] = (table, conn.execute(f"PRAGMA index_xinfo({name})").fetchall())
    return catalog


def _sqlite_script(conn: sqlite3.Connection, script: str) -> None:
    conn.executescript(script)


def test_sqlite_migrations_build_the_schema() -> None:
    fresh, migrated = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    _sqlite_script(fresh, queries.load_schema("sqlite"))
    for _, script in queries.load_migrations("sqlite"):
        _sqlite_script(migrated, script)
    assert _sqlite_catalog(migrated) == _sqlite_catalog(fresh)
    assert _sqlite_catalog(fresh)  # not vacuously equal


_PG_CATALOG = {
    "columns": """
        SELECT table_name, column_name, ordinal_position, data_type, is_nullable,
               column_default, is_identity
        FROM information_schema.columns WHERE table_schema = %(schema)s
        ORDER BY table_name, ordinal_position""",
    "indexes": """
        SELECT tablename, indexname, replace(indexdef, %(schema)s, 'S')
        FROM pg_indexes WHERE schemaname = %(schema)s ORDER BY indexname""",
    "constraints": """
        SELECT c.conrelid::regclass::text, c.contype, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = %(schema)s ORDER BY 2, 3""",
}


def _pg_catalog(conn: psycopg.Connection[Any], schema: str) -> dict[str, Any]:
    result = {}
    for name, query in _PG_CATALOG.items():
        rows = conn.execute(query, {"schema": schema}).fetchall()
        result[name] = [
            tuple(str(v).replace(schema, "S") if v is not None else None for v in row)
            for row in rows
        ]
    return result


def _pg_script(conn: psycopg.Connection[Any], schema: str, script: str) -> None:
    quoted = sql.Identifier(schema).as_string(conn)
    conn.execute(script.replace("{schema}", quoted).encode())


def test_postgres_migrations_build_the_schema(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for schema in ("fresh", "migrated"):
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        _pg_script(conn, "fresh", queries.load_schema("postgres"))
        for _, script in queries.load_migrations("postgres"):
            _pg_script(conn, "migrated", script)
        fresh, migrated = _pg_catalog(conn, "fresh"), _pg_catalog(conn, "migrated")
    assert fresh["columns"] and fresh["indexes"] and fresh["constraints"]
    assert migrated == fresh


async def test_reopening_a_current_journal_changes_nothing(db_url: str, backend: str) -> None:
    journal = open_journal(db_url)
    await journal.open()
    await journal.close()
    reopened = open_journal(db_url)
    await reopened.open()  # a second open of a current schema changes nothing
    await reopened.close()
    if backend == "postgres":
        with psycopg.connect(db_url) as conn:
            versions = conn.execute("SELECT version FROM durable.schema_version").fetchall()
    else:
        path = db_url.split("///", 1)[1]
        with sqlite3.connect(path) as conn:
            versions = conn.execute("SELECT version FROM durable_schema").fetchall()
    assert versions == [(base.SCHEMA_VERSION,)]
