"""The gateway under load: a fresh data directory (and, for PostgreSQL, a fresh database, dropped
afterwards), `ltigate migrate`, seeding through the use cases, and `ltigate serve` as a pinned subprocess.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness import BIN, Database, machine_busy_seconds

from ltigate.bootstrap import build_gateway
from ltigate.config import load_settings
from ltigate.services.records import DeploymentPolicy, PlatformFields, ResourceFields

APP_URL = "http://127.0.0.1:9/app"  # never contacted: the generator stops at the redirect
RESOURCE = "quiz"


__all__ = ["APP_URL", "RESOURCE", "ServedGateway", "machine_busy_seconds"]


PASSED_SETTINGS = frozenset({"LTIGATE_EVENT_LOOP", "LTIGATE_WORKERS"})


@dataclass
class ServedGateway:
    """A migrated, seeded gateway served by `ltigate serve` on 127.0.0.1:`port`."""

    data_dir: Path
    port: int
    database: Database
    process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        # The caller's LTIGATE_* settings stay out, but for the ones that tune the server under test.
        env = {k: v for k, v in os.environ.items() if not k.startswith("LTIGATE_") or k in PASSED_SETTINGS}
        env.update(LTIGATE_DATA_DIR=str(self.data_dir), LTIGATE_PORT=str(self.port), LTIGATE_LOG_LEVEL="warning")
        if self.database.url is not None:
            env["LTIGATE_DATABASE_URL"] = self.database.url
        return env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "serve.log"

    def migrate(self) -> None:
        done = subprocess.run(
            [str(BIN / "ltigate"), "migrate"], env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"ltigate migrate failed:\n{done.stdout}{done.stderr}")

    async def seed(self, issuer: str, client_id: str, deployment_id: str, lms_url: str) -> None:
        """One platform (deployment approved) and one resource, through the use cases as an operator would."""
        gateway = await build_gateway(load_settings(env=self.env))
        try:
            await gateway.platforms.create(
                PlatformFields(
                    name="Bench LMS",
                    issuer=issuer,
                    client_id=client_id,
                    auth_url=f"{lms_url}/auth",
                    token_url=f"{lms_url}/token",
                    jwks_url=f"{lms_url}/jwks",
                    deployment_ids=(deployment_id,),
                    deployment_policy=DeploymentPolicy.REJECT,
                )
            )
            await gateway.resources.create(ResourceFields(slug=RESOURCE, title="Quiz", app_url=APP_URL))
        finally:
            await gateway.close()

    def start(self, cpus: str | None, worker: bool, extra: list[str]) -> None:
        command = [str(BIN / "ltigate"), "serve", "--port", str(self.port), *extra]
        if not worker:
            command.append("--no-worker")
        if cpus is not None and shutil.which("taskset"):
            command = ["taskset", "-c", cpus, *command]  # taskset execs: the pid stays the server's
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    async def wait_ready(self, probe: object, within: float = 60.0) -> None:
        """Poll /readyz until it answers 200; raises RuntimeError with the server's log otherwise."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            try:
                answer = await probe.get("/readyz")  # type: ignore[attr-defined]
                if answer.status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"ltigate serve did not become ready:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
