"""What Linux's /proc says about the processes under test: a process's children, whether one still runs,
which process holds the server end of a client's TCP connection, and which libraries a process loaded."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import httpx

PROC = Path("/proc")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, …); None when there is no such pid."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def children(pid: int) -> set[int]:
    found = set()
    for entry in PROC.iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and fields[0] != "Z" and int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for child in children(todo.pop()):
            found.add(child)
            todo.append(child)
    return found


def server_processes(supervisor: int) -> set[int]:
    """The supervisor's server processes (spawned by multiprocessing; its resource tracker is left out)."""
    found = set()
    for pid in children(supervisor):
        try:
            command = (PROC / str(pid) / "cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"multiprocessing.spawn" in command:
            found.add(pid)
    return found


def loaded(pid: int, library: str) -> bool:
    """Whether a shared object whose path contains `library` is mapped into the process."""
    return library in (PROC / str(pid) / "maps").read_text()


def _socket_inode(local_port: int, remote_port: int) -> str:
    for line in (PROC / "net" / "tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        ports = (int(local.split(":")[1], 16), int(remote.split(":")[1], 16))
        if state == "01" and ports == (local_port, remote_port):  # 01: ESTABLISHED
            return inode
    raise AssertionError(f"no established connection 127.0.0.1:{local_port} → :{remote_port} in /proc/net/tcp")


def holder(local_port: int, remote_port: int, candidates: Iterable[int]) -> int:
    """Which of `candidates` holds the socket of the open TCP connection from `local_port` to `remote_port`."""
    wanted = f"socket:[{_socket_inode(local_port, remote_port)}]"
    for pid in candidates:
        fds = PROC / str(pid) / "fd"
        try:
            names = os.listdir(fds)
        except FileNotFoundError:
            continue
        for name in names:
            try:
                if os.readlink(fds / name) == wanted:
                    return pid
            except FileNotFoundError:
                continue
    raise AssertionError(f"none of {sorted(candidates)} holds {wanted}")


def server_of(response: httpx.Response, candidates: Iterable[int]) -> int:
    """Which of `candidates` holds the server end of the connection `response` came over (HTTP/1.1, kept open)."""
    sock = response.extensions["network_stream"].get_extra_info("socket")
    client_port, server_port = sock.getsockname()[1], sock.getpeername()[1]
    return holder(server_port, client_port, candidates)
