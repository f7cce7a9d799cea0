"""Server time of the inbox pages on a large tenant, measured in-process.

Seed first (a separate database: it adds 1.1 M rows; not ``charla_bench``,
which ``bench/realtime.py`` owns):

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/charla_bench_inbox
    .venv/bin/python manage.py migrate
    .venv/bin/python manage.py bench_seed_inbox
    .venv/bin/python bench/inbox_render.py [--iterations 200] [--markdown] [--cold] [--wait-quiet 900]

Each page is rendered through Django's test client (middleware, session,
auth, tenancy, templates: everything but the network), warmed up, then timed
``--iterations`` times. Prints p50/p95/max per page and the queries each
makes; ``--markdown`` prints the table for ``docs/performance.md``.

The warm-ups fill the inbox's fragment cache (rows and messages,
``conversations/views/_fragments.py``), so the timed requests are the
steady state of an agent moving around the inbox; ``--cold`` switches the
cache off and renders every row and message, as on a first visit.
``--wait-quiet N`` waits up to N seconds for the 1-minute load average to
drop to ``--max-load`` before starting (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

TARGET_P95_MS = 150.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--account", default="bench")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--cold", action="store_true", help="fragment cache off: render every row and message")
    parser.add_argument("--wait-quiet", type=int, default=0, metavar="SECONDS",
                        help="wait up to this long for the 1-minute load to drop to --max-load")
    parser.add_argument("--max-load", type=float, default=1.5)
    args = parser.parse_args()

    waited = 0
    while args.wait_quiet and os.getloadavg()[0] > args.max_load and waited < args.wait_quiet:
        print(f"load {os.getloadavg()[0]:.2f} > {args.max_load}: waiting", file=sys.stderr)
        time.sleep(60)
        waited += 60
    load_start = os.getloadavg()

    import django

    django.setup()

    import logging

    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from accounts.models import Account, Membership
    from conversations.management.commands.bench_seed_inbox import KNOWN_AGENT, SUPERVISOR
    from conversations.models import Conversation, Message

    logging.getLogger("charla.request").setLevel(logging.WARNING)
    settings.DEBUG = False
    settings.INBOX_FRAGMENT_CACHE = not args.cold
    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

    account = Account.objects.filter(slug=args.account).first()
    if account is None:
        print(f"No tenant '{args.account}': run `manage.py bench_seed_inbox` first.", file=sys.stderr)
        return 2
    agent = Membership.objects.select_related("user").get(account=account, user__email=KNOWN_AGENT)
    supervisor = Membership.objects.select_related("user").get(account=account, user__email=SUPERVISOR)
    big = (
        Conversation.objects.filter(account=account, assignee=agent)
        .exclude(status=Conversation.Status.CLOSED)
        .order_by("-message_count")
        .first()
    )
    size = {
        "conversations": Conversation.objects.filter(account=account).count(),
        "messages": Message.objects.filter(account=account).count(),
        "queue": Conversation.objects.filter(account=account, status=Conversation.Status.QUEUED, assignee__isnull=True).count(),
        "mine": Conversation.objects.filter(account=account, assignee=agent).exclude(status=Conversation.Status.CLOSED).count(),
        "thread": big.message_count,
    }

    def client_for(membership) -> Client:
        client = Client()
        client.force_login(membership.user)
        return client

    agent_client, supervisor_client = client_for(agent), client_for(supervisor)
    htmx = {"HTTP_HX_REQUEST": "true"}
    conversation_url = f"/app/conversations/{big.pk}/"
    cases = [
        ("Queue (page)", agent_client, "/app/queue/", {}),
        ("Mine (page)", agent_client, "/app/mine/", {}),
        (f"Conversation, {big.message_count} messages (page)", agent_client, conversation_url, {}),
        ("Queue rows (htmx)", agent_client, "/app/queue/", {**htmx, "HTTP_HX_TARGET": "conv-rows"}),
        ("Mine rows (htmx)", agent_client, "/app/mine/", {**htmx, "HTTP_HX_TARGET": "conv-rows"}),
        ("Conversation pane (htmx)", agent_client, conversation_url, {**htmx, "HTTP_HX_TARGET": "conversation-pane"}),
        ("All open, supervisor (page)", supervisor_client, "/app/open/", {}),
        ("Mine, search “financing” (htmx)", agent_client, "/app/mine/?q=financing", {**htmx, "HTTP_HX_TARGET": "conv-rows"}),
        ("All open, search “financing”, supervisor (htmx)", supervisor_client, "/app/open/?q=financing",
         {**htmx, "HTTP_HX_TARGET": "conv-rows"}),
        ("Closed, search one e-mail, supervisor (htmx)", supervisor_client, "/app/closed/?q=customer4242%40",
         {**htmx, "HTTP_HX_TARGET": "conv-rows"}),
        ("Nav counts (htmx)", agent_client, "/app/counts/", htmx),
    ]

    def reference_loop() -> float:
        """A fixed pure-Python workload: how fast this CPU is right now."""
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            sum(range(1_000_000))
            best = min(best, time.perf_counter() - started)
        return best * 1000

    reference_before = reference_loop()
    rows = []
    for name, client, url, headers in cases:
        for _ in range(args.warmup):
            response = client.get(url, **headers)
            assert response.status_code == 200, (url, response.status_code)
        queries: list[str] = []

        def counting(execute, sql, params, many, context, _queries=queries):
            _queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counting):
            response = client.get(url, **headers)
        timings, cpu = [], []
        for _ in range(args.iterations):
            started, started_cpu = time.perf_counter(), time.process_time()
            client.get(url, **headers)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        rows.append({
            "name": name,
            "p50": statistics.median(timings),
            "p95": percentile(timings, 0.95),
            "max": max(timings),
            "cpu": statistics.median(cpu),
            "queries": len(queries),
            "kb": len(response.content) / 1024,
        })

    load_end = os.getloadavg()
    reference = min(reference_before, reference_loop())
    print(f"Load average (1/5/15 min) {load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f} at the start, "
          f"{load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f} at the end (the bench itself keeps about one CPU busy) "
          f"on {os.cpu_count()} CPUs; reference loop sum(range(10**6)) {reference:.1f} ms (about 10 ms on an idle current "
          f"x86 core). Fragment cache {'off (--cold)' if args.cold else 'on, warm'}.")
    print(f"Tenant '{account.slug}': {size['conversations']:,} conversations, {size['messages']:,} messages; "
          f"queue {size['queue']:,}, the agent's Mine {size['mine']:,}; thread of {size['thread']} messages. "
          f"{args.iterations} timed requests per page after {args.warmup} warm-ups.")
    if args.markdown:
        print("\n| page | p50 ms | p95 ms | max ms | Python CPU p50 ms | queries | HTML KB |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['name']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f} | {r['cpu']:.1f} | {r['queries']} | {r['kb']:.0f} |")
    else:
        width = max(len(r["name"]) for r in rows)
        print(f"\n{'page':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}  {'CPU ms':>7}  {'queries':>7}  {'KB':>5}")
        for r in rows:
            flag = "" if r["p95"] <= TARGET_P95_MS else "  > target"
            print(f"{r['name']:<{width}}  {r['p50']:8.1f}  {r['p95']:8.1f}  {r['max']:8.1f}  {r['cpu']:7.1f}  {r['queries']:7d}  {r['kb']:5.0f}{flag}")
    worst = max(r["p95"] for r in rows[:3])
    print(f"\nTarget: p95 ≤ {TARGET_P95_MS:.0f} ms for Queue, Mine and the conversation — worst p95 {worst:.1f} ms: "
          f"{'OK' if worst <= TARGET_P95_MS else 'MISSED'}")
    return 0 if worst <= TARGET_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())
