"""Rotating the instance secret key (`ltigate rotate-secret`): every value sealed at rest is opened with the
current key and sealed with the new one in one transaction, then the key file is swapped. The ordering that
keeps a crash from losing the key is in docs/decisions/0010-secret-rotation.md.
"""

from __future__ import annotations

import builtins
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from ltigate.config import generate_secret_key
from ltigate.services.errors import (
    SealedValuesUnreadable,
    SecretKeyFileError,
    SecretKeyMismatch,
    SecretKeyUnchanged,
    SecretRotationUnfinished,
    ServiceError,
)
from ltigate.services.sealing import Sealer, UnsealError
from ltigate.services.service_tokens import SEAL_PURPOSE as SERVICE_TOKEN_PURPOSE
from ltigate.services.tool_keys import seal_purpose

# How many unreadable values a refusal names.
NAMED_AT_MOST = 5


class SealedKind(StrEnum):
    TOOL_KEY = "tool_key"  # a tool signing key's private key; ref: (kid,)
    SERVICE_TOKEN = "service_token"  # noqa: S105 (a cached service access token; ref: (platform_id, scope_key))

    @property
    def is_cache(self) -> bool:
        """A cache entry that does not open is dropped (it is requested again); anything else stops a rotation."""
        return self is SealedKind.SERVICE_TOKEN


@dataclass(frozen=True, slots=True)
class SealedValue:
    kind: SealedKind
    ref: tuple[str, ...]
    sealed: bytes = field(repr=False)

    @property
    def purpose(self) -> str:
        return seal_purpose(self.ref[0]) if self.kind is SealedKind.TOOL_KEY else SERVICE_TOKEN_PURPOSE

    def describe(self) -> str:
        if self.kind is SealedKind.TOOL_KEY:
            return f"tool key '{self.ref[0]}'"
        return f"service token of platform '{self.ref[0]}'"


class SealedValueStore(Protocol):
    """Every value the database holds sealed with the secret key."""

    async def list(self) -> builtins.list[SealedValue]: ...

    async def rewrite(self, reseal: Callable[[SealedValue], bytes | None]) -> None:
        """In one transaction that other writers of these values wait for: read every sealed value, store
        `reseal(value)` in its place, or delete it when that is None. An exception raised by `reseal` rolls
        everything back and passes unchanged."""
        ...


class SecretKeyFiles(Protocol):
    """The key files of a rotation: the pending new key, the key in place, the old key kept. Every method
    raises SecretKeyFileError naming the file; every write is whole (a crash leaves the old file or the new)."""

    @property
    def managed(self) -> bool:
        """True when the key in use is the data directory's `key_path`, replaced by a rotation."""
        ...

    @property
    def key_path(self) -> Path: ...

    @property
    def pending_path(self) -> Path: ...

    @property
    def old_path(self) -> Path: ...

    def pending(self) -> bytes | None: ...

    def old(self) -> bytes | None: ...

    def write_pending(self, key: bytes) -> None: ...

    def discard_pending(self) -> None: ...

    def keep_old(self) -> None:
        """Copy the key in place to `old_path` (nothing to do when it is there already)."""
        ...

    def install_pending(self) -> None:
        """Move the pending key over the key in place, in one rename."""
        ...


class Outcome(StrEnum):
    ROTATED = "rotated"
    FINISHED = "finished"  # an interrupted rotation's database work was done; only its key files were swapped


@dataclass(frozen=True, slots=True)
class KindCount:
    kind: SealedKind
    resealed: int
    dropped: int  # cache entries that did not open with the current key: deleted


@dataclass(frozen=True, slots=True)
class RotationReport:
    outcome: Outcome
    dry_run: bool
    counts: tuple[KindCount, ...] = ()
    new_key_file: Path | None = None  # where the new key is now, when ltigate wrote it
    old_key_file: Path | None = None  # where the replaced key is kept (a managed key file)
    discarded: Path | None = None  # a pending key left by a rotation that never reached the database


def _opens(sealer: Sealer, value: SealedValue) -> bool:
    try:
        sealer.unseal(value.sealed, value.purpose)
    except UnsealError:
        return False
    return True


def _opens_every_key(key: bytes, tool_keys: Sequence[SealedValue]) -> bool:
    sealer = Sealer(key)
    return bool(tool_keys) and all(_opens(sealer, value) for value in tool_keys)


def _named(values: Sequence[SealedValue]) -> str:
    shown = ", ".join(value.describe() for value in values[:NAMED_AT_MOST])
    return shown + (f" and {len(values) - NAMED_AT_MOST} more" if len(values) > NAMED_AT_MOST else "")


class SecretRotation:
    """Re-encrypts the sealed values with a new secret key and puts the key in place; explains, at start,
    a database sealed with another key than the one configured."""

    def __init__(self, store: SealedValueStore, files: SecretKeyFiles, current_key: bytes) -> None:
        self._store, self._files, self._key = store, files, current_key

    async def rotate(self, new_key: bytes | None = None, *, dry_run: bool = False) -> RotationReport:
        """Re-encrypt every sealed value with `new_key` (generated when None) and, for a managed key file,
        replace it keeping the old key. A pending key from an interrupted rotation is finished (the database
        already uses it) or discarded (it never did). With `dry_run`, every check runs and nothing changes.

        Raises, before changing anything: SecretKeyMismatch (the current key opens no tool key),
        SealedValuesUnreadable (it opens some only), SecretKeyUnchanged, SecretKeyFileError (a key file
        cannot be read or written, or an old key is still kept), NotMigrated / StoreUnavailable.
        SecretRotationUnfinished when the database uses the new key but it is not in place.
        """
        values = await self._store.list()
        pending = self._files.pending()
        if self._sealed_with_pending(values, pending, new_key):
            return self._finish(dry_run)
        discarded = self._stale(pending, new_key)
        if self._files.managed and self._files.old() is not None:
            raise SecretKeyFileError(
                f"{self._files.old_path} is still kept from an earlier rotation: keep it with the database backups "
                "made before that rotation, away from the data directory, then run this again"
            )
        key = generate_secret_key() if new_key is None else new_key
        if key == self._key:
            raise SecretKeyUnchanged("the new secret key is the one in use; give another or let ltigate make one")
        if dry_run:
            return RotationReport(Outcome.ROTATED, True, _counts(values, Sealer(self._key)), discarded=discarded)
        if discarded is not None:
            self._files.discard_pending()
        written = self._files.managed or new_key is None
        if written:
            self._files.write_pending(key)
        counts = await self._rewrite(key, keep_pending_on_failure=written)
        if not self._files.managed:
            where = self._files.pending_path if written else None
            return RotationReport(Outcome.ROTATED, False, counts, where, discarded=discarded)
        self._install()
        return RotationReport(Outcome.ROTATED, False, counts, self._files.key_path, self._files.old_path, discarded)

    def _sealed_with_pending(self, values: Sequence[SealedValue], pending: bytes | None, new_key: bytes | None) -> bool:
        """True when the tool keys open with the pending key and not with the current one (an interrupted
        rotation committed); False when they all open with the current key. Raises otherwise."""
        tool_keys = [value for value in values if value.kind is SealedKind.TOOL_KEY]
        current = Sealer(self._key)
        opening = [value for value in tool_keys if _opens(current, value)]
        if tool_keys and not opening:
            if pending is not None and _opens_every_key(pending, tool_keys):
                return True
            if new_key is not None and _opens_every_key(new_key, tool_keys):
                raise SecretRotationUnfinished(
                    "the database is sealed with the new key already (an earlier `ltigate rotate-secret` re-encrypted "
                    "it): configure that key as LTIGATE_SECRET_KEY_FILE (or LTIGATE_SECRET_KEY) on every server and "
                    "worker, and restart them"
                )
            raise SecretKeyMismatch(
                f"none of the {len(tool_keys)} tool keys in the database opens with the current secret key: it is "
                "not the key the database is sealed with; nothing was changed (run this with the settings the "
                "servers use)"
            )
        if len(opening) < len(tool_keys):
            unreadable = [value for value in tool_keys if value not in opening]
            raise SealedValuesUnreadable(
                f"{len(unreadable)} of {len(tool_keys)} tool keys do not open with the current secret key "
                f"({_named(unreadable)}): they were sealed by a process with another key; nothing was changed"
            )
        return False

    def _stale(self, pending: bytes | None, new_key: bytes | None) -> Path | None:
        """The pending key file to remove before writing a new one (the database does not use it), if any."""
        if pending is None:
            return None
        if pending == self._key and not self._files.managed:
            if new_key is None:  # it is where the new key would be written
                raise SecretKeyFileError(
                    f"{self._files.pending_path} holds the secret key in use, and a rotation writes the new key there: "
                    "move it out of the data directory (and point LTIGATE_SECRET_KEY_FILE at its new place) first"
                )
            return None  # the key in use, read from there: left alone
        return self._files.pending_path

    async def _rewrite(self, key: bytes, *, keep_pending_on_failure: bool) -> tuple[KindCount, ...]:
        current, new = Sealer(self._key), Sealer(key)
        resealed: Counter[SealedKind] = Counter()
        dropped: Counter[SealedKind] = Counter()

        def reseal(value: SealedValue) -> bytes | None:
            try:
                plain = current.unseal(value.sealed, value.purpose)
            except UnsealError:
                if value.kind.is_cache:
                    dropped[value.kind] += 1
                    return None
                # Written since the check, by a process with another key.
                raise SealedValuesUnreadable(
                    f"the {value.describe()} does not open with the current secret key; nothing was changed"
                ) from None
            resealed[value.kind] += 1
            return new.seal(plain, value.purpose)

        try:
            await self._store.rewrite(reseal)
        except (SealedValuesUnreadable, SecretKeyMismatch):
            if keep_pending_on_failure:
                self._files.discard_pending()  # rolled back: the database never used the new key
            raise
        except ServiceError as error:
            if not keep_pending_on_failure:
                raise
            # A commit that failed may still have reached the database: the next run finds out which.
            raise type(error)(
                f"{error.message} (the new key is kept in {self._files.pending_path}: run `ltigate rotate-secret` "
                "again, which finishes the rotation if the database took it and starts over if not)",
                error.field,
            ) from error
        return tuple(KindCount(kind, resealed[kind], dropped[kind]) for kind in SealedKind)

    def _finish(self, dry_run: bool) -> RotationReport:
        if not self._files.managed:
            raise SecretRotationUnfinished(
                f"the database is sealed with the key in {self._files.pending_path} already (written by an earlier "
                "`ltigate rotate-secret`): configure it as LTIGATE_SECRET_KEY_FILE (or LTIGATE_SECRET_KEY) on every "
                "server and worker, and restart them"
            )
        if not dry_run:
            self._install()
        return RotationReport(Outcome.FINISHED, dry_run, (), self._files.key_path, self._files.old_path)

    def _install(self) -> None:
        try:
            self._files.keep_old()
            self._files.install_pending()
        except SecretKeyFileError as error:
            raise SecretRotationUnfinished(
                f"the database is re-encrypted with the new key, but the key could not be put in place: "
                f"{error.message}. The new key is in {self._files.pending_path}: run `ltigate rotate-secret` again "
                f"to finish (it only moves the key files), or move it to {self._files.key_path} yourself, keeping "
                "the old key; ltigate does not start until then"
            ) from None

    async def explain(self, mismatch: SecretKeyMismatch) -> ServiceError:
        """The error to show when the tool keys do not open at start: an interrupted rotation or a database
        sealed with the kept old key when the key files tell so, else `mismatch` itself."""
        try:
            pending, old = self._files.pending(), self._files.old()
        except SecretKeyFileError:
            return mismatch
        if pending is None and old is None:
            return mismatch
        tool_keys = [value for value in await self._store.list() if value.kind is SealedKind.TOOL_KEY]
        if pending is not None and _opens_every_key(pending, tool_keys):
            if self._files.managed:
                return SecretRotationUnfinished(
                    "`ltigate rotate-secret` was interrupted after re-encrypting the database with the key in "
                    f"{self._files.pending_path}: run `ltigate rotate-secret` again to finish (it moves that key to "
                    f"{self._files.key_path}, keeping the old one as {self._files.old_path})"
                )
            return SecretRotationUnfinished(
                f"the database is sealed with the key in {self._files.pending_path} (written by `ltigate "
                "rotate-secret`): configure it as LTIGATE_SECRET_KEY_FILE (or LTIGATE_SECRET_KEY) on every server "
                "and worker"
            )
        if old is not None and _opens_every_key(old, tool_keys):
            return SecretKeyMismatch(
                f"{mismatch.message}. The database is sealed with the previous key, kept in {self._files.old_path}: "
                "was a backup from before the rotation restored? Put that key back in place, then rotate again"
            )
        return mismatch

    def leftover(self) -> str | None:
        """A warning for a pending key the database does not use (call once the current key opened it)."""
        try:
            pending = self._files.pending()
        except SecretKeyFileError as error:
            return error.message
        if pending is None or pending == self._key:
            return None
        return (
            f"{self._files.pending_path} is left by a `ltigate rotate-secret` that did not complete; the database "
            "does not use it: run `ltigate rotate-secret` again, or delete it"
        )


def _counts(values: Sequence[SealedValue], current: Sealer) -> tuple[KindCount, ...]:
    """What a rotation would do: values that open are re-encrypted; cache entries that do not are dropped."""
    opening = Counter(value.kind for value in values if _opens(current, value))
    total = Counter(value.kind for value in values)
    return tuple(KindCount(kind, opening[kind], total[kind] - opening[kind]) for kind in SealedKind)
