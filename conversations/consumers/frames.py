"""Client frames: parse, validate, and turn errors into ``error`` frames.

Everything here is pure (no I/O) so it runs on the event loop before the one
worker-thread hop a frame may need. Services validate again; this layer only
makes sure they get values of the right type, and that nothing PostgreSQL
cannot store (NUL characters, lone surrogates) gets that far.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.utils.translation import gettext as _

from core import exceptions as domain
from core.realtime import build_frame

MAX_ID = 2**63 - 1
MAX_DEPTH = 8
MAX_CLIENT_ID = 64


class FrameError(domain.ValidationError):
    """A malformed frame (code ``invalid`` unless told otherwise)."""


def parse(text: str | None, *, max_bytes: int) -> tuple[str, dict[str, Any]]:
    """``(type, data)`` of one client frame, or :class:`FrameError`."""
    if text is None:
        raise FrameError(_("Send JSON text frames."))
    if len(text) * 4 > max_bytes and len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise FrameError(_("Frame too large (%(max)s bytes at most).") % {"max": max_bytes}, code="too_large")
    try:
        frame = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise FrameError(_("A frame must be a JSON object.")) from None
    if not isinstance(frame, dict):
        raise FrameError(_("A frame must be a JSON object."))
    kind = frame.get("type")
    if not isinstance(kind, str) or not kind or len(kind) > 64:
        raise FrameError(_("A frame needs a string type."), field="type")
    data = frame.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrameError(_("data must be an object."), field="data")
    return kind, data


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def client_id_of(data: dict[str, Any]) -> str | None:
    """The frame's ``client_id`` when it is usable in an answer."""
    value = data.get("client_id")
    if isinstance(value, str) and 0 < len(value) <= MAX_CLIENT_ID and storable(value):
        return value
    return None


def storable(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_json(value: Any, *, field: str, depth: int = 0) -> Any:
    """Refuse JSON that PostgreSQL's ``jsonb``/``text`` would choke on."""
    if depth > MAX_DEPTH:
        raise FrameError(_("%(field)s is nested too deeply.") % {"field": field}, field=field)
    if isinstance(value, str):
        if not storable(value):
            raise FrameError(_("%(field)s contains characters that cannot be stored.") % {"field": field}, field=field)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_json(key, field=field, depth=depth + 1)
            check_json(item, field=field, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json(item, field=field, depth=depth + 1)
    elif _out_of_range(value):
        raise FrameError(_("%(field)s holds a number out of range.") % {"field": field}, field=field)
    return value


def _out_of_range(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ID


class Fields:
    """Typed access to a frame's ``data``; each getter raises ``FrameError``."""

    def __init__(self, data: dict[str, Any]):
        self.data = data

    def id(self, name: str, *, required: bool = True, minimum: int = 1) -> int | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise FrameError(_("%(field)s is required.") % {"field": name}, field=name)
            return None
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_ID:
            raise FrameError(_("%(field)s must be a positive integer.") % {"field": name}, field=name)
        return value

    def text(self, name: str, *, required: bool = False, max_length: int = 10_000) -> str:
        value = self.data.get(name)
        if value is None:
            if required:
                raise FrameError(_("%(field)s is required.") % {"field": name}, field=name)
            return ""
        if not isinstance(value, str):
            raise FrameError(_("%(field)s must be text.") % {"field": name}, field=name)
        if len(value) > max_length:
            raise FrameError(
                _("%(field)s is too long (%(max)s characters at most).") % {"field": name, "max": max_length},
                field=name, code="too_long",
            )
        if not storable(value):
            raise FrameError(_("%(field)s contains characters that cannot be stored.") % {"field": name}, field=name)
        if required and not value.strip():
            raise FrameError(_("%(field)s is required.") % {"field": name}, field=name)
        return value

    def choice(self, name: str, choices: tuple[str, ...], *, default: str | None = None) -> str:
        value = self.data.get(name, default)
        if value not in choices:
            raise FrameError(
                _("%(field)s must be one of: %(choices)s.") % {"field": name, "choices": ", ".join(choices)},
                field=name,
            )
        return value

    def flag(self, name: str) -> bool:
        value = self.data.get(name, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise FrameError(_("%(field)s must be true or false.") % {"field": name}, field=name)
        return value

    def client_id(self) -> str:
        value = self.text("client_id", required=True, max_length=MAX_CLIENT_ID)
        return value.strip()

    def ids(self, name: str, *, max_items: int = 10) -> list[int]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > max_items:
            raise FrameError(
                _("%(field)s must be a list of at most %(max)s ids.") % {"field": name, "max": max_items}, field=name
            )
        return [Fields({name: item}).id(name) for item in value]

    def obj(self, name: str) -> dict[str, Any] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise FrameError(_("%(field)s must be an object.") % {"field": name}, field=name)
        return check_json(value, field=name)


def error_code(exc: domain.CharlaError) -> str:
    """The category a client acts on; the finer code goes in ``reason``."""
    for cls, code in (
        (domain.NotFound, "not_found"),
        (domain.PermissionDenied, "forbidden"),
        (domain.RateLimited, "rate_limited"),
        (domain.ValidationError, "invalid"),
    ):
        if isinstance(exc, cls):
            return code
    return exc.code or "error"


def error_frame(code: str, message: str, *, client_id: str | None = None, reason: str | None = None,
                field: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"code": code, "message": message}
    if reason and reason != code:
        data["reason"] = reason
    if field:
        data["field"] = field
    if client_id:
        data["client_id"] = client_id
    return build_frame("error", data)


def error_frame_for(exc: domain.CharlaError, *, client_id: str | None = None) -> dict[str, Any]:
    return error_frame(
        error_code(exc), exc.message or str(exc), client_id=client_id, reason=exc.code, field=exc.field
    )
