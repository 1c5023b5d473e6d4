"""The data directory's secret key files during a rotation (the SecretKeyFiles port): the new key waits in
`secret.key.new`, the replaced one is kept in `secret.key.old` (docs/decisions/0010-secret-rotation.md).

Every file is written whole, with mode 0600: a temporary file beside it, fsync, rename, fsync of the
directory. A crash leaves either the previous file or the new one, never a part.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ltigate.config import (
    OLD_SECRET_KEY_FILE_NAME,
    PENDING_SECRET_KEY_FILE_NAME,
    SECRET_KEY_FILE_NAME,
    Settings,
    SettingsError,
    format_secret_key,
    parse_secret_key,
)
from ltigate.services.errors import SecretKeyFileError


def _failed(path: Path, error: OSError) -> SecretKeyFileError:
    return SecretKeyFileError(f"{path}: {error.strerror or type(error).__name__}")


def _sync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (POSIX; elsewhere renames are left to the file system)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_whole(path: Path, content: bytes) -> None:
    """Write `content` to `path` with mode 0600 so that a crash leaves the old file or the new one whole."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


class DataDirectoryKeyFiles:
    """The key files in the data directory. `managed`: the key in use is `secret.key` there, which a rotation
    replaces; otherwise the key comes from LTIGATE_SECRET_KEY(_FILE) and only `secret.key.new` is written."""

    def __init__(self, data_dir: Path, *, managed: bool) -> None:
        self._data_dir, self._managed = data_dir, managed

    @classmethod
    def for_settings(cls, settings: Settings) -> DataDirectoryKeyFiles:
        return cls(settings.data_dir, managed=settings.secret_key_file is not None)

    @property
    def managed(self) -> bool:
        return self._managed

    @property
    def key_path(self) -> Path:
        return self._data_dir / SECRET_KEY_FILE_NAME

    @property
    def pending_path(self) -> Path:
        return self._data_dir / PENDING_SECRET_KEY_FILE_NAME

    @property
    def old_path(self) -> Path:
        return self._data_dir / OLD_SECRET_KEY_FILE_NAME

    def _read(self, path: Path) -> bytes | None:
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise SecretKeyFileError(f"{path}: cannot be read ({error}); it was not written by ltigate") from None
        try:
            return parse_secret_key(text, str(path))
        except SettingsError as error:
            raise SecretKeyFileError(f"{error}; it was not written by ltigate: move it away") from None

    def pending(self) -> bytes | None:
        """The key in `secret.key.new`; None when there is none."""
        return self._read(self.pending_path)

    def old(self) -> bytes | None:
        """The key in `secret.key.old`; None when there is none."""
        return self._read(self.old_path)

    def write_pending(self, key: bytes) -> None:
        try:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            write_whole(self.pending_path, format_secret_key(key).encode())
        except OSError as error:
            raise _failed(self.pending_path, error) from None

    def discard_pending(self) -> None:
        try:
            self.pending_path.unlink(missing_ok=True)
            _sync_directory(self._data_dir)
        except OSError as error:
            raise _failed(self.pending_path, error) from None

    def keep_old(self) -> None:
        """Copy `secret.key` to `secret.key.old`; nothing to do when that holds the same key already (a
        rotation interrupted after this step). Raises SecretKeyFileError when it holds another key."""
        try:
            current = self.key_path.read_bytes()
        except OSError as error:
            raise _failed(self.key_path, error) from None
        kept = self.old()
        if kept is not None:
            if kept != parse_secret_key(current.decode(errors="replace"), str(self.key_path)):
                raise SecretKeyFileError(f"{self.old_path} holds another key than {self.key_path}; move it away")
            return
        try:
            write_whole(self.old_path, current)
        except OSError as error:
            raise _failed(self.old_path, error) from None

    def install_pending(self) -> None:
        """Move `secret.key.new` over `secret.key` in one rename."""
        try:
            os.replace(self.pending_path, self.key_path)
            _sync_directory(self._data_dir)
        except OSError as error:
            raise _failed(self.key_path, error) from None
