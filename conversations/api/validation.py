"""Input checks shared by the API serializers."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.exceptions import ValidationError

from ..consumers.frames import check_json


def json_object(value: Any) -> None:
    """A JSON object PostgreSQL can store (no NUL characters, sane nesting)."""
    if not isinstance(value, dict):
        raise serializers.ValidationError("Must be a JSON object.")
    try:
        check_json(value, field="value")
    except ValidationError as exc:
        raise serializers.ValidationError(exc.message) from None
