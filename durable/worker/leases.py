"""Who holds a run, and whether that holder is known to be dead.

An owner id names the host, its boot, the process (pid and start time, so a reused
pid is not mistaken for the old process) and one engine within it:
``host/boot/pid/start/nonce``.  A holder is known dead when it ran on this machine
in this boot and its process is gone (or is another process with the same pid), or
when it is an engine of this very process that is no longer open.  Anything else
(another machine, an unreadable id) is only presumed dead once its lease expires.
"""

from __future__ import annotations

import os
import socket
import uuid

__all__ = ["is_alive", "is_dead", "new_owner_id"]

_live_engines: set[str] = set()


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()[:8]
    except OSError:
        return "noboot"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return None
    # the command name may contain spaces and parentheses: fields follow the last ')'
    return stat.rsplit(")", 1)[1].split()[19]


def _process_alive(pid: int, start: str) -> bool:
    if os.path.isdir("/proc"):
        return _start_time(pid) == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_HOST = socket.gethostname().replace("/", "_")
_BOOT = _boot_id()


def new_owner_id() -> str:
    """A fresh owner id for an engine of this process, registered as live."""
    pid = os.getpid()
    start = _start_time(pid) or "0"
    owner = f"{_HOST}/{_BOOT}/{pid}/{start}/{uuid.uuid4().hex[:12]}"
    _live_engines.add(owner)
    return owner


def forget(owner: str) -> None:
    """The engine `owner` closed (or was abandoned): its runs are free to take."""
    _live_engines.discard(owner)


def is_dead(owner: str) -> bool:
    """True only when the holder is certainly gone (see the module docstring)."""
    parts = owner.split("/")
    if len(parts) != 5:
        return False
    host, boot, pid_text, start, _ = parts
    if host != _HOST:
        return False
    if boot != _BOOT:
        return True
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid():
        return owner not in _live_engines
    return not _process_alive(pid, start)


def is_alive(owner: str) -> bool:
    """True only when the holder certainly lives: an engine of a process of this machine
    and boot that still runs (any engine of another process is presumed open: a closing
    engine releases its runs).  Such a holder is alive whatever a database says."""
    parts = owner.split("/")
    if len(parts) != 5 or parts[0] != _HOST or parts[1] != _BOOT:
        return False
    try:
        pid = int(parts[2])
    except ValueError:
        return False
    if pid == os.getpid():
        return owner in _live_engines
    return _process_alive(pid, parts[3])
