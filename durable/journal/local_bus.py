"""Wake-ups between processes that share a SQLite file: one datagram socket each.

SQLite has no ``NOTIFY``.  Processes on one machine that open the same journal file
each bind a Unix datagram socket in a folder named after the file's real path (in the
temp folder, ``durable-wake-<uid>/<hash>/``: short enough for a socket path, private to
the user, shared by every process of that user that opens the file); a process
that commits a change others may wait for (a runnable run, a run's new status, a
message) sends a one-line datagram to every socket there.  A datagram is a hint, never
the truth: receivers re-read the journal, and their fallback poll covers anything lost
(a full socket buffer, a process on another machine on a network share).

Datagrams: ``w`` (runnable work may exist), ``c <run id>`` (that run changed).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable

__all__ = ["LocalBus"]

logger = logging.getLogger(__name__)

_MAX = 4096  # a run id longer than this is not announced (the poll finds its change)


class LocalBus:
    """The wake-up sockets of the processes sharing the journal file at `path`."""

    def __init__(self, path: str) -> None:
        digest = hashlib.sha1(os.path.realpath(path).encode()).hexdigest()[:16]
        self.root = os.path.join(tempfile.gettempdir(), f"durable-wake-{os.getuid()}")
        self.folder = os.path.join(self.root, digest)
        self._socket: socket.socket | None = None
        self._address = ""
        self._peers: list[str] = []
        self._listed_at = -1
        self._listed_when = 0.0
        self._on_work: list[Callable[[], None]] = []
        self._on_change: list[Callable[[str | None], None]] = []

    # -- receiving ----------------------------------------------------------------------

    def on_work(self, callback: Callable[[], None]) -> None:
        """Call `callback()` when another process announces runnable work."""
        self._on_work.append(callback)
        self._listen()

    def on_change(self, callback: Callable[[str | None], None]) -> None:
        """Call ``callback(run_id)`` when another process announces a run's change, and
        ``callback(None)`` now (changes before listening started were not heard)."""
        self._on_change.append(callback)
        self._listen()
        callback(None)

    def _listen(self) -> None:
        if self._socket is not None:
            return
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            address = os.path.join(self.folder, f"{os.getpid()}-{uuid.uuid4().hex[:8]}.sock")
            sock.bind(address)
            sock.setblocking(False)
            asyncio.get_running_loop().add_reader(sock.fileno(), self._receive)
        except (OSError, RuntimeError) as exc:  # a read-only folder, a path too long
            logger.info(
                "no wake-up socket beside the journal (%s); other processes are seen by polling",
                exc,
                extra={"action": "wake_socket", "workflow_id": None},
            )
            return
        self._socket, self._address = sock, address

    def _receive(self) -> None:
        assert self._socket is not None
        while True:
            try:
                data = self._socket.recv(_MAX + 2)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if data == b"w":
                for work in self._on_work:
                    work()
            elif data.startswith(b"c "):
                run_id = data[2:].decode(errors="replace")
                for change in self._on_change:
                    change(run_id)

    # -- sending ------------------------------------------------------------------------

    def announce_work(self) -> None:
        """Tell the other processes that runnable work may exist."""
        self._send(b"w")

    def announce_change(self, run_id: str) -> None:
        """Tell the other processes that run `run_id` changed."""
        data = b"c " + run_id.encode()
        if len(data) <= _MAX:
            self._send(data)

    def _send(self, data: bytes) -> None:
        peers = [peer for peer in self._current_peers() if peer != self._address]
        if not peers:
            return
        if self._socket is not None:  # a bound datagram socket sends as well as it hears
            self._send_from(self._socket, data, peers)
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.setblocking(False)
            self._send_from(sender, data, peers)

    @staticmethod
    def _send_from(sender: socket.socket, data: bytes, peers: list[str]) -> None:
        for peer in peers:
            try:
                sender.sendto(data, peer)
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):  # its process is gone
                    os.unlink(peer)
            except OSError:  # a full buffer: that process is busy and polls anyway
                continue

    def _current_peers(self) -> list[str]:
        """The sockets in the folder, listed again only when the folder changed."""
        try:
            changed = os.stat(self.folder).st_mtime_ns
        except OSError:
            return []
        now = time.monotonic()
        # again when the folder changed, and every second (a coarse mtime can hide a
        # socket bound in the same tick as the last listing)
        if changed != self._listed_at or now - self._listed_when > 1.0:
            try:
                names = os.listdir(self.folder)
            except OSError:
                return []
            self._peers = [os.path.join(self.folder, n) for n in names if n.endswith(".sock")]
            self._listed_at, self._listed_when = changed, now
        return self._peers

    def close(self, *, unlink: bool = True) -> None:
        """Stop listening and remove this process's socket (`unlink=False` leaves its
        file, as a killed process does: senders then find it refusing and remove it)."""
        if self._socket is not None:
            with contextlib.suppress(RuntimeError, ValueError):
                asyncio.get_running_loop().remove_reader(self._socket.fileno())
            self._socket.close()
            if unlink:
                with contextlib.suppress(OSError):
                    os.unlink(self._address)
            self._socket = None
