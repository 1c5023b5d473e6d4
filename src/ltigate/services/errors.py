"""Errors of the use cases that are not protocol errors: conflicts, missing records, invalid fields."""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    code: ClassVar[str] = "service_error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class InvalidField(ServiceError):
    code = "invalid_field"
    status = 422


class Conflict(ServiceError):
    code = "conflict"
    status = 409


class NotFound(ServiceError):
    code = "not_found"
    status = 404


class Unauthorized(ServiceError):
    code = "unauthorized"
    status = 401


class NotMigrated(ServiceError):
    code = "database_not_migrated"
    status = 503


class StoreUnavailable(ServiceError):
    code = "database_unavailable"
    status = 503


# --- the secret key (encryption at rest; `ltigate rotate-secret`, docs/decisions/0010) ------------------


class SecretKeyMismatch(ServiceError):
    """The secret key in use does not open what the database holds sealed."""

    code = "secret_key_mismatch"
    status = 500


class SealedValuesUnreadable(ServiceError):
    """Some sealed values open with the secret key in use and others do not."""

    code = "sealed_values_unreadable"
    status = 500


class InvalidSecretKey(ServiceError):
    code = "invalid_secret_key"
    status = 422


class SecretKeyUnchanged(ServiceError):
    code = "secret_key_unchanged"
    status = 422


class SecretKeyFileError(ServiceError):
    """A key file cannot be read or written, or one is in the way."""

    code = "secret_key_file_error"
    status = 500


class SecretRotationUnfinished(ServiceError):
    """The database is sealed with a new key that is not in place yet (an interrupted rotation)."""

    code = "secret_rotation_unfinished"
    status = 503
