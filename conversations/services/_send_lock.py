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

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, cached_property
from typing import Any

import psycopg

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from ..models import Conversation


@cache
def _backend() -> Any:
    """Django's database backend for what needs no connection: quoting names,
    preparing values, converting results. One for the process:
    ``django.db.connection`` is per thread and, on an event loop, per task,
    so each new task (a send from the loop) built a new one — and left it as
    garbage for the cyclic collector."""
    return connections.create_connection(DEFAULT_DB_ALIAS)


#: (attribute path, parent path, relation on the parent); "" is the conversation.
_RELATED: tuple[tuple[str, str, str], ...] = (
    ("contact", "", "contact"),
    ("assignee", "", "assignee"),
    ("assignee.user", "assignee", "user"),
    ("campaign", "", "campaign"),
)

#: What a visitor's message shows of each relation (``send_one``: its
#: events, the list row, the SLA due time); the rest is deferred, so a read of
#: another field costs a query (the pinned statement count would show it).
#: The contact's free attributes and page URL, and the user's password and
#: flags, are not fetched for every message.
_SHOWN: dict[str, tuple[str, ...]] = {
    "contact": ("id", "account", "site", "name", "email", "phone", "is_online"),
    "assignee": ("id", "account", "user"),
    "assignee.user": ("id", "name", "email", "avatar"),
    "campaign": ("id", "account", "name", "sla_unanswered_minutes"),
}


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

    @cached_property
    def attnames(self) -> tuple[str, ...]:
        return tuple(f.attname for f in self.fields)

    @cached_property
    def pk_index(self) -> int:
        return next(i for i, f in enumerate(self.fields) if f.primary_key)


def _joined(*, outer: bool, only: dict[str, tuple[str, ...]] | None = None) -> tuple[list[str], str, tuple[_Part, ...]]:
    """The columns of the conversation (``t0``) and of ``_RELATED``, the
    joins from ``t0`` that reach them, and how to split a row into models.
    ``outer``: every join is an outer one (``t0`` may be all null);
    ``only``: the fields to load of some relations (the others deferred)."""
    quote = _backend().ops.quote_name
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
            optional[path] = outer or fk.null or optional[parent]
            kind = "LEFT OUTER JOIN" if optional[path] else "INNER JOIN"
            joins.append(
                f"{kind} {quote(model._meta.db_table)} {alias} "
                f"ON {alias}.{quote(model._meta.pk.column)} = {parent_alias}.{quote(fk.column)}"
            )
        else:
            model = Conversation
        fields = tuple(model._meta.concrete_fields)
        if only and path in only:  # in the model's order, as ``Model.from_db`` reads them
            for name in only[path]:
                model._meta.get_field(name)  # a typo fails here, not as a deferred read
            fields = tuple(f for f in fields if f.name in only[path])
        converters = []
        for offset, field in enumerate(fields):
            expression, found = _converters(field, alias)
            if found:
                converters.append((len(columns) + offset, found, expression))
        parts.append(_Part(path, parent, relation, model, alias, len(columns), fields, tuple(converters)))
        columns += [f"{alias}.{quote(field.column)}" for field in fields]
    return columns, " ".join(joins), tuple(parts)


def _converters(field: models.Field, alias: str) -> tuple[Any, tuple[Any, ...]]:
    """The column expression of ``field`` and the converters its value from
    the database goes through (as the ORM applies them)."""
    expression = field.get_col(alias)
    return expression, tuple(_backend().ops.get_db_converters(expression) + expression.get_db_converters(_backend()))


def _convert(value: Any, expression: Any, converters: tuple[Any, ...]) -> Any:
    for converter in converters:
        value = converter(value, expression, _backend())
    return value


@cache
def _statement() -> tuple[str, tuple[_Part, ...]]:
    quote = _backend().ops.quote_name
    columns, joins, parts = _joined(outer=False)
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(Conversation._meta.db_table)} t0 {joins} "
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
        extra = f" AND t0.{_backend().ops.quote_name('contact_id')} = %s"
        params.append(contact_id)
    with _cursor() as cursor:
        cursor.execute(sql.replace("{extra}", extra), params)
        row = cursor.fetchone()
    if row is None:
        return None
    return _models(list(row), parts)


def _models(row: list[Any], parts: tuple[_Part, ...]) -> Conversation:
    """The conversation of ``row`` (see ``_joined``), its relations cached."""
    for part in parts:
        for index, converters, expression in part.converters:
            row[index] = _convert(row[index], expression, converters)
    objects: dict[str, models.Model | None] = {}
    alias = _backend().alias
    for part in parts:
        values = row[part.start : part.start + len(part.fields)]
        if part.path and values[part.pk_index] is None:
            instance = None
        else:
            instance = _from_db(part.model, alias, part.attnames, values)
        objects[part.path] = instance
        if part.path:
            parent = objects[part.parent]
            if parent is not None:
                # Set the relation's cache as select_related does.
                parent._meta.get_field(part.relation).set_cached_value(parent, instance)
    return objects[""]  # type: ignore[return-value]


def _from_db(model: type[models.Model], alias: str, attnames: tuple[str, ...], values: list[Any]) -> models.Model:
    """``model.from_db(alias, attnames, values)``, the same instance, built
    without ``Model.__init__``'s walk over every field (which only sets each
    loaded attribute: the descriptors of these fields store the value as
    is). Unloaded fields are deferred, as there. Through ``from_db`` when
    anything listens to the model's ``pre_init``/``post_init``."""
    instance = _bare(model)
    if instance is None:
        return model.from_db(alias, list(attnames), values)
    instance._state.adding = False
    instance._state.db = alias
    instance.__dict__.update(zip(attnames, values, strict=True))
    return instance


def _bare(model: type[models.Model]) -> models.Model | None:
    """An instance of ``model`` with a fresh state and no attributes, or
    ``None`` when anything listens to its ``pre_init``/``post_init`` (the
    caller then goes through ``Model.__init__``, which sends them)."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return None
    instance = model.__new__(model)
    instance._state = ModelState()
    return instance


@cache
def _blank(model: type[models.Model]) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    """Each field's default, as ``Model.__init__`` takes it: the constant
    ones, and the callables to call per instance."""
    constant: dict[str, Any] = {}
    computed = []
    for field in model._meta.concrete_fields:
        if field.has_default() and callable(field.default):
            computed.append((field.attname, field.get_default))
        else:
            constant[field.attname] = field.get_default()
    return constant, tuple(computed)


def new_instance(model: type[models.Model], relations: dict[str, models.Model | None], **values: Any) -> models.Model:
    """``model(**relations, **values)``, the same unsaved instance, built
    without ``Model.__init__``'s walk over every field and keyword (a
    twentieth of a visitor's send). ``values`` by attribute name (``*_id``
    for a foreign key's id); ``relations``: foreign keys by field name, to
    an instance or ``None``, cached as ``__init__`` caches them. Through
    ``__init__`` when anything listens to the model's ``pre_init``/``post_init``."""
    instance = _bare(model)
    if instance is None:
        return model(**relations, **values)
    attributes = instance.__dict__
    constant, computed = _blank(model)
    attributes.update(constant)
    for attname, default in computed:
        if attname not in values:
            attributes[attname] = default()
    attributes.update(values)
    for name, related in relations.items():
        field = model._meta.get_field(name)
        attributes[field.attname] = None if related is None else getattr(related, field.target_field.attname)
        field.set_cached_value(instance, related)
    return instance


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


# --- What a message does to its conversation ----------------------------------------

_IN_WINDOW = "flood_since > {now} - {window}"


@cache
def counters(sender_type: str, kind: str) -> tuple[tuple[str, str], ...]:
    """The conversation's fields a message of ``sender_type`` and ``kind``
    changes, each as SQL over the row's values before the update (``{now}``
    is the message's ``created_at``, ``{preview}`` its list preview,
    ``{window}`` the flood limit's window). The database applies them to the
    locked row, so no send needs to have read the values first;
    ``store_message``/``send_one`` return the results."""
    from ..models import Message

    Status = Conversation.Status
    note = kind == Message.Kind.NOTE
    sets = [("message_count", "message_count + 1"), ("last_message_at", "{now}"), ("updated_at", "{now}")]
    if not note:
        sets.append(("last_message_preview", "{preview}"))
    if sender_type == Message.Sender.CONTACT:
        sets += [
            ("first_contact_message_at", "COALESCE(first_contact_message_at, {now})"),
            ("last_contact_message_at", "{now}"),
            ("unread_agent", "unread_agent + 1"),
            ("awaiting_reply_since", "COALESCE(awaiting_reply_since, {now})"),
            # A visitor's message wakes a snoozed conversation. (Every SET
            # reads the row as it was: both lines see the old status.)
            ("status", f"CASE WHEN status = '{Status.SNOOZED}' THEN CASE WHEN assignee_id IS NULL "
                       f"THEN '{Status.QUEUED}' ELSE '{Status.ASSIGNED}' END ELSE status END"),
            ("snoozed_until", f"CASE WHEN status = '{Status.SNOOZED}' THEN NULL ELSE snoozed_until END"),
            # The visitor's messages in the current flood window.
            ("flood_count", f"CASE WHEN {_IN_WINDOW} THEN flood_count + 1 ELSE 1 END"),
            ("flood_since", f"CASE WHEN {_IN_WINDOW} THEN flood_since ELSE {{now}} END"),
        ]
    elif sender_type == Message.Sender.AGENT and not note:
        sets += [
            ("first_agent_response_at", "COALESCE(first_agent_response_at, {now})"),
            ("last_agent_message_at", "{now}"),
            ("unread_contact", "unread_contact + 1"),
            ("awaiting_reply_since", "NULL"),
            ("sla_warned_at", "NULL"),
            ("sla_breached_at", "NULL"),
        ]
    elif sender_type == Message.Sender.BOT:
        sets.append(("unread_contact", "unread_contact + 1"))
    return tuple(sets)


@dataclass(frozen=True)
class _Sql:
    """SQL with ``%s`` placeholders, and what each one takes, in order: a
    message field, or the name of a value (``"now"``, ``"preview"``,
    ``"window"``, ``"limit"``, ``"conversation"``, …)."""

    text: str
    slots: tuple[Any, ...] = ()

    @cached_property
    def preparers(self) -> tuple[Any, ...]:
        """How :func:`_params` prepares each slot's value (``_preparer``)."""
        return tuple(None if isinstance(slot, str) else _preparer(slot) for slot in self.slots)

    def __add__(self, other: _Sql | str) -> _Sql:
        other = _sql(other) if isinstance(other, str) else other
        return _Sql(self.text + other.text, self.slots + other.slots)


_TOKEN = re.compile(r"\{([a-z_]+)\}")


def _sql(text: str) -> _Sql:
    """``{name}`` in ``text`` becomes a placeholder taking the value ``name``."""
    pieces = _TOKEN.split(text)  # text, name, text, name, …, text
    return _Sql("".join(p if i % 2 == 0 else "%s" for i, p in enumerate(pieces)), tuple(pieces[1::2]))


@cache
def _write(sets: tuple[tuple[str, str], ...], rows_from: str = "") -> tuple[_Sql, _Sql]:
    """``ins AS (INSERT …)`` for a ``WITH`` (a retried client_id inserts
    nothing, so no row), and the ``UPDATE … FROM ins`` of the counters of
    ``sets`` without its ``RETURNING``. ``rows_from``: insert one row per row
    of that relation (the locking read of ``send_one``) instead of one."""
    from ..models import Message

    quote = _backend().ops.quote_name
    fields = tuple(f for f in Message._meta.concrete_fields if not f.primary_key)
    table = quote(Conversation._meta.db_table)
    values = _Sql(", ".join(["%s"] * len(fields)), fields)
    ins = (
        _sql(f"ins AS (INSERT INTO {quote(Message._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) ")
        + (_sql("SELECT ") + values + f" FROM {rows_from} " if rows_from else _sql("VALUES (") + values + ") ")
        # The partial unique index ``message_unique_client_id``.
        + f"ON CONFLICT ({quote('conversation_id')}, {quote('client_id')}) WHERE {quote('client_id')} <> '' "
        f"DO NOTHING RETURNING {quote(Message._meta.pk.column)})"
    )
    assignments = ", ".join(f"{quote(Conversation._meta.get_field(name).column)} = {sql}" for name, sql in sets)
    update = _sql(
        f"UPDATE {table} SET {assignments} FROM ins WHERE {table}.{quote(Conversation._meta.pk.column)} = {{conversation}}"
    )
    return ins, update


#: How :func:`_params` prepares a field's value: the time of the save
#: (``auto_now``/``auto_now_add``, set on the instance as ``pre_save`` does),
#: or the value as is when it is of these types (what the field's
#: ``get_db_prep_save`` returns for it on PostgreSQL: any string for a text
#: field, choices included; exactly an ``int``, ``bool`` or aware
#: ``datetime`` for the others); anything else goes through the field.
_NOW = "now"
_TEXT = (str,)
_AS_IS = {
    models.CharField: _TEXT,
    models.TextField: _TEXT,
    models.ForeignKey: (int,),
    models.BigIntegerField: (int,),
    models.IntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.BooleanField: (bool,),
    models.DateTimeField: (datetime,),
}


def _preparer(field: models.Field) -> Any:
    if isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add):
        return _NOW
    return _AS_IS.get(type(field))


def _as_is(value: Any, how: tuple[type, ...]) -> bool:
    if how is _TEXT:
        return isinstance(value, str)
    kind = type(value)
    return kind in how and (kind is not datetime or value.tzinfo is not None)


def _prepared(slot: models.Field, how: Any, message: models.Model, now: datetime) -> Any:
    if how is _NOW:
        setattr(message, slot.attname, now)
        return now
    if how is not None:
        value = message.__dict__.get(slot.attname)
        if value is None or _as_is(value, how):
            return value
    return slot.get_db_prep_save(slot.pre_save(message, True), _backend())


def _params(sql: _Sql, message: models.Model, **named: Any) -> list[Any]:
    """The values of ``sql``'s placeholders: each message field's value as
    ``save()`` would store it (``auto_now`` fields take one time, the
    message's ``created_at``, also ``{now}``), each named value from ``named``."""
    now = timezone.now()
    named["now"] = now
    return [
        named[slot] if isinstance(slot, str) else _prepared(slot, how, message, now)
        for slot, how in zip(sql.slots, sql.preparers, strict=True)
    ]


def _inserted(message: models.Model, pk: int) -> None:
    message.pk = pk
    message._state.adding = False
    message._state.db = _backend().alias


@cache
def _store_statement(sets: tuple[tuple[str, str], ...]) -> tuple[_Sql, tuple[tuple[str, Any, tuple[Any, ...]], ...]]:
    """``store_message``'s statement for ``sets``, and what it returns after
    the message's id: each changed field's attribute, expression and
    converters."""
    quote = _backend().ops.quote_name
    table = Conversation._meta.db_table
    ins, update = _write(sets)
    fields = [Conversation._meta.get_field(name) for name, _ in sets]
    returning = ", ".join([f"ins.{quote('id')}", *(f"{quote(table)}.{quote(f.column)}" for f in fields)])
    returned = tuple((f.attname, *_converters(f, table)) for f in fields)
    return _sql("WITH ") + ins + " " + update + f" RETURNING {returning}", returned


def store_message(message: models.Model, conversation: Conversation, *, preview: str, window: timedelta) -> bool:
    """Insert a new ``Message`` as ``save()`` would (defaults, ``auto_now``,
    each field's database preparation) and apply its ``counters`` to its
    conversation (locked by the caller), in one prepared statement with no
    savepoint; ``conversation`` then holds the new values. ``False``, and
    nothing written, when the message's ``client_id`` is already stored in
    its conversation. ``window``: the flood limit's."""
    sql, returned = _store_statement(counters(message.sender_type, message.kind))
    with _cursor() as cursor:
        cursor.execute(
            sql.text, _params(sql, message, preview=preview[:200], window=window, conversation=conversation.pk)
        )
        row = cursor.fetchone()
    if row is None:
        return False
    _inserted(message, row[0])
    for (attname, expression, converters), value in zip(returned, row[1:], strict=True):
        setattr(conversation, attname, _convert(value, expression, converters))
    return True


@dataclass(frozen=True)
class Sent:
    """What :func:`send_one` did. ``found``: the visitor's open conversation
    of that id exists (otherwise nothing was written). ``conversation`` is
    it, as stored, when the message was ``created``; nothing is written when
    the visitor is ``flooded`` (over their ``limit``) or for a retried
    ``client_id`` (``retry``)."""

    found: bool
    conversation: Conversation | None = None
    flooded: bool = False
    status_before: str = ""

    @property
    def created(self) -> bool:
        return self.conversation is not None

    @property
    def retry(self) -> bool:
        return self.found and not self.created and not self.flooded


@cache
def _one_statement(sets: tuple[tuple[str, str], ...]) -> tuple[_Sql, tuple[_Part, ...], int]:
    quote = _backend().ops.quote_name
    table = quote(Conversation._meta.db_table)
    pk, status = quote(Conversation._meta.pk.column), quote("status")
    ins, update = _write(sets, rows_from="c WHERE c.flood < {limit}")
    columns, joins, parts = _joined(outer=True, only=_SHOWN)
    sql = (
        _sql(
            f"WITH c AS (SELECT {pk}, {status}, CASE WHEN {_IN_WINDOW} THEN flood_count ELSE 0 END AS flood "
            f"FROM {table} WHERE {pk} = {{conversation}} AND {quote('account_id')} = {{account}} "
            f"AND {quote('contact_id')} = {{contact}} AND {status} <> '{Conversation.Status.CLOSED}' FOR UPDATE), "
        )
        + ins + ", upd AS (" + update + f" RETURNING {table}.*) "
        + f"SELECT {', '.join(columns)}, c.{status}, c.flood, (SELECT {pk} FROM ins) "
        f"FROM c LEFT JOIN upd t0 ON TRUE {joins}"
    )
    return sql, parts, len(columns)


def send_one(message: models.Model, *, account_id: int, contact_id: int, preview: str, window: timedelta,
             limit: int | None) -> Sent:
    """A contact's message into its open conversation in one statement, no
    transaction: the conversation row is locked (``FOR UPDATE``, so ids grow
    in commit order), the message inserted unless the visitor sent ``limit``
    messages in the current ``window`` already, the ``counters`` applied,
    then the conversation read back with what its events show (as
    :func:`lock_conversation` loads it). :func:`send_one_async` is the same
    on an asynchronous connection."""
    statement = _one_statement(counters(message.sender_type, message.kind))
    params = _one_params(statement[0], message, account_id=account_id, contact_id=contact_id, preview=preview,
                         window=window, limit=limit)
    with _cursor() as cursor:
        cursor.execute(statement[0].text, params)
        row = cursor.fetchone()
    return _sent(statement, message, row, limit=limit)


async def send_one_async(aconnection: Any, message: models.Model, *, account_id: int, contact_id: int, preview: str,
                         window: timedelta, limit: int | None) -> Sent:
    """:func:`send_one` on a ``psycopg.AsyncConnection`` (``core.adb``),
    from the event loop: the same statement, the same parameters, the same
    reading of its row."""
    statement = _one_statement(counters(message.sender_type, message.kind))
    params = _one_params(statement[0], message, account_id=account_id, contact_id=contact_id, preview=preview,
                         window=window, limit=limit)
    cursor = await aconnection.execute(statement[0].text, params, prepare=True)
    row = await cursor.fetchone()
    return _sent(statement, message, row, limit=limit)


def _one_params(sql: _Sql, message: models.Model, *, account_id: int, contact_id: int, preview: str,
                window: timedelta, limit: int | None) -> list[Any]:
    return _params(
        sql, message, conversation=message.conversation_id, account=account_id, contact=contact_id,
        preview=preview[:200], window=window, limit=_NO_LIMIT if limit is None else limit,
    )


def _sent(statement: tuple[_Sql, tuple[_Part, ...], int], message: models.Model, row: Any, *,
          limit: int | None) -> Sent:
    if row is None:
        return Sent(found=False)
    _sql_, parts, width = statement
    status_before, flood, message_id = row[width], row[width + 1], row[width + 2]
    if message_id is None:
        return Sent(found=True, flooded=limit is not None and flood >= limit, status_before=status_before)
    _inserted(message, message_id)
    return Sent(found=True, conversation=_models(list(row[:width]), parts), status_before=status_before)


_NO_LIMIT = 2**31 - 1
