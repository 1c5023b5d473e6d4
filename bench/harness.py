"""What every benchmark here shares: free ports, CPU readings from /proc, a fresh PostgreSQL database
dropped afterwards, `ltigate migrate`, waiting for a subprocess to listen, and a tiny HTTP GET that keeps
httpx out of the measuring process. No ltigate imports, so fake servers started from a bench script stay light.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid` (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident memory of process `pid` now and at its peak (VmRSS, VmHWM), in MB, from /proc/<pid>/status."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found.get("VmRSS", 0.0), found.get("VmHWM", 0.0)


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy (not idle, not waiting for I/O) since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def backend_cpu_seconds(database: str | None) -> float:
    """CPU seconds of the live PostgreSQL backends serving `database` (found by their process title).

    Backends that exited in between (closed connections) are not counted. The server's shared processes
    (WAL writer, checkpointer) and other databases' backends are left out.
    """
    if database is None:
        return 0.0
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
            if not title.startswith(b"postgres: ") or f" {database} ".encode() not in title:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def pinned(cpu: str | None, command: list[str]) -> list[str]:
    if cpu is not None and shutil.which("taskset"):
        return ["taskset", "-c", cpu, *command]  # taskset execs: the pid stays the program's
    return command


async def _admin(admin_url: str, statement: str) -> object:
    import asyncpg

    connection = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        if statement.lstrip().upper().startswith("SELECT"):
            return await connection.fetchval(statement)
        return await connection.execute(statement)
    finally:
        await connection.close()


@dataclass
class Database:
    """Where the gateway keeps its state: SQLite in the data directory, or a fresh PostgreSQL database."""

    url: str | None
    admin_url: str | None = None
    name: str | None = None

    @classmethod
    async def create(cls, admin_url: str | None) -> Database:
        if admin_url is None:
            return cls(url=None)
        from sqlalchemy.engine import make_url

        name = "ltigate_bench_" + uuid.uuid4().hex[:12]
        await _admin(admin_url, f'CREATE DATABASE "{name}"')
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        return cls(url=url, admin_url=admin_url, name=name)

    async def sessions(self) -> int | None:
        """Sessions ever opened on the bench database (pg_stat_database.sessions, PostgreSQL 14+)."""
        if self.admin_url is None:
            return None
        count = await _admin(self.admin_url, f"SELECT sessions FROM pg_stat_database WHERE datname = '{self.name}'")
        return int(count) if isinstance(count, int) else None

    async def drop(self) -> None:
        if self.admin_url is not None and self.name is not None:
            await _admin(self.admin_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def environment(data_dir: Path, database: Database) -> dict[str, str]:
    """The environment of an `ltigate` subprocess for this run, without the caller's LTIGATE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTIGATE_")}
    env.update(LTIGATE_DATA_DIR=str(data_dir), LTIGATE_LOG_LEVEL="warning")
    if database.url is not None:
        env["LTIGATE_DATABASE_URL"] = database.url
    return env


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run([str(BIN / "ltigate"), "migrate"], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ltigate migrate failed:\n{done.stdout}{done.stderr}")


async def wait_port(port: int, process: subprocess.Popen[bytes], what: str, within: float = 30.0) -> None:
    """Return once `port` accepts connections; raise if `process` exits or `within` seconds pass."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited at start")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening")


async def http_get_json(port: int, path: str) -> Any:
    """A tiny HTTP/1.1 GET against a fake server (keeps httpx out of this process's figures)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"GET {path}: {head[:80]!r}")
    return json.loads(body)
