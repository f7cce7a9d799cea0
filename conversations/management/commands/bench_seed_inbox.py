"""Fill one tenant with a large inbox for ``bench/inbox_render.py``.

    python manage.py bench_seed_inbox                       # 100,000 conversations, 1,000,000 messages
    python manage.py bench_seed_inbox --conversations 20000 --messages 200000 --reset

Rows are generated inside PostgreSQL (``INSERT … SELECT … generate_series``),
so a million messages take seconds, not the minutes an ORM loop would. The
tenant gets agents, a supervisor and campaigns; 80 % of the conversations are
closed, 5 % wait in the queue, the rest are assigned round-robin. One
conversation with 500 messages belongs to the known agent
``agent@bench.charla.test``.

Columns are listed from the models, so a field added later gets its Python
default instead of breaking the command.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from accounts.models import Account, Membership, Site, User
from conversations.models import Attachment, CannedResponse, Contact, Conversation, Message, PageView

PASSWORD = "bench-pass-123"
KNOWN_AGENT = "agent@bench.charla.test"
SUPERVISOR = "supervisor@bench.charla.test"
BIG_THREAD = 500
TEXT_FIELDS = ("CharField", "TextField", "SlugField", "EmailField", "URLField", "FileField", "ImageField")


class P:
    """A bound parameter inside an :func:`insert_sql` expression map."""

    def __init__(self, value: Any):
        self.value = value


def insert_sql(model, expressions: dict[str, str | P], source: str, source_params: list[Any] = ()) -> tuple[str, list[Any]]:
    """``INSERT INTO <table> (<every concrete column>) SELECT <expr>, … <source>``.

    ``expressions`` maps a column to raw SQL or to ``P(value)``; any other
    column gets its field's Python default as a parameter.
    """
    columns, selects, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        expression = expressions.get(field.column)
        if isinstance(expression, str):
            selects.append(expression.replace("%", "%%"))  # raw SQL: a literal % is modulo
            continue
        if isinstance(expression, P):
            value = expression.value
        else:
            value = field.get_default() if field.has_default() else None
            if value is None and not field.null and field.get_internal_type() in TEXT_FIELDS:
                value = ""
        if isinstance(value, (dict, list)):
            selects.append("%s::jsonb")
            value = json.dumps(value)
        else:
            selects.append("%s")
        params.append(value)
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selects)} {source}", [*params, *source_params]


def sql_array(values: list[str]) -> str:
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"(ARRAY[{quoted}])"


class Command(BaseCommand):
    help = "Generate a large inbox (conversations and messages) in one tenant for benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--conversations", type=int, default=100_000)
        parser.add_argument("--messages", type=int, default=1_000_000)
        parser.add_argument("--agents", type=int, default=20)
        parser.add_argument("--account", default="bench", help="slug of the benchmark tenant (created when missing)")
        parser.add_argument("--reset", action="store_true", help="delete the tenant's conversations and contacts first (always done when it has some)")
        parser.add_argument("--batch", type=int, default=250_000, help="messages per INSERT statement")

    def log(self, text: str) -> None:
        self.stdout.write(f"[{time.monotonic() - self.started:6.1f}s] {text}")

    def handle(self, *args, **options):
        n_conv, n_msg = options["conversations"], options["messages"]
        if n_conv < 2 or n_msg < BIG_THREAD + n_conv - 1:
            raise CommandError(f"Need at least 2 conversations, and {BIG_THREAD} messages plus one per other conversation.")
        self.started = time.monotonic()
        account, agents, supervisor, campaigns, sites = self.tenant(options["account"], max(2, options["agents"]))
        known = agents[0]
        with transaction.atomic():
            self.skip_fk_checks()
            if options["reset"] or Conversation.objects.filter(account=account).exists():
                self.reset(account)
            self.contacts(account, sites, n_conv)
            big_id = self.conversations(account, agents, campaigns, n_conv, known)
            self.messages(account, big_id, n_msg - BIG_THREAD, options["batch"])
            self.big_thread(account, big_id, known)
            self.counters(account)
            self.page_views(account, big_id)
        with connection.cursor() as cursor:
            # As autovacuum would: statistics for the planner, and the visibility
            # map that lets counts use index-only scans.
            for model in (Contact, Conversation, Message, PageView):
                cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        self.log("vacuumed and analyzed")
        counts = {
            "conversations": Conversation.objects.filter(account=account).count(),
            "messages": Message.objects.filter(account=account).count(),
            "queue": Conversation.objects.filter(account=account, status=Conversation.Status.QUEUED).count(),
            "mine (known agent)": Conversation.objects.filter(account=account, assignee=known).exclude(status=Conversation.Status.CLOSED).count(),
        }
        self.log(f"done: {counts}")
        self.stdout.write(self.style.SUCCESS(
            f"Tenant '{account.slug}' (id {account.pk}). Known agent {KNOWN_AGENT} / {PASSWORD} "
            f"(membership {known.pk}); supervisor {SUPERVISOR} (membership {supervisor.pk}). "
            f"The {BIG_THREAD}-message conversation: {big_id}."
        ))

    # --- steps ------------------------------------------------------------------------------

    def skip_fk_checks(self) -> None:
        """Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: committing a
        million generated rows would re-check each reference at COMMIT (minutes).
        The rows are consistent by construction, so a superuser skips the
        triggers for this transaction; anyone else checks per statement."""
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
            self.log("foreign-key triggers off for this transaction (superuser)")
        except Exception:  # noqa: BLE001 - not a superuser: keep the checks, run them early
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            self.log("foreign keys checked per statement")

    def tenant(self, slug: str, n_agents: int):
        account, _ = Account.objects.get_or_create(slug=slug, defaults={"name": "Bench Motors"})
        sites = [
            Site.objects.get_or_create(account=account, name=name, defaults={"allowed_domains": ["bench.example.test"]})[0]
            for name in ("bench.example.test", "Second site", "Third site")
        ]

        password = make_password(PASSWORD)  # hash once: hashing is the slow part of creating users

        def member(email: str, name: str, role: str) -> Membership:
            user = User.objects.filter(email=email).first() or User.objects.create(email=email, password=password, name=name)
            membership, _ = Membership.objects.get_or_create(
                account=account, user=user,
                defaults={"role": role, "capacity": 1000, "availability": Membership.Availability.ONLINE},
            )
            return membership

        agents = [member(KNOWN_AGENT, "Ana Bench", Membership.Role.AGENT)]
        agents += [member(f"agent{i:02d}@bench.charla.test", f"Agent {i:02d}", Membership.Role.AGENT) for i in range(1, n_agents)]
        supervisor = member(SUPERVISOR, "Sofía Bench", Membership.Role.SUPERVISOR)
        campaign_model = Conversation._meta.get_field("campaign").related_model
        campaigns = [campaign_model.objects.get_or_create(account=account, name=name)[0] for name in ("Home", "Motor", "Health")]
        for shortcut, content in (("hello", "Hello! How can I help?"), ("price", "The price includes VAT."), ("bye", "Thanks, bye!")):
            CannedResponse.objects.get_or_create(account=account, owner=None, shortcut=shortcut, defaults={"content": content})
        self.log(f"tenant '{account.slug}': {len(agents)} agents, 1 supervisor, {len(campaigns)} campaigns, {len(sites)} sites")
        return account, agents, supervisor, campaigns, sites

    def reset(self, account: Account) -> None:
        with connection.cursor() as cursor:
            for table in (
                Attachment._meta.db_table, Message._meta.db_table, PageView._meta.db_table,
                "conversations_assignmentlog", "conversations_notification",
                Conversation._meta.db_table, Contact._meta.db_table,
            ):
                cursor.execute(f"DELETE FROM {table} WHERE account_id = %s", [account.pk])
        self.log("reset: the tenant's conversations, messages and contacts deleted")

    def contacts(self, account: Account, sites: list[Site], n: int) -> None:
        first = sql_array(["Ana", "Luis", "María", "Jorge", "Lucía", "Pedro", "Elena", "Diego", "Laura", "Pablo", "Marta", "Sergio"])
        last = sql_array(["García", "López", "Martín", "Sánchez", "Pérez", "Gómez", "Díaz", "Ruiz", "Torres", "Vidal"])
        site_ids = ",".join(str(s.pk) for s in sites)
        sql, params = insert_sql(Contact, {
            "account_id": P(account.pk),
            "site_id": f"(ARRAY[{site_ids}])[1 + (g % 10 = 0)::int + (g % 20 = 0)::int]",
            "created_at": "now() - (g * interval '30 seconds')",
            "updated_at": "now()",
            "user_id": "'bench-' || g",
            "name": f"{first}[1 + g % 12] || ' ' || {last}[1 + (g / 12) % 10] || ' ' || g",
            "email": "'customer' || g || '@mail.example.test'",
            "phone": "'+34 6' || lpad((g % 100000000)::text, 8, '0')",
            "document_number": "CASE WHEN g % 3 = 0 THEN 'X' || lpad(g::text, 7, '0') || 'Z' ELSE '' END",
            "attributes": "jsonb_build_object('plan', (ARRAY['free','pro','business'])[1 + g % 3])",
            "locale": "'es'",
            "country": "(ARRAY['ES','MX','AR','CO'])[1 + g % 4]",
            "first_seen_at": "now() - (g * interval '30 seconds')",
            "last_seen_at": "now() - (g * interval '10 seconds')",
            "visit_count": "1 + g % 9",
            "current_page_url": "'https://bench.example.test/cars/' || (g % 500)",
            "current_page_title": "'Car ' || (g % 500)",
            "is_online": "false",
            "token_version": "1",
        }, "FROM generate_series(1, %s) AS g", [n])
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        self.log(f"{n:,} contacts")

    def conversations(self, account: Account, agents: list[Membership], campaigns, n: int, known: Membership) -> int:
        agent_ids = ",".join(str(a.pk) for a in agents)
        campaign_ids = ",".join(str(c.pk) for c in campaigns)
        # status by g % 100: 0-79 closed, 80-84 queued, 85-99 assigned (round-robin over the agents)
        status = "CASE WHEN g % 100 < 80 THEN 'closed' WHEN g % 100 < 85 THEN 'queued' ELSE 'assigned' END"
        created = "now() - (g * interval '25 seconds')"
        sql, params = insert_sql(Conversation, {
            "account_id": P(account.pk),
            "created_at": created,
            "updated_at": created,
            "site_id": "c.site_id",
            "channel": "CASE WHEN g % 10 = 7 THEN 'whatsapp' WHEN g % 10 = 9 THEN 'sms' ELSE 'web' END",
            "contact_id": "c.id",
            "campaign_id": f"CASE WHEN g % 4 = 0 THEN (ARRAY[{campaign_ids}])[1 + (g / 4) % {len(campaigns)}] END",
            "status": status,
            # round-robin: each block of 100 hands its 15 open ones to the next 15 agents
            "assignee_id": f"CASE WHEN g % 100 >= 85 THEN (ARRAY[{agent_ids}])[1 + ((g / 100) * 15 + g % 100) % {len(agents)}] "
                           f"WHEN g % 100 < 80 THEN (ARRAY[{agent_ids}])[1 + g % {len(agents)}] END",
            "priority": "CASE WHEN g % 50 = 0 THEN 3 WHEN g % 10 = 0 THEN 2 WHEN g % 7 = 0 THEN 0 ELSE 1 END",
            "outcome": "CASE WHEN g % 100 < 80 THEN (ARRAY['resolved','purchased','not_interested','offer_made'])[1 + g % 4] ELSE 'pending' END",
            "close_reason": "CASE WHEN g % 100 < 80 THEN 'agent' ELSE '' END",
            "queued_at": created,
            "assigned_at": f"CASE WHEN g % 100 < 80 OR g % 100 >= 85 THEN {created} + interval '1 minute' END",
            "first_contact_message_at": created,
            "last_contact_message_at": created,
            "last_message_at": created,
            "closed_at": f"CASE WHEN g % 100 < 80 THEN {created} + interval '2 hours' END",
            "awaiting_reply_since": f"CASE WHEN g % 100 BETWEEN 80 AND 84 THEN {created} END",
            "unread_agent": "CASE WHEN g % 100 >= 80 THEN g % 3 ELSE 0 END",
            "context": "CASE WHEN g % 5 = 0 THEN jsonb_build_object('title', 'Car ' || (g % 500), 'url', 'https://bench.example.test/cars/' || (g % 500), 'price', (9000 + g % 20000) || ' €') ELSE '{}'::jsonb END",
        }, "FROM (SELECT id, site_id, row_number() OVER (ORDER BY id) AS g FROM conversations_contact WHERE account_id = %s) AS c",
            [account.pk])
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            # The big thread: the newest conversation, assigned to the known agent.
            cursor.execute(
                "SELECT max(id) FROM conversations_conversation WHERE account_id = %s", [account.pk]
            )
            big_id = cursor.fetchone()[0]
            cursor.execute(
                "UPDATE conversations_conversation SET status = 'assigned', assignee_id = %s, closed_at = NULL, "
                "close_reason = '', outcome = 'pending', priority = 2, created_at = now() - interval '3 days', "
                "context = %s::jsonb WHERE id = %s",
                [known.pk, json.dumps({"title": "2019 Toyota Corolla Hybrid", "url": "https://bench.example.test/cars/1", "price": "18.900 €"}), big_id],
            )
        self.log(f"{n:,} conversations (80% closed, 5% queued, 15% assigned)")
        return big_id

    def messages(self, account: Account, big_id: int, n: int, batch: int) -> None:
        topics = sql_array(["the price", "financing", "the blue car", "a test drive", "the warranty", "delivery", "the trade-in"])
        done = 0
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bench_conv ON COMMIT DROP AS SELECT id, assignee_id, created_at, "
                "(row_number() OVER (ORDER BY id) - 1) AS idx FROM conversations_conversation "
                "WHERE account_id = %s AND id <> %s",
                [account.pk, big_id],
            )
            cursor.execute("CREATE INDEX ON bench_conv (idx)")
            cursor.execute("SELECT count(*) FROM bench_conv")
            conversations = cursor.fetchone()[0]
            while done < n:
                size = min(batch, n - done)
                sender = f"CASE WHEN (g / {conversations}) % 2 = 0 THEN 'contact' ELSE 'agent' END"
                when = f"c.created_at + ((g / {conversations}) * interval '3 minutes')"
                sql, params = insert_sql(Message, {
                    "account_id": P(account.pk),
                    "created_at": when,
                    "updated_at": when,
                    "conversation_id": "c.id",
                    "sender_type": f"CASE WHEN c.assignee_id IS NULL THEN 'contact' ELSE {sender} END",
                    "sender_membership_id": f"CASE WHEN c.assignee_id IS NOT NULL AND {sender} = 'agent' THEN c.assignee_id END",
                    "kind": "'text'",
                    "content": f"'Message ' || g || ' about ' || {topics}[1 + g % 7] || '.'",
                    "status": "'read'",
                    "sent_at": when,
                    "read_at": when,
                }, "FROM generate_series(%s, %s) AS g JOIN bench_conv AS c ON c.idx = g %% %s",
                    [done, done + size - 1, conversations])
                cursor.execute(sql, params)
                done += size
                self.log(f"{done:,} / {n:,} messages")

    def big_thread(self, account: Account, big_id: int, known: Membership) -> None:
        when = "now() - interval '3 days' + (g * interval '8 minutes')"
        sender = "CASE WHEN g % 25 = 0 THEN 'system' WHEN g % 2 = 0 THEN 'agent' ELSE 'contact' END"
        sql, params = insert_sql(Message, {
            "account_id": P(account.pk),
            "created_at": when,
            "updated_at": when,
            "conversation_id": P(big_id),
            "sender_type": sender,
            "sender_membership_id": f"CASE WHEN {sender} = 'agent' THEN {known.pk} END",
            "kind": "CASE WHEN g % 25 = 0 THEN 'system' WHEN g % 10 = 4 THEN 'note' ELSE 'text' END",
            "content": "CASE WHEN g % 25 = 0 THEN 'Ana Bench joined the conversation' "
                       "WHEN g % 10 = 4 THEN 'Internal note ' || g || ': customer prefers WhatsApp.' "
                       "ELSE 'Message ' || g || ' of the long thread: could you tell me more about the financing options and the delivery date?' END",
            "status": "CASE WHEN g < 495 THEN 'read' ELSE 'sent' END",
            "sent_at": when,
        }, "FROM generate_series(1, %s) AS g", [BIG_THREAD])
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        self.log(f"{BIG_THREAD} messages in conversation {big_id} (known agent {known.user.email})")

    def counters(self, account: Account) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE conversations_conversation AS c
                SET message_count = s.n, last_message_at = m.created_at, updated_at = m.created_at,
                    last_contact_message_at = m.created_at, last_message_preview = left(m.content, 200)
                FROM (
                    SELECT conversation_id, count(*) AS n, max(id) AS last_id
                    FROM conversations_message WHERE account_id = %s GROUP BY conversation_id
                ) AS s
                JOIN conversations_message AS m ON m.id = s.last_id
                WHERE c.id = s.conversation_id
                """,
                [account.pk],
            )
        self.log("conversation counters and previews")

    def page_views(self, account: Account, big_id: int) -> None:
        contact_id = Conversation.objects.values_list("contact_id", flat=True).get(pk=big_id)
        sql, params = insert_sql(PageView, {
            "account_id": P(account.pk),
            "created_at": "now() - (g * interval '2 minutes')",
            "updated_at": "now()",
            "contact_id": P(contact_id),
            "url": "'https://bench.example.test/cars/' || g",
            "title": "'Car ' || g || ' · Bench Motors'",
        }, "FROM generate_series(1, 30) AS g")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
