"""The metrics of the server processes of one `serve --workers N`, exchanged as files in a directory the
supervisor made for them (services.metrics.MetricsPeers).

Each process replaces its own file (`<pid>.json`) whole, by rename, when `/metrics` is scraped from it and
once a second; a scrape reads every other file. Files of processes that died stay, so what they counted
stays in the sums (a counter must not go down when a process is replaced); the supervisor removes the
directory when it stops. A snapshot is a few kilobytes: the labels are bounded (services.metrics).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Final

from ltigate.services.metrics import Snapshot

MAX_FILE_BYTES: Final = 4 * 1024 * 1024  # a snapshot is kilobytes; anything larger is not one
MAX_FILES: Final = 1024  # processes of one supervisor, replaced ones included (it gives up after 5 a minute)

log = logging.getLogger(__name__)


class MetricsDirectory:
    def __init__(self, directory: Path, pid: int | None = None) -> None:
        self._directory = directory
        self._own = f"{os.getpid() if pid is None else pid}.json"

    def publish(self, snapshot: Snapshot) -> None:
        partial = self._directory / f".{self._own}.partial"
        try:
            partial.write_text(json.dumps(snapshot, separators=(",", ":")), encoding="utf-8")
            os.replace(partial, self._directory / self._own)
        except OSError as error:  # the scrape still answers, with this process's own figures
            log.warning("metrics snapshot not written: %s", error.strerror or error)

    def others(self) -> list[Snapshot]:
        snapshots: list[Snapshot] = []
        try:
            names = sorted(n for n in os.listdir(self._directory) if n.endswith(".json") and n != self._own)
        except OSError as error:
            log.warning("metrics of the other processes not read: %s", error.strerror or error)
            return snapshots
        for name in names[:MAX_FILES]:
            try:
                with open(self._directory / name, "rb") as file:
                    data = file.read(MAX_FILE_BYTES + 1)
                snapshot = json.loads(data) if len(data) <= MAX_FILE_BYTES else None
            except (OSError, ValueError):
                continue
            if isinstance(snapshot, dict):
                snapshots.append(snapshot)
        return snapshots
