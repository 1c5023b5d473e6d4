"""`ltigate rotate-secret`: re-encrypt everything sealed at rest with a new secret key and put the key in place
(docs/decisions/0010-secret-rotation.md). Key values are never printed: only the files that hold them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from ltigate.cli import output
from ltigate.config import Settings, SettingsError, parse_secret_key
from ltigate.services.errors import InvalidSecretKey
from ltigate.services.secret_rotation import KindCount, Outcome, RotationReport, SealedKind, SecretRotation

NewKeyFile = Annotated[
    Path | None,
    typer.Option(
        "--new-key-file",
        help="Take the new key from this file (urlsafe base64, 32+ bytes) instead of generating one.",
        show_default=False,
    ),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Run every check and count what would be re-encrypted; change nothing.")
]

_NAMES = {SealedKind.TOOL_KEY: ("tool key", "tool keys"), SealedKind.SERVICE_TOKEN: ("service token", "service tokens")}


def _read_key(path: Path) -> bytes:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidSecretKey(f"--new-key-file: cannot read '{path}': {error}", "new_key_file") from None
    try:
        return parse_secret_key(text, f"--new-key-file '{path}'")
    except SettingsError as error:
        raise InvalidSecretKey(str(error), "new_key_file") from None


def _amount(count: int, kind: SealedKind) -> str:
    one, many = _NAMES[kind]
    return f"{count} {one if count == 1 else many}"


def _summary(counts: tuple[KindCount, ...]) -> str:
    return " and ".join(_amount(count.resealed, count.kind) for count in counts)


def _print_counts(report: RotationReport) -> None:
    verb = "Would re-encrypt" if report.dry_run else "Re-encrypted"
    output.print_done(f"{verb} {_summary(report.counts)} with the new secret key, in one transaction")
    for count in report.counts:
        if count.dropped:
            verb = "would drop" if report.dry_run else "dropped"
            output.print_line(
                f"{_amount(count.dropped, count.kind)} sealed with another key {verb}: a cache, filled again on use",
                style="dim",
            )


def _print_restart() -> None:
    output.print_line(
        "Start (or restart) every `ltigate serve` and `ltigate worker` with the new key now (docs/deploy.md, "
        '"Rotating the secret key"): a process still on the old key keeps signing, but reports '
        "secret_key_mismatch at each housekeeping pass and cannot start again."
    )


def _print_report(report: RotationReport, new_key_file: Path | None) -> None:
    if report.discarded is not None:
        verb = "Would remove" if report.dry_run else "Removed"
        output.print_line(
            f"{verb} {report.discarded}: left by a rotation that did not complete (the database never used it)",
            style="dim",
        )
    if report.outcome is Outcome.FINISHED:
        if report.dry_run:
            output.print_done(
                "Dry run: the database is re-encrypted with the key in the pending file already; a run would put "
                f"it in place as {report.new_key_file}, keeping the old key as {report.old_key_file}"
            )
            return
        output.print_done(
            "Finished the interrupted rotation: the database was re-encrypted already; "
            f"the new key is now in {report.new_key_file}, the old one kept in {report.old_key_file}"
        )
        _print_restart()
        return
    _print_counts(report)
    if report.dry_run:
        output.print_line("Dry run: nothing was changed.", style="dim")
        return
    if report.old_key_file is not None:
        output.print_line(f"The new key is in {report.new_key_file}; the old one is kept in {report.old_key_file}.")
        _print_restart()
        output.print_line(
            f"Keep {report.old_key_file.name} with the database backups made before now (they need it), away from "
            "the data directory, and delete it here: the next rotation refuses while it is there.",
            style="dim",
        )
        return
    holder = report.new_key_file or new_key_file
    output.print_line(f"The database is now sealed with the key in {holder}. It comes from the environment, so:")
    output.print_line(
        f"  1. give every server and worker that key: LTIGATE_SECRET_KEY_FILE={holder} (or its content, in your "
        "secret store, as LTIGATE_SECRET_KEY)"
    )
    output.print_line("  2. restart them; a process still on the old key cannot start (secret_key_mismatch)")
    output.print_line(
        "  3. keep the old key with the database backups made before now (they need it)"
        + (f", and delete {holder} once the key is stored elsewhere" if report.new_key_file is not None else "")
    )


def rotate_secret(settings: Settings, new_key_file: NewKeyFile = None, dry_run: DryRun = False) -> None:
    """Re-encrypt every secret sealed at rest (tool private keys, cached service tokens) with a new secret key,
    in one transaction, then replace the data directory's secret.key (kept as secret.key.old). Run it with
    the servers' configuration, then restart every server and worker with the new key (docs/deploy.md).
    """
    from ltigate.bootstrap import secret_rotation  # see with_gateway: the adapters load on use

    new_key = _read_key(new_key_file) if new_key_file is not None else None

    async def work() -> RotationReport:
        rotation: SecretRotation
        async with secret_rotation(settings) as rotation:
            return await rotation.rotate(new_key, dry_run=dry_run)

    _print_report(asyncio.run(work()), new_key_file)
