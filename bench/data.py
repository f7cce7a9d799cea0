"""Bench data in its own database (``charla_bench``): created in bulk through
the ORM, reused between runs, and the correctness checks on what a run
stored. Synchronous Django code; call before/after the event loop."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

from . import env as benv

_READY = False


def ensure_database() -> None:
    """Create ``charla_bench`` when missing and apply migrations."""
    import psycopg

    with psycopg.connect(f"{benv.PG_URL}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [benv.BENCH_DB]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{benv.BENCH_DB}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=benv.ROOT, env=benv.base_env(), check=True, timeout=300,
    )


def django_setup(*, pool: bool = False) -> None:
    """Django against the bench database; ``pool=True`` connects as the server
    does (psycopg pool), the default opens a connection per use."""
    global _READY
    if _READY:
        return
    db = {} if pool else {"DB_POOL": "false", "CONN_MAX_AGE": "0"}
    for key, value in benv.base_env(**db).items():
        if key.startswith(("DATABASE_URL", "DEBUG", "REDIS_URL", "CHANNEL_", "CACHE_", "SECRET_KEY", "JWT_", "DB_", "CONN_", "ALLOWED", "CELERY_", "LOG_", "RATE_LIMIT")):
            os.environ[key] = value
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if str(benv.ROOT) not in sys.path:
        sys.path.insert(0, str(benv.ROOT))
    import django

    django.setup()
    _READY = True


@dataclass
class Conv:
    index: int
    id: int
    contact_id: int
    account_id: int
    agent: int  # index into Dataset.agents
    token: str


@dataclass
class AgentSeat:
    index: int
    membership_id: int
    user_id: int
    account_id: int
    jwt: str = ""
    convs: list[int] = field(default_factory=list)  # conversation indexes


@dataclass
class Dataset:
    convs: list[Conv]
    agents: list[AgentSeat]
    idle_tokens: list[str]


def _covers(existing: str, n_accounts: int, agents: int, convs: int, idle: int) -> bool:
    try:
        rt, idle_part = existing.split(";")
        have_accounts, have_agents, have_convs = (int(x) for x in rt.removeprefix("rt:").split("x"))
        have_idle = int(idle_part.removeprefix("idle:"))
    except ValueError:
        return False
    return (have_agents, have_convs) == (agents, convs) and have_accounts >= n_accounts and have_idle >= idle


def _create_account(idx_kind: str, i: int):
    from accounts.models import Account, Site

    account = Account.objects.create(name=f"Bench {idx_kind} {i}", slug=f"bench-{idx_kind}-{i}")
    site = Site.objects.create(account=account, name=f"Bench site {i}", allowed_domains=["bench.example.test"])
    return account, site


def ensure_dataset(*, conversations: int, agents_per_account: int, convs_per_agent: int, idle_contacts: int) -> Dataset:
    """N live conversations, each assigned to one of the account's agents
    (``agents_per_account`` agents with ``convs_per_agent`` conversations each,
    i.e. at their capacity), plus ``idle_contacts`` visitors without a
    conversation for the idle-socket test. Rebuilt when the shape changes."""
    django_setup()
    from rest_framework_simplejwt.tokens import AccessToken

    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Account, Membership, User
    from conversations.models import Contact, Conversation
    from conversations.services import visitor_token_make

    per_account = agents_per_account * convs_per_agent
    n_accounts = -(-conversations // per_account)
    n_idle_accounts = -(-idle_contacts // 1000) if idle_contacts else 0
    shape = f"rt:{n_accounts}x{agents_per_account}x{convs_per_agent};idle:{idle_contacts}"

    marker = Account.objects.filter(slug="bench-shape").first()
    # A bigger data set of the same shape serves as well.
    if marker is None or not _covers(marker.name, n_accounts, agents_per_account, convs_per_agent, idle_contacts):
        with connection.cursor() as cursor:  # the bench database only
            cursor.execute("SELECT current_database()")
            assert cursor.fetchone()[0] == benv.BENCH_DB, "refusing to reset a non-bench database"
        Account.objects.filter(slug__regex=r"^bench-((rt|idle)-[0-9]+|shape)$").delete()
        User.objects.filter(email__endswith="@bench.test").delete()
        now = timezone.now()
        unusable = make_password(None)
        with transaction.atomic():
            for a in range(n_accounts):
                account, site = _create_account("rt", a)
                users = User.objects.bulk_create(
                    [User(email=f"agent{a}-{j}@bench.test", name=f"Agent {a}-{j}", password=unusable) for j in range(agents_per_account)]
                )
                members = Membership.objects.bulk_create(
                    [Membership(account=account, user=u, role=Membership.Role.AGENT, capacity=convs_per_agent,
                                availability=Membership.Availability.ONLINE) for u in users]
                )
                contacts = Contact.objects.bulk_create(
                    [Contact(account=account, site=site, name=f"Visitor {a}-{k}") for k in range(per_account)]
                )
                Conversation.objects.bulk_create(
                    [Conversation(account=account, site=site, contact=c, status=Conversation.Status.ASSIGNED,
                                  assignee=members[k // convs_per_agent], queued_at=now, assigned_at=now, last_message_at=now)
                     for k, c in enumerate(contacts)]
                )
            for a in range(n_idle_accounts):
                account, site = _create_account("idle", a)
                count = min(1000, idle_contacts - a * 1000)
                Contact.objects.bulk_create(
                    [Contact(account=account, site=site, name=f"Idle {a}-{k}") for k in range(count)], batch_size=1000
                )
            Account.objects.create(name=shape, slug="bench-shape")

    convs: list[Conv] = []
    agents: list[AgentSeat] = []
    agent_index: dict[int, int] = {}
    users = {u.pk: u for u in User.objects.filter(email__endswith="@bench.test")}
    for m in Membership.objects.filter(account__slug__regex=r"^bench-rt-[0-9]+$").order_by("account_id", "id"):
        agent_index[m.pk] = len(agents)
        agents.append(AgentSeat(len(agents), m.pk, m.user_id, m.account_id, jwt=str(AccessToken.for_user(users[m.user_id]))))
    qs = (
        Conversation.objects.filter(account__slug__regex=r"^bench-rt-[0-9]+$")
        .select_related("contact").order_by("account_id", "id")[:conversations]
    )
    for conv in qs:
        seat = agent_index[conv.assignee_id]
        convs.append(Conv(len(convs), conv.pk, conv.contact_id, conv.account_id, seat, visitor_token_make(conv.contact)))
        agents[seat].convs.append(len(convs) - 1)
    agents = [a for a in agents if a.convs]
    for i, a in enumerate(agents):
        a.index = i
        for ci in a.convs:
            convs[ci].agent = i
    idle = [
        visitor_token_make(c)
        for c in Contact.objects.filter(account__slug__regex=r"^bench-idle-[0-9]+$").order_by("id")[:idle_contacts]
    ]
    return Dataset(convs, agents, idle)


def reset_state() -> None:
    """Delete the messages of the bench's own accounts (``bench-rt-*``,
    ``bench-idle-*``) and put their conversations back to assigned with zero
    counters, so each invocation starts alike. Other data in the database
    (another bench's tenant, say) is never touched."""
    django_setup()
    from django.db import connection

    from accounts.models import Account
    from conversations.models import Message

    ours = list(
        Account.objects.filter(slug__regex=r"^bench-(rt|idle)-[0-9]+$").values_list("pk", flat=True)
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        assert cursor.fetchone()[0] == benv.BENCH_DB
    Message.objects.filter(account_id__in=ours).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE conversations_conversation SET status = 'assigned', message_count = 0, unread_agent = 0,"
            " unread_contact = 0, awaiting_reply_since = NULL, closed_at = NULL WHERE account_id = ANY(%s)",
            [ours],
        )
        cursor.execute("UPDATE conversations_contact SET is_online = false WHERE account_id = ANY(%s)", [ours])
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, room int NOT NULL,"
            " client_id text NOT NULL DEFAULT '', body text NOT NULL DEFAULT '', created_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor.execute("TRUNCATE bench_floor RESTART IDENTITY")  # the floor's own table
        # The floor starts from a new table; Charla's tables are compacted, so
        # that what earlier runs left (a dead row version per message sent,
        # which PostgreSQL's autovacuum would have cleaned: it is off on
        # some machines, this one included) does not slow the next run.
        cursor.execute(f"VACUUM (FULL, ANALYZE) {', '.join(_VACUUMED)}")
        cursor.execute("ANALYZE bench_floor")


#: The tables a visitor's message writes: each message inserts a row and
#: leaves a dead version of its conversation's row.
_VACUUMED = ("conversations_message", "conversations_conversation", "conversations_contact")


def vacuum() -> dict:
    """What autovacuum does, between a run's phases: dead row versions of
    the tables Charla writes made reusable, statistics refreshed. Returns
    whether PostgreSQL's own autovacuum is on and the dead rows found, for
    the report."""
    django_setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0] == "on"
        cursor.execute("SELECT COALESCE(SUM(n_dead_tup), 0) FROM pg_stat_user_tables WHERE relname = ANY(%s)",
                       [list(_VACUUMED)])
        dead = int(cursor.fetchone()[0])
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(_VACUUMED)}")
    return {"autovacuum": autovacuum, "dead_rows": dead}


def check_run(*, app: str, prefix: str, sent: dict[str, tuple[int, int]], target: int | None = None) -> dict:
    """What a run left in the database. ``sent`` maps client_id →
    (conversation/room id, sequence number within it, in send order)."""
    django_setup()
    from django.db import connection

    if app == "floor":
        sql = "SELECT room, client_id, id FROM bench_floor WHERE client_id LIKE %s ORDER BY room, id"
    else:
        sql = "SELECT conversation_id, client_id, id FROM conversations_message WHERE client_id LIKE %s ORDER BY conversation_id, id"
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix + "%"])
        rows = cursor.fetchall()
    client_ids = [r[1] for r in rows]
    distinct = len(set(client_ids))
    out_of_order = 0
    wrong_conversation = 0
    last: dict[int, int] = {}
    for conv_id, client_id, _row_id in rows:
        expected_conv, seq = sent.get(client_id, (None, -1))
        if expected_conv != conv_id:
            wrong_conversation += 1
        if seq <= last.get(conv_id, -1):
            out_of_order += 1
        last[conv_id] = seq
    missing = len(set(sent) - set(client_ids))
    unexpected = len(set(client_ids) - set(sent))
    target = len(sent) if target is None else target
    return {
        "target": target,
        "sent": len(sent),
        "rows": len(rows),
        "distinct_client_ids": distinct,
        "doubled": len(rows) - distinct,
        "missing": missing,
        "unexpected": unexpected,
        "wrong_conversation": wrong_conversation,
        "out_of_order": out_of_order,
        "conversations": len(last),
        "ok": target == len(rows) == len(sent) == distinct and missing == 0 and out_of_order == 0 and wrong_conversation == 0,
    }


def redis_cleanup() -> int:
    """Delete the keys the bench server left in its Redis database: the
    Celery queue it filled (no worker runs in the bench) and its prefixed keys."""
    import redis

    client = redis.Redis.from_url(benv.REDIS_URL)
    deleted = 0
    for pattern in ("celery", "_kombu*", f"*{benv.PREFIX}*", "unacked*"):
        for key in client.scan_iter(match=pattern, count=1000):
            deleted += client.delete(key)
    return deleted


def pg_backends() -> int:
    """Connections to the bench database right now (the server's pool and
    persistent connections)."""
    import psycopg

    with psycopg.connect(f"{benv.PG_URL}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [benv.BENCH_DB]).fetchone()[0]
