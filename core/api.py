"""DRF glue: our domain errors become clear 4xx answers with a message."""

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from django.core.exceptions import ValidationError as DjangoValidationError

from core import exceptions as domain

_STATUS = {
    domain.NotFound: status.HTTP_404_NOT_FOUND,
    domain.PermissionDenied: status.HTTP_403_FORBIDDEN,
    domain.ValidationError: status.HTTP_400_BAD_REQUEST,
    domain.RateLimited: status.HTTP_429_TOO_MANY_REQUESTS,
}


def exception_handler(exc, context):
    for cls, code in _STATUS.items():
        if isinstance(exc, cls):
            body = {"error": exc.code, "detail": exc.message or str(exc)}
            if exc.field:
                body["field"] = exc.field
            return Response(body, status=code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data.setdefault("error", getattr(exc, "default_code", "error"))
    return response
