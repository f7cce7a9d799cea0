"""Keyset (cursor) pagination over a selector's own ordering.

The cursor is the sort key of the last row of a page, so a page costs one
index range scan however deep the client goes, and rows that move while a
client pages never make it skip or repeat a row it has not reached yet. The
ordering must end with the primary key (the selectors' orderings do).
PostgreSQL puts NULLs first in a descending order and last in an ascending
one; the filter follows that.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from core.exceptions import ValidationError


def _fields(qs: QuerySet) -> list[tuple[str, bool]]:
    """``[(field name, descending), ...]`` of the queryset's ordering."""
    out = []
    for item in qs.query.order_by:
        if not isinstance(item, str):
            raise TypeError("keyset pagination needs plain field orderings")
        out.append((item.lstrip("-"), item.startswith("-")))
    if not out or out[-1][0] not in ("id", "pk"):
        raise TypeError("keyset pagination needs an ordering that ends with the id")
    return out


def _encode(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str, qs: QuerySet, fields: list[tuple[str, bool]]) -> list[Any]:
    bad = ValidationError(_("Invalid cursor."), field="cursor")
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise bad from None
    if not isinstance(raw, list) or len(raw) != len(fields):
        raise bad
    values = []
    for (name, _desc), value in zip(fields, raw, strict=True):
        field = qs.model._meta.pk if name == "pk" else qs.model._meta.get_field(name)
        if value is None:
            if name in ("id", "pk"):
                raise bad
            values.append(None)
        elif isinstance(field, models.DateTimeField):
            try:
                values.append(datetime.fromisoformat(value))
            except (TypeError, ValueError):
                raise bad from None
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63:
            values.append(value)
        else:
            raise bad
    return values


def _after(name: str, desc: bool, value: Any) -> Q:
    if desc:
        return Q(**{f"{name}__isnull": False}) if value is None else Q(**{f"{name}__lt": value})
    if value is None:
        return Q(pk__in=[])
    return Q(**{f"{name}__gt": value}) | Q(**{f"{name}__isnull": True})


def _equal(name: str, value: Any) -> Q:
    return Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})


def keyset_page(qs: QuerySet, *, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """One page of ``qs`` after ``cursor`` and the cursor of the next page."""
    fields = _fields(qs)
    if cursor:
        values = _decode(cursor, qs, fields)
        condition = Q(pk__in=[])
        for i, (name, desc) in enumerate(fields):
            step = _after(name, desc, values[i])
            for (prev, _d), value in zip(fields[:i], values[:i], strict=True):
                step &= _equal(prev, value)
            condition |= step
        qs = qs.filter(condition)
    rows = list(qs[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], _encode([getattr(last, name) for name, _d in fields])
