"""The two statements of a send: the locking read and the write, each built
once and prepared on the connection.

Every message locks its conversation row (ids then grow in commit order
within a conversation) and needs, for its events, the contact, the assignee
with its user and the campaign. The ORM builds that joined ``SELECT … FOR
UPDATE`` again for every message — on the bench that compilation was over
half of the statement's cost and the largest single share of a message's
CPU (docs/performance.md). The statement's shape never changes, so it is
built here once from the models' metadata, and rows become model instances
through ``Model.from_db`` with each field's database converters applied,
as the ORM does.

The write (:func:`store_message`) inserts the message and saves the
conversation's counters in one statement; a retried ``client_id`` writes
nothing. :func:`lock_conversation` and :func:`store_message` are the
module's interface; the services decide what "nothing found" and "already
stored" mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg

from django.db import connection, models

from ..models import Conversation

#: (attribute path, parent path, relation on the parent); "" is the conversation.
_RELATED: tuple[tuple[str, str, str], ...] = (
    ("contact", "", "contact"),
    ("assignee", "", "assignee"),
    ("assignee.user", "assignee", "user"),
    ("campaign", "", "campaign"),
)


@dataclass(frozen=True)
class _Part:
    path: str
    parent: str
    relation: str
    model: type[models.Model]
    alias: str
    start: int
    fields: tuple[models.Field, ...]
    converters: tuple[tuple[int, tuple[Any, ...], Any], ...]  # (column index, converters, expression)


@cache
def _statement() -> tuple[str, tuple[_Part, ...]]:
    quote = connection.ops.quote_name
    parts: list[_Part] = []
    columns: list[str] = []
    joins: list[str] = []
    models_by_path: dict[str, type[models.Model]] = {"": Conversation}
    optional: dict[str, bool] = {"": False}
    for index, (path, parent, relation) in enumerate((("", "", ""), *_RELATED)):
        alias = f"t{index}"
        if path:
            parent_model = models_by_path[parent]
            fk = parent_model._meta.get_field(relation)
            model = fk.related_model
            models_by_path[path] = model
            parent_alias = next(p.alias for p in parts if p.path == parent)
            # Optional relations, and anything reached through one, are outer joins.
            optional[path] = fk.null or optional[parent]
            kind = "LEFT OUTER JOIN" if optional[path] else "INNER JOIN"
            joins.append(
                f"{kind} {quote(model._meta.db_table)} {alias} "
                f"ON {alias}.{quote(model._meta.pk.column)} = {parent_alias}.{quote(fk.column)}"
            )
        else:
            model = Conversation
        fields = tuple(model._meta.concrete_fields)
        converters = []
        for offset, field in enumerate(fields):
            expression = field.get_col(alias)
            found = tuple(connection.ops.get_db_converters(expression) + expression.get_db_converters(connection))
            if found:
                converters.append((len(columns) + offset, found, expression))
        parts.append(_Part(path, parent, relation, model, alias, len(columns), fields, tuple(converters)))
        columns += [f"{alias}.{quote(field.column)}" for field in fields]
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(Conversation._meta.db_table)} t0 {' '.join(joins)} "
        f"WHERE t0.{quote('id')} = %s AND t0.{quote('account_id')} = %s{{extra}} FOR UPDATE OF t0"
    )
    return sql, tuple(parts)


def lock_conversation(*, account_id: int, conversation_id: int, contact_id: int | None = None) -> Conversation | None:
    """Lock conversation ``conversation_id`` of ``account_id`` (and of
    ``contact_id`` when given) for the current transaction, with its contact,
    assignee (and user) and campaign loaded. ``None`` when there is no such
    row in that account."""
    sql, parts = _statement()
    params: list[Any] = [conversation_id, account_id]
    extra = ""
    if contact_id is not None:
        extra = f" AND t0.{connection.ops.quote_name('contact_id')} = %s"
        params.append(contact_id)
    with _cursor() as cursor:
        cursor.execute(sql.replace("{extra}", extra), params)
        row = cursor.fetchone()
    if row is None:
        return None
    row = list(row)
    for part in parts:
        for index, converters, expression in part.converters:
            value = row[index]
            for converter in converters:
                value = converter(value, expression, connection)
            row[index] = value
    objects: dict[str, models.Model | None] = {}
    for part in parts:
        values = row[part.start : part.start + len(part.fields)]
        pk_index = next(i for i, f in enumerate(part.fields) if f.primary_key)
        if part.path and values[pk_index] is None:
            instance = None
        else:
            instance = part.model.from_db(connection.alias, [f.attname for f in part.fields], values)
        objects[part.path] = instance
        if part.path:
            parent = objects[part.parent]
            if parent is not None:
                # Set the relation's cache as select_related does.
                parent._meta.get_field(part.relation).set_cached_value(parent, instance)
    return objects[""]  # type: ignore[return-value]


# --- The write ------------------------------------------------------------------------


class _PreparedCursor(psycopg.Cursor):
    """Server-side binding, every statement prepared on first use in a
    connection (these few statements run for every message; Django's own
    cursors bind on the client and prepare nothing)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):  # noqa: ANN001
        super().execute(query, params, prepare=True, binary=binary)
        # What Django's query log reads (``last_executed_query``); psycopg
        # leaves it unset for a server-side binding execute.
        self._query = _Shown(query.encode() if isinstance(query, str) else query)
        return self


@dataclass(frozen=True)
class _Shown:
    query: bytes


def _cursor():
    """A :class:`_PreparedCursor` on Django's connection, wrapped as
    ``connection.cursor()`` wraps its own: queries are logged and counted,
    errors become Django's."""
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(_PreparedCursor(connection.connection))


@cache
def _store_statement(update_columns: tuple[str, ...]) -> tuple[str, tuple[models.Field, ...], tuple[models.Field, ...]]:
    from ..models import Message

    quote = connection.ops.quote_name
    fields = tuple(f for f in Message._meta.concrete_fields if not f.primary_key)
    updates = tuple(Conversation._meta.get_field(name) for name in update_columns)
    conversation_table = quote(Conversation._meta.db_table)
    sql = (
        f"WITH ins AS (INSERT INTO {quote(Message._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        # The partial unique index ``message_unique_client_id``: a retried
        # client_id inserts nothing, so nothing is updated or returned.
        f"ON CONFLICT ({quote('conversation_id')}, {quote('client_id')}) WHERE {quote('client_id')} <> '' "
        f"DO NOTHING RETURNING {quote(Message._meta.pk.column)}) "
        f"UPDATE {conversation_table} SET {', '.join(f'{quote(f.column)} = %s' for f in updates)} FROM ins "
        f"WHERE {conversation_table}.{quote(Conversation._meta.pk.column)} = %s "
        f"RETURNING ins.{quote(Message._meta.pk.column)}"
    )
    return sql, fields, updates


def store_message(message: models.Model, conversation: Conversation, update_fields: list[str]) -> bool:
    """Insert a new ``Message`` as ``save()`` would (defaults, ``auto_now``,
    each field's database preparation) and save ``update_fields`` of its
    (locked) conversation, in one prepared statement with no savepoint;
    ``False``, and nothing written, when the message's ``client_id`` is
    already stored in its conversation."""
    sql, fields, updates = _store_statement(tuple(sorted(set(update_fields))))
    params = [field.get_db_prep_save(field.pre_save(message, True), connection) for field in fields]
    params += [field.get_db_prep_save(field.pre_save(conversation, False), connection) for field in updates]
    params.append(conversation.pk)
    with _cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    message.pk = row[0]
    message._state.adding = False
    message._state.db = connection.alias
    return True
