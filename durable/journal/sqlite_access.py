"""What the file system lets the SQLite journal do with its file: connecting read-write,
or read-only for an engine that only inspects.

A journal that cannot be written is found at open, not at the first write: a read-only
file system (a read-only mount, or one the kernel remounted read-only after an I/O
error: ``EROFS``), or a file or folder this user may not write.  WAL mode needs to create
``-wal`` and ``-shm`` files beside the database, so a read-only folder is as bad as a
read-only file.  An engine that starts or executes runs refuses such a journal with a
`JournalError` saying so; an inspecting one (the CLI's ``list``, ``show``, ``history``,
``replay``, ``export``) opens it read-only.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse

from durable import errors
from durable.journal import base, queries

__all__ = ["check_schema", "connect", "read_only_reason"]

_Q = queries.load_queries("sqlite")


def read_only_reason(path: str) -> str:
    """Why the journal at `path` cannot be written, in words (`` (folder ... is on a
    read-only file system)``), or "" when it can (or the folder is missing: `connect`
    says that)."""
    if path.startswith("file:"):
        return ""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f" (folder {folder!r} is on a read-only file system)"
    except FileNotFoundError:
        return ""
    except OSError:
        return f" (folder {folder!r} cannot be read)"
    if not os.access(folder, os.W_OK):
        return f" (folder {folder!r} is read-only for this user)"
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return f" (file {path!r} is read-only for this user)"
    return ""


def connect(path: str, *, durability: str, read_only: bool, url: str) -> sqlite3.Connection:
    """A connection to the journal file, set up for durable (see `SqliteJournal`)."""
    uri = path.startswith("file:")
    if not uri:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise errors.JournalError(
                f"cannot open SQLite journal {url!r}: folder {folder!r} does not "
                "exist; create it or point DURABLE_DATABASE_URL elsewhere"
            )
    if read_only:
        return _connect_read_only(path, url)
    # Opening may wait (briefly) for a lock: another process recovering the WAL index,
    # or closing as the last connection (`open` also retries what the busy handler does
    # not cover).  After that, writes never block the loop on the busy handler: the
    # writer (`sqlite_writer`) retries them later instead.
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=5.0, uri=uri
    )
    try:
        if not uri:
            conn.execute("PRAGMA journal_mode=WAL")
        sync = "FULL" if durability == "full" else "NORMAL"
        conn.execute(f"PRAGMA synchronous={sync}")
        conn.execute("PRAGMA busy_timeout=0")
    except BaseException:
        conn.close()
        raise
    return conn


def _connect_read_only(path: str, url: str) -> sqlite3.Connection:
    if not os.path.exists(path):
        raise errors.JournalError(
            f"SQLite journal {url!r} does not exist, and its folder is read-only, so it "
            "cannot be created; check the path"
        )
    target = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    folder = os.path.dirname(os.path.abspath(path))
    if os.statvfs(folder).f_flag & os.ST_RDONLY and not os.path.exists(path + "-wal"):
        # Nothing can write a read-only file system, and SQLite cannot create the WAL
        # index (-shm) there: read the file as immutable.  (A writer through another,
        # writable mount of the same files would not be seen consistently.)  With a -wal
        # file left beside it, SQLite reads that too, without writing.
        target += "&immutable=1"
    conn = sqlite3.connect(
        target, isolation_level=None, check_same_thread=False, timeout=5.0, uri=True
    )
    try:
        conn.execute("PRAGMA busy_timeout=5000")
    except BaseException:
        conn.close()
        raise
    return conn


def check_schema(conn: sqlite3.Connection, url: str) -> None:
    """Refuse, with a `JournalError` saying what to do, a read-only journal whose schema
    this durable cannot read as it is (none, older, newer): migrating would write."""
    where = f"SQLite journal {url!r} (opened read-only)"
    if not conn.execute(_Q["schema_exists"]).fetchone()[0]:
        raise errors.JournalError(f"{where} holds no durable journal; check the path")
    version = int(conn.execute(_Q["schema_version"]).fetchone()[0] or 0)
    if version > base.SCHEMA_VERSION:
        raise errors.JournalError(
            f"{where} has schema version {version}, newer than this durable knows "
            f"({base.SCHEMA_VERSION}); upgrade durable before opening it"
        )
    if version < base.SCHEMA_VERSION:
        raise errors.JournalError(
            f"{where} has schema version {version}, older than this durable's "
            f"({base.SCHEMA_VERSION}), and cannot be migrated while it is read-only; open "
            "it once where it is writable (any engine migrates it), or inspect it with the "
            "durable version that wrote it"
        )
