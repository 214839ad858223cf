"""The storage layer: journals of runs, behind the `base.Journal` interface."""

from __future__ import annotations

from typing import Any

from durable import errors
from durable.journal import base

__all__ = ["open_journal"]


def open_journal(url: str, **options: Any) -> base.Journal:
    """The journal for a database URL (not yet opened): ``sqlite://`` or ``postgresql://``."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from durable.journal.sqlite import SqliteJournal

        return SqliteJournal(url, **options)
    if scheme in ("postgresql", "postgres"):
        try:
            from durable.journal import postgres
        except ImportError as exc:
            raise errors.JournalError(f"the Postgres journal could not be loaded: {exc}") from exc
        journal: base.Journal = postgres.PostgresJournal(url, **options)
        return journal
    raise errors.JournalError(
        f"unsupported database URL {url!r}: use sqlite:///file.db, sqlite://:memory: or "
        "postgresql://user@host/db"
    )
