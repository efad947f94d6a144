"""Errors a service function raises; the app turns each into one HTTP status.

Service functions never build HTTP responses: they raise these (or
:class:`lastmile.exceptions.InputError`, which becomes 422) and the handlers
in ``app.py`` answer with ``{"detail": ..., "errors": [...]}``.
"""

from __future__ import annotations

from dataclasses import dataclass


class ServiceError(Exception):
    """Base class; ``status_code`` is the HTTP status it maps to."""

    status_code = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotAuthenticated(ServiceError):
    """No credentials, or credentials that are unknown, expired or revoked."""

    status_code = 401


class Forbidden(ServiceError):
    """Authenticated, but this role (or this driver) may not do that."""

    status_code = 403


class NotFound(ServiceError):
    """No such object in the caller's organisation (other tenants' objects do not exist)."""

    status_code = 404


class Conflict(ServiceError):
    """The request clashes with the current state (duplicate, already dispatched, ...)."""

    status_code = 409


class TooManyRequests(ServiceError):
    status_code = 429

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem in the input: ``row`` (1-based data row of a file, if any),
    ``column`` (or field), and the reason."""

    reason: str
    column: str = ""
    row: int | None = None


class Unprocessable(ServiceError):
    """Input that is well-formed but wrong; lists every problem found, not only the first."""

    status_code = 422

    def __init__(self, detail: str, errors: list[FieldError]) -> None:
        super().__init__(detail)
        self.errors = errors
