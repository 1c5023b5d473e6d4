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
