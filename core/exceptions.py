"""Domain errors raised by services and selectors.

Views, API views and consumers translate them: ``NotFound`` is a 404 (and an
``error`` frame with code ``not_found``), ``PermissionDenied`` a 403
(``forbidden``), ``ValidationError`` a 400 (``invalid``), ``RateLimited`` a
429 (``rate_limited``).
"""


class CharlaError(Exception):
    code = "error"

    def __init__(self, message: str = "", *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field


class NotFound(CharlaError):
    """Missing, or belongs to another tenant: both answer the same."""

    code = "not_found"


class PermissionDenied(CharlaError):
    code = "forbidden"


class ValidationError(CharlaError):
    code = "invalid"


class RateLimited(CharlaError):
    code = "rate_limited"
