"""A primary and a streaming standby for failover tests, from the machine's binaries.

`Pair.start` makes a throwaway primary (`tests.postgres.Cluster`, which replication
connections may reach), clones it with ``pg_basebackup -R`` into a standby on another
port, and starts that.  Synchronous replication waits for the standby's flush before a
commit is acknowledged (``synchronous_standby_names = '*'``, ``synchronous_commit =
on``); asynchronous does not.  The faults are what an operator meets: `pause_sender`
stops the primary's WAL sender (SIGSTOP), so the standby really falls behind (on
loopback it never does otherwise), `kill_primary` SIGKILLs the primary's postmaster and
every process of it, as a crashed machine, and `promote` makes the standby the primary.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess

import psycopg
import pytest

from tests.postgres import Cluster, _bin_dir, in_ci

__all__ = ["Pair", "bin_dir_or_skip"]

_TOOLS = ("initdb", "pg_ctl", "pg_basebackup")


def bin_dir_or_skip() -> str:
    """The directory of the Postgres server binaries; skipped (failed with CI=true)
    when initdb, pg_ctl or pg_basebackup is missing."""
    found = _bin_dir()
    missing = [t for t in _TOOLS if found is None or not os.path.exists(os.path.join(found, t))]
    if found is None or missing:
        message = f"no Postgres server binaries for a failover test (missing: {missing})"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return found


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


class Pair:
    """A primary and its standby (see the module docstring)."""

    def __init__(self, bin_dir: str, *, synchronous: bool) -> None:
        self.synchronous = synchronous
        self.primary = Cluster(bin_dir)
        self.standby = Cluster(bin_dir)
        self.database = "durable_failover"

    def url(self, *, both: bool = True) -> str:
        """The journal's URL: both hosts, whichever is the primary (or the primary only)."""
        hosts = f"127.0.0.1:{self.primary.port}"
        if both:
            hosts += f",127.0.0.1:{self.standby.port}"
        return f"postgresql://postgres@{hosts}/{self.database}?target_session_attrs=read-write"

    def _dsn(self, cluster: Cluster, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{cluster.port}/{dbname}"

    def start(self) -> None:
        self.primary.init()
        with open(os.path.join(self.primary.data, "pg_hba.conf"), "a") as handle:
            handle.write("local replication all trust\nhost replication all 127.0.0.1/32 trust\n")
        settings = {"wal_level": "replica", "max_wal_senders": "4"}
        if self.synchronous:
            settings |= {"synchronous_standby_names": "'*'", "synchronous_commit": "on"}
        with open(os.path.join(self.primary.data, "postgresql.conf"), "a") as handle:
            handle.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self.primary.restart()
        self.standby._run(
            "pg_basebackup",
            "-D",
            self.standby.data,
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary.port),
            "-U",
            "postgres",
            "-R",
            "-X",
            "stream",
        )
        with open(os.path.join(self.standby.data, "postgresql.conf"), "a") as handle:
            # promoted, the standby has no standby of its own: it must not wait for one
            handle.write(
                f"port = {self.standby.port}\nunix_socket_directories = '{self.standby.root}'\n"
                "synchronous_standby_names = ''\n"
            )
        self.standby.start()
        with psycopg.connect(self._dsn(self.primary), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.database}")

    def streaming(self) -> bool:
        with psycopg.connect(self._dsn(self.primary), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
            ).fetchone()
        return bool(row and row[0])

    def caught_up(self) -> bool:
        """Whether the standby has replayed everything the primary wrote."""
        with psycopg.connect(self._dsn(self.primary), autocommit=True) as conn:
            row = conn.execute(
                "SELECT pg_current_wal_lsn() <= replay_lsn FROM pg_stat_replication"
            ).fetchone()
        return bool(row and row[0])

    def standby_replayed(self) -> bool:
        """Whether the standby has replayed all the WAL it received."""
        with psycopg.connect(self._dsn(self.standby), autocommit=True) as conn:
            row = conn.execute(
                "SELECT pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn()"
            ).fetchone()
        return bool(row and row[0])

    def count(self, cluster: Cluster, query: str) -> int:
        """A count read on `cluster` (a hot standby answers reads too)."""
        with psycopg.connect(self._dsn(cluster, self.database), autocommit=True) as conn:
            row = conn.execute(query).fetchone()
        assert row is not None
        return int(row[0])

    def pause_sender(self) -> int:
        """SIGSTOP the primary's WAL sender; returns its pid."""
        with psycopg.connect(self._dsn(self.primary), autocommit=True) as conn:
            row = conn.execute("SELECT pid FROM pg_stat_replication").fetchone()
        assert row is not None, "no WAL sender to pause"
        os.kill(int(row[0]), signal.SIGSTOP)
        return int(row[0])

    def kill_primary(self) -> None:
        """SIGKILL the primary's postmaster and all its processes at once."""
        with open(os.path.join(self.primary.data, "postmaster.pid")) as handle:
            postmaster = int(handle.readline())
        for pid in [*_children(postmaster), postmaster]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def promote(self) -> None:
        self.standby._run("pg_ctl", "-D", self.standby.data, "-w", "-t", "60", "promote")

    def remove(self) -> None:
        for cluster in (self.primary, self.standby):
            with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
                cluster.stop("immediate")
            shutil.rmtree(cluster.root, ignore_errors=True)
