"""Postgres for the tests: a throwaway cluster, a template database, one database per test.

``postgres_cluster`` (session) is the base URL of a server: ``DURABLE_TEST_POSTGRES_URL``
when set, else a cluster started here with the machine's ``initdb``/``pg_ctl`` (on PATH
or under ``/usr/lib/postgresql/*/bin``) in a temporary folder, on a free port of
127.0.0.1, stopped at the end of the session.  Without either, the Postgres half is
skipped, or fails when ``CI=true``.

A template database with durable's schema is built once; ``postgres_url`` gives each
test its own clone (``CREATE DATABASE ... TEMPLATE``, procrastinate's ``db_factory``)
and drops it afterwards.  ``postgres_server`` is the `Cluster` itself, for fault tests
that restart the server (None when the server is not ours to restart).
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from durable.journal import postgres

TEMPLATE = "durable_template"
PASSWORD_ROLE = "durable_pw"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _bin_dir() -> str | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return os.path.dirname(os.path.realpath(found))
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return os.path.dirname(candidates[0]) if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A throwaway Postgres cluster owned by the test session."""

    def __init__(self, bin_dir: str) -> None:
        self.bin_dir = bin_dir
        self.root = tempfile.mkdtemp(prefix="durable-pg-")
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "server.log")
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        # initdb refuses to run as root: then the cluster belongs to the postgres user
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            self.prefix = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        os.chmod(self.root, 0o700)

    def _run(self, *args: str) -> None:
        command = [*self.prefix, os.path.join(self.bin_dir, args[0]), *args[1:]]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = ""
            if os.path.exists(self.log):
                with open(self.log) as handle:
                    log = handle.read()[-2000:]
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}\n{log}")

    def init(self) -> None:
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "200",
            # tests check semantics, not the disk's crash safety: skip fsyncs (a crash of
            # the server, not of the machine, still loses no acknowledged commit)
            "fsync": "off",
            "full_page_writes": "off",
        }
        with open(os.path.join(self.data, "postgresql.conf"), "a") as handle:
            handle.writelines(f"{key} = {value}\n" for key, value in settings.items())
        # trust, except for one role that must give its password (the bad-input tests)
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as handle:
            handle.write(
                f"local all all trust\n"
                f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
                "host all all 127.0.0.1/32 trust\n"
            )
        self.start()

    def start(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Restart the server: every connection drops (``-m immediate``: as a crash)."""
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-l", self.log, "-w", "restart")

    async def restart_async(self, mode: str = "fast") -> None:
        await asyncio.to_thread(self.restart, mode)

    def remove(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _with_database(url: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{dbname}"))


def _build_template(base_url: str) -> None:
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))

    async def install() -> None:
        journal = postgres.PostgresJournal(_with_database(base_url, TEMPLATE))
        await journal.open()
        await journal.close()

    asyncio.run(install())


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Cluster | None]:
    """The cluster started for this session, or None with ``DURABLE_TEST_POSTGRES_URL``."""
    if os.environ.get("DURABLE_TEST_POSTGRES_URL"):
        yield None
        return
    bin_dir = _bin_dir()
    if bin_dir is None:
        message = (
            "no Postgres for the tests: install its server binaries (initdb, pg_ctl) or set "
            "DURABLE_TEST_POSTGRES_URL=postgresql://user@host/db"
        )
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    cluster = Cluster(bin_dir)
    try:
        cluster.init()
    except Exception as exc:
        cluster.remove()
        if in_ci():
            pytest.fail(f"could not start a throwaway Postgres cluster: {exc}")
        pytest.skip(f"could not start a throwaway Postgres cluster: {exc}")
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def postgres_cluster(postgres_server: Cluster | None) -> str:
    """The base URL of the test server, with the template database built."""
    url = os.environ.get("DURABLE_TEST_POSTGRES_URL") or ""
    if postgres_server is not None:
        url = postgres_server.url
    try:
        _build_template(url)
    except psycopg.Error as exc:
        message = f"Postgres at {url!r} is not usable for the tests: {exc}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def postgres_url(postgres_cluster: str) -> Iterator[str]:
    """A fresh database cloned from the template (durable's schema installed)."""
    name = f"durable_test_{uuid.uuid4().hex[:12]}"
    ident = sql.Identifier(name)
    with psycopg.connect(postgres_cluster, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(ident, sql.Identifier(TEMPLATE))
        )
    try:
        yield _with_database(postgres_cluster, name)
    finally:
        with psycopg.connect(postgres_cluster, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


@pytest.fixture
def postgres_admin_url(postgres_cluster: str) -> str:
    """The server's maintenance database, for tests that create databases or roles."""
    return postgres_cluster
