"""Charla real-time load generator.

Real WebSocket clients (``websockets``) against the real consumers
(``/ws/widget/`` visitors, ``/ws/agent/`` agents with JWT) and, in the same
invocation, against the floor (``bench/floor_app.py``: a bare consumer that
inserts one row and relays it through the same server and channel layer),
so every figure comes with its ratio to the floor.

Topology (representative of the product, see bench/README.md): accounts of
20 live conversations and 4 agents; each agent has 5 conversations assigned
(its capacity) and one socket; visitors send, agents receive on
``member.<id>``; every message goes through ``contact_message_send`` into
PostgreSQL (database ``charla_bench``).

    .venv/bin/python -m bench.realtime --quick        # ~2-3 min
    .venv/bin/python -m bench.realtime --full         # ~30-40 min on a busy 2-core machine
    .venv/bin/python -m bench.realtime --full --compare   # + daphne, core layer, DB connections
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import data
from . import env as benv
from . import profile as profiler
from .client import Hub, Live, Target, burst, closed_loop, open_loop, raise_nofile, warmup
from .idle_sockets import idle_urls
from .idle_sockets import measure as measure_idle
from .server import Server, machine_cpu

CONSUMERS = [benv.ROOT / "conversations" / "consumers.py", benv.ROOT / "conversations" / "consumers" / "__init__.py"]
ROUTING = benv.ROOT / "conversations" / "routing.py"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- CPU accounting ----------------------------------------------------------------

def _proc_cpu(names: tuple[str, ...]) -> float:
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.find("(") + 1: raw.rfind(")")]
        if comm.startswith(names):
            fields = raw.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class CpuProbe:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.t = time.perf_counter()
        self.server_cpu = server.cpu_seconds()
        self.client_cpu = time.process_time()
        self.pg = _proc_cpu(("postgres",))
        self.redis = _proc_cpu(("redis-server",))
        self.machine = machine_cpu()

    def result(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t
        busy, total = machine_cpu()
        cores = os.cpu_count() or 1
        machine = (busy - self.machine[0]) / max(total - self.machine[1], 1) * 100 * cores
        ours = {
            "server": (self.server.cpu_seconds() - self.server_cpu) / wall * 100,
            "client": (time.process_time() - self.client_cpu) / wall * 100,
            "pg": (_proc_cpu(("postgres",)) - self.pg) / wall * 100,
            "redis": (_proc_cpu(("redis-server",)) - self.redis) / wall * 100,
        }
        return {
            "wall_seconds": round(wall, 3),
            "loadavg_1m": os.getloadavg()[0],
            "other_cpu_pct": round(max(0.0, machine - sum(ours.values())), 1),
            "server_cpu_pct": round((self.server.cpu_seconds() - self.server_cpu) / wall * 100, 1),
            "client_cpu_pct": round((time.process_time() - self.client_cpu) / wall * 100, 1),
            "postgres_cpu_pct": round((_proc_cpu(("postgres",)) - self.pg) / wall * 100, 1),
            "redis_cpu_pct": round((_proc_cpu(("redis-server",)) - self.redis) / wall * 100, 1),
            "machine_cpu_pct": round((busy - self.machine[0]) / max(total - self.machine[1], 1) * 100 * cores, 1),
        }


# --- Plan -----------------------------------------------------------------------------

@dataclass
class Variant:
    name: str
    server: str = "uvicorn"
    env: dict[str, str] = field(default_factory=dict)
    layer: str = "CharlaChannelLayer (pub/sub, batched)"
    db: str = "psycopg pool (min 2, max 20)"
    #: web processes (uvicorn ``--workers``; sockets spread over them, events cross through Redis)
    workers: int = 1
    #: open-loop rates run in a comparison (by default only the closed loop and the burst)
    rates: tuple[int, ...] = ()


BASELINE = Variant("baseline")
VARIANTS = [
    Variant("daphne", server="daphne"),
    Variant("uvicorn-legacy", server="uvicorn-legacy"),
    Variant("core-layer", env={"DJANGO_SETTINGS_MODULE": "bench.settings_core_layer"}, layer="RedisChannelLayer (core)"),
    Variant("no-pool-persistent", env={"DB_POOL": "false", "CONN_MAX_AGE": "60"}, db="no pool, CONN_MAX_AGE=60"),
    Variant("no-pool-age0", env={"DB_POOL": "false", "CONN_MAX_AGE": "0"}, db="no pool, CONN_MAX_AGE=0"),
    # Floor only: what Channels' defaults cost (see bench/floor_app.py).
    Variant("floor-channels-dispatch", env={"BENCH_FLOOR_DISPATCH": "channels"}),
    Variant("floor-thread-sensitive", env={"BENCH_FLOOR_THREAD_SENSITIVE": "1"}),
    # Floor only: the insert from the event loop on core.adb's pool, as Charla's visitor send does.
    Variant("floor-loop-insert", env={"BENCH_FLOOR_DB": "loop"}, db="core.adb async pool, on the loop"),
    # Two web processes (one per core, as a deployment would run), with the 500 msg/s open-loop run.
    Variant("workers2", workers=2, rates=(250, 500)),
]
FLOOR_ONLY = {"floor-channels-dispatch", "floor-thread-sensitive", "floor-loop-insert"}
BOTH_APPS = {"daphne", "uvicorn-legacy", "core-layer", "no-pool-persistent", "no-pool-age0", "workers2"}


@dataclass
class Plan:
    mode: str
    sizes: list[int]
    rates: list[int]
    duration: float
    closed_duration: float
    check_size: int
    check_messages: int
    check_budget: float
    burst_size: int
    burst_per_conversation: int
    idle: int
    compare: bool
    compare_size: int
    apps: list[str]
    idle_apps: list[str]
    idle_seconds: float
    agents_per_account: int = 4
    convs_per_agent: int = 5
    delivery: str = "assigned"
    skip: set = field(default_factory=set)


def make_plan(args: argparse.Namespace) -> Plan:
    if args.full:
        plan = Plan("full", sizes=[50, 500, 1000], rates=[100, 250, 500], duration=10, closed_duration=10,
                    check_size=1000, check_messages=10_000, check_budget=900, burst_size=1000, burst_per_conversation=1,
                    idle=10_000, compare=args.compare, compare_size=1000, apps=["charla", "floor"],
                    idle_apps=["charla", "floor"], idle_seconds=10)
    else:
        plan = Plan("quick", sizes=[100], rates=[50, 100], duration=5, closed_duration=5,
                    check_size=100, check_messages=500, check_budget=120, burst_size=100, burst_per_conversation=1,
                    idle=500, compare=args.compare, compare_size=200, apps=["charla", "floor"], idle_apps=["charla"],
                    idle_seconds=5)
    if args.sizes:
        plan.sizes = [int(x) for x in args.sizes.split(",")]
    if args.rates:
        plan.rates = [int(x) for x in args.rates.split(",")]
    if args.duration:
        plan.duration = args.duration
    if args.idle is not None:
        plan.idle = args.idle
    if args.compare_size:
        plan.compare_size = args.compare_size
    if args.apps:
        plan.apps = args.apps.split(",")
    plan.delivery = args.delivery
    plan.skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    if "idle" in plan.skip:
        plan.idle = 0
    return plan


# --- Running -----------------------------------------------------------------------------

class Bench:
    def __init__(self, plan: Plan, ds: data.Dataset, tag: str) -> None:
        self.plan, self.ds, self.tag = plan, ds, tag
        self.results: list[dict[str, Any]] = []
        self.checks: list[dict[str, Any]] = []
        self.idle: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.profiles: list[dict[str, Any]] = []
        self.profile = False
        #: ``env.machine_speed()`` when the run started (the results add the one at its end)
        self.speed_at_start: float | None = None
        self.variants: set[str] = set()
        self._n = 0

    def prefix(self) -> str:
        self._n += 1
        return f"{self.tag}{self._n}"

    def record(self, base: dict[str, Any], run, extra: dict, cpu: dict) -> dict:
        row = {**base, **extra, **run.summary(), **cpu}
        done = max(row["acked"], 1)
        # CPU per message: less sensitive to a busy machine than wall-clock figures.
        row["server_cpu_ms_per_msg"] = round(cpu["server_cpu_pct"] / 100 * cpu["wall_seconds"] / done * 1000, 2)
        row["pg_backends"] = data.pg_backends()
        row["postgres_cpu_ms_per_msg"] = round(max(cpu["postgres_cpu_pct"], 0) / 100 * cpu["wall_seconds"] / done * 1000, 2)
        self.results.append(row)
        lat = row["lat_ms"]
        log(f"  {row['app']:6} n={row['conversations']:<5} {row['mode']:7} {str(row.get('rate') or ''):>4} "
            f"sent={row['sent']:<6} deliv={row['delivered']:<6} p50={lat['p50']} p95={lat['p95']} p99={lat['p99']} ms "
            f"thr={row.get('throughput_delivered') or row.get('delivered_rate')} /s "
            f"srvCPU={row['server_cpu_pct']}% ({row['server_cpu_ms_per_msg']} ms/msg) pg={row['postgres_cpu_pct']}% cli={row['client_cpu_pct']}% other={row['other_cpu_pct']}% load={row['loadavg_1m']:.1f}"
            + (f" errors={row['errors']}" if row["errors"] else ""))
        if row["missing"] or row["errors"] or row["dup_deliveries"] or row["agent_order_violations"] or not row.get("drained", True):
            self.problems.append(f"{row['variant']}/{row['app']}/n={row['conversations']}/{row['mode']}{row.get('rate') or ''}: "
                                 f"missing={row['missing']} dup={row['dup_deliveries']} order={row['agent_order_violations']} errors={row['errors']} "
                                 f"drained={row.get('drained')} aborted={row.get('aborted')}")
        return row

    async def scenario(self, variant: Variant, app: str, server: Server, sizes: list[int], *,
                       rates: list[int], closed: bool, do_burst: bool, check: bool) -> None:
        plan = self.plan
        hub = Hub()
        target = Target(app, server.port, plan.delivery)
        for n in sizes:
            await asyncio.to_thread(data.vacuum)  # as autovacuum would (off on some machines)
            live = Live(target, self.ds.convs[:n], self.ds.agents)
            await live.open(hub)
            server_label = variant.server + (f" x{variant.workers} processes" if variant.workers > 1 else "")
            base = {"variant": variant.name, "server": server_label, "layer": variant.layer, "db": variant.db,
                    "app": app, "conversations": n, "agent_sockets": len(live.agent_socks)}
            log(f"{variant.name}/{app}: {n} conversations live ({len(live.visitors)} visitor + "
                f"{len(live.agent_socks)} agent sockets in {live.connect_seconds:.1f}s)")
            wu = await warmup(live, hub, self.prefix(), timeout=240)
            if not wu["ok"]:
                self.problems.append(f"{variant.name}/{app}/n={n}: warm-up incomplete {wu['delivered']}/{wu['sent']} errors={wu['errors']} stray={dict(hub.stray)}")
                log(f"  WARM-UP INCOMPLETE: {wu['delivered']}/{wu['sent']} delivered, errors={wu['errors']}, stray={dict(hub.stray)}")
            saturated_at = None
            for rate in rates:
                if saturated_at is not None:
                    self.results.append({**base, "mode": "open", "rate": rate, "skipped": f"saturated at {saturated_at}/s"})
                    log(f"  {app:6} n={n:<5} open    {rate:>4} skipped: saturated at {saturated_at}/s")
                    continue
                total = int(rate * plan.duration)
                await asyncio.to_thread(data.vacuum)
                cpu = CpuProbe(server)
                run, extra = await open_loop(live, hub, prefix=self.prefix(), rate=rate, total=total, drain=60)
                row = self.record({**base, "mode": "open", "rate": rate}, run, extra, cpu.result())
                p99 = row["lat_ms"]["p99"]
                if extra["aborted"] or not extra["drained"] or p99 is None or p99 > 5000:
                    saturated_at = rate
                    log(f"  saturated at {rate}/s (aborted={extra['aborted']}, drained={extra['drained']}, p99={p99} ms)")
                await asyncio.sleep(1)
            if closed and "closed" not in plan.skip:
                await asyncio.to_thread(data.vacuum)
                cpu = CpuProbe(server)
                spy = None
                if self.profile and n == max(sizes) and profiler.available():
                    spy_out = benv.LOGS / f"pyspy-{variant.name}-{app}-{n}.txt"
                    spy = profiler.start(server.pid, max(2, plan.closed_duration - 1), spy_out)
                run, extra = await closed_loop(live, hub, prefix=self.prefix(), duration=plan.closed_duration, drain=60)
                row = self.record({**base, "mode": "closed", "rate": None}, run, extra, cpu.result())
                if spy is not None:
                    spy.wait(timeout=60)
                    if spy_out.exists():
                        row["profile"] = profiler.fold(spy_out)
                        self.profiles.append({"variant": variant.name, "app": app, "conversations": n,
                                              "server_cpu_ms_per_msg": row["server_cpu_ms_per_msg"], **row["profile"]})
                        log(f"  profile {app}: " + ", ".join(f"{k} {v}%" for k, v in list(row["profile"]["parts"].items())[:8]))
                await asyncio.sleep(1)
            if check and n == plan.check_size and "check" not in plan.skip:
                # Correctness: exactly check_messages, spread evenly, each visitor
                # sending its next after its ack (self-paced: no backlog), then
                # what PostgreSQL holds.
                per_visitor = max(1, plan.check_messages // n)
                prefix = self.prefix()
                cpu = CpuProbe(server)
                run, extra = await closed_loop(live, hub, prefix=prefix, duration=plan.check_budget, drain=60,
                                               per_visitor=per_visitor, max_in_flight=100)
                row = self.record({**base, "mode": "check", "rate": None}, run, extra, cpu.result())
                db = await asyncio.to_thread(data.check_run, app=app, prefix=prefix, sent=run.sent,
                                             target=per_visitor * n)
                self.checks.append({"variant": variant.name, "app": app, "conversations": n, "per_conversation": per_visitor,
                                    "seconds": extra["duration"], **db,
                                    "agent_order_violations": run.agent_order_violations,
                                    "agent_dup_deliveries": run.dup_deliveries, "agent_missing": row["missing"]})
                log(f"  CHECK {app}: sent={db['sent']} rows={db['rows']} distinct client_id={db['distinct_client_ids']} "
                    f"doubled={db['doubled']} missing={db['missing']} out-of-order={db['out_of_order']} in {extra['duration']}s "
                    f"(agent saw: order violations={run.agent_order_violations}, dup={run.dup_deliveries}, "
                    f"missing={row['missing']}) -> {'OK' if db['ok'] else 'FAILED'}")
                await asyncio.sleep(1)
            if do_burst and (n == plan.burst_size or variant is not BASELINE) and "burst" not in plan.skip:
                cpu = CpuProbe(server)
                run, extra = await burst(live, hub, prefix=self.prefix(), per_conversation=plan.burst_per_conversation, drain=180)
                self.record({**base, "mode": "burst", "rate": None}, run, extra, cpu.result())
            await live.close()
            await asyncio.sleep(2)  # disconnect handlers

    def run_server(self, variant: Variant, app: str, fn) -> None:
        server = Server(kind=variant.server, app=app, env=variant.env, workers=variant.workers)
        try:
            server.start()
            asyncio.run(fn(server))
        except Exception as exc:  # keep going with the other scenarios, but say so
            self.problems.append(f"{variant.name}/{app}: {exc!r}")
            log(f"ERROR {variant.name}/{app}: {exc!r}\n--- server log tail ---\n{server.log_tail()}")
        finally:
            server.stop()
            data.redis_cleanup()

    def main_matrix(self) -> None:
        plan = self.plan
        for app in plan.apps:
            self.run_server(BASELINE, app, lambda s, app=app: self.scenario(
                BASELINE, app, s, plan.sizes, rates=plan.rates, closed=True, do_burst=True, check=True))

    def idle_sockets(self) -> None:
        for app in [a for a in self.plan.idle_apps if a in self.plan.apps]:
            def fn(server: Server, app=app):
                target = Target(app, server.port)
                return self._idle(server, target)
            self.run_server(BASELINE, app, fn)

    async def _idle(self, server: Server, target: Target) -> None:
        log(f"idle sockets: {self.plan.idle} x {target.app} on one {server.kind} process")
        res = await measure_idle(server, target, idle_urls(target, self.ds, self.plan.idle),
                                 idle_seconds=self.plan.idle_seconds)
        self.idle.append(res)
        log(f"  opened {res['opened']}/{res['requested']} in {res['connect_seconds']}s; RSS {res['rss_before_kb']} -> "
            f"{res['rss_after_kb']} kB = {res['kb_per_socket']} kB/socket; pongs {res['pongs']}/{res['ping_sample']}; "
            f"idle CPU {res['idle_cpu_pct']}%")

    def comparisons(self) -> None:
        n = self.plan.compare_size
        # "baseline" in --variants repeats the default set-up in the same
        # invocation, for an A/B under the same machine load.
        for variant in ([BASELINE] if "baseline" in self.variants else []) + VARIANTS:
            if self.variants and variant.name not in self.variants:
                continue
            if variant.name in FLOOR_ONLY:
                apps = ["floor"]
            elif variant is BASELINE:
                apps = ["charla", "floor"]
            else:
                apps = ["charla", "floor"] if variant.name in BOTH_APPS else ["charla"]
            for app in apps:
                if app not in self.plan.apps:
                    continue
                self.run_server(variant, app, lambda s, v=variant, app=app: self.scenario(
                    v, app, s, [n], rates=list(v.rates), closed=True, do_burst=True, check=False))


def wait_quiet(timeout: float, threshold: float = 1.0) -> float:
    """The machine is shared (test suites, browsers): wait, bounded, for the
    1-minute load average to drop under ``threshold``. Returns the load."""
    deadline = time.monotonic() + timeout
    load = os.getloadavg()[0]
    while load >= threshold and time.monotonic() < deadline:
        log(f"load average {load:.2f} >= {threshold}: waiting for a quieter machine ...")
        time.sleep(min(30, max(1, deadline - time.monotonic())))
        load = os.getloadavg()[0]
    return load


def wait_for_consumers(timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if any(p.exists() for p in CONSUMERS) and "ws/" in ROUTING.read_text():
            return True
        if time.monotonic() >= deadline:
            return False
        log(f"waiting for conversations/consumers and a ws route in {ROUTING.relative_to(benv.ROOT)} ...")
        time.sleep(min(30, max(1, deadline - time.monotonic())))


def environment(speed_at_start: float | None = None) -> dict[str, Any]:
    def out(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:  # noqa: BLE001
            return ""

    import channels
    import channels_redis
    import daphne
    import psycopg
    import uvicorn
    import websockets

    import django

    return {
        "machine_speed_ms": {"start": speed_at_start, "end": benv.machine_speed()},
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "git_head": out(["git", "-C", str(benv.ROOT), "rev-parse", "--short", "HEAD"]),
        "versions": {"django": django.__version__, "channels": channels.__version__,
                     "channels_redis": channels_redis.__version__, "uvicorn": uvicorn.__version__,
                     "daphne": daphne.__version__, "websockets": websockets.__version__, "psycopg": psycopg.__version__},
        "postgres": out(["psql", f"{benv.PG_URL}/postgres", "-Atc", "show server_version"]),
        # Off here: the bench vacuums between phases (``data.vacuum``) as it would.
        "postgres_autovacuum": out(["psql", f"{benv.PG_URL}/postgres", "-Atc", "show autovacuum"]),
        "redis": out(["redis-cli", "info", "server"]).split("redis_version:")[-1].split()[0] if out(["redis-cli", "ping"]) else "",
    }


def write_results(bench: Bench, plan: Plan, started: str, seconds: float, argv: list[str]) -> Path:
    from .report import markdown

    benv.RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {
        "started": started,
        "seconds": round(seconds, 1),
        "command": ".venv/bin/python -m bench.realtime " + " ".join(argv),
        "plan": plan.__dict__,
        "environment": environment(bench.speed_at_start),
        "runs": bench.results,
        "checks": bench.checks,
        "idle": bench.idle,
        "profiles": bench.profiles,
        "problems": bench.problems,
    }
    stamp = started.replace(":", "").replace("-", "")[:15]
    path = benv.RESULTS / f"realtime-{plan.mode}-{stamp}.json"
    path.write_text(json.dumps(doc, indent=2, default=str))
    if plan.mode in ("quick", "full"):  # labelled runs keep their stamped file only
        (benv.RESULTS / f"realtime-{plan.mode}-latest.json").write_text(json.dumps(doc, indent=2, default=str))
    md = markdown(doc)
    (benv.RESULTS / f"realtime-{plan.mode}-latest.md").write_text(md)
    print(md)
    return path


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="100 conversations, 50 and 100 msg/s, 500 idle sockets (~2-3 min)")
    mode.add_argument("--full", action="store_true", help="50/500/1,000 conversations, 100/250/500 msg/s, 10,000 idle sockets")
    parser.add_argument("--compare", action="store_true", help="also daphne, RedisChannelLayer (core), DB_POOL=false")
    parser.add_argument("--only-compare", action="store_true", help="skip the main matrix and idle sockets")
    parser.add_argument("--variants", default="", help="comma-separated comparison variants to run (default all): "
                        + ",".join(["baseline"] + [v.name for v in VARIANTS]))
    parser.add_argument("--sizes", help="comma-separated conversation counts (overrides the mode)")
    parser.add_argument("--rates", help="comma-separated open-loop rates, msgs/s (overrides the mode)")
    parser.add_argument("--duration", type=float, help="seconds per open-loop run")
    parser.add_argument("--idle", type=int, help="idle sockets to open (0 skips)")
    parser.add_argument("--apps", help="charla,floor (default both)")
    parser.add_argument("--delivery", choices=["assigned", "join"], default="assigned",
                        help="agents get message.created on member.<id> (assigned) or after conversation.join")
    parser.add_argument("--compare-size", type=int, help="conversations in the comparison runs (default 1,000 full, 200 quick)")
    parser.add_argument("--label", default="", help="suffix for the results file names (keeps *-latest of the mode)")
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: closed,check,burst,idle")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy --gil on the server during the largest closed-loop run (needs py-spy)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="wait up to SECONDS for the 1-min load average to fall below 1 (shared machines)")
    parser.add_argument("--wait-for-consumers", type=float, default=0, metavar="SECONDS",
                        help="poll until conversations/consumers.py and a ws route exist")
    args = parser.parse_args(argv)
    plan = make_plan(args)
    if args.only_compare:
        plan.mode += "-compare"
    if args.label:
        plan.mode += "-" + args.label

    if "charla" in plan.apps and not wait_for_consumers(args.wait_for_consumers):
        log("conversations/consumers.py or its routes are missing: running the floor only")
        plan.apps = [a for a in plan.apps if a != "charla"] or ["floor"]

    if args.wait_quiet:
        wait_quiet(args.wait_quiet)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.monotonic()
    speed_at_start = benv.machine_speed()
    log(f"machine speed: sum(range(10**6)) in {speed_at_start} ms (best of 5; lower is faster)")
    log(f"nofile limit {raise_nofile()}; preparing {benv.BENCH_DB}")
    data.ensure_database()
    need = max(plan.sizes + [plan.compare_size if plan.compare else 0, plan.check_size])
    ds = data.ensure_dataset(conversations=need, agents_per_account=plan.agents_per_account,
                             convs_per_agent=plan.convs_per_agent, idle_contacts=max(plan.idle, 0))
    data.reset_state()
    log(f"dataset: {len(ds.convs)} conversations, {len(ds.agents)} agents, {len(ds.idle_tokens)} idle visitors")

    bench = Bench(plan, ds, secrets.token_hex(2))
    bench.speed_at_start = speed_at_start
    bench.profile = args.profile
    bench.variants = {v.strip() for v in args.variants.split(",") if v.strip()}
    try:
        if not args.only_compare:
            bench.main_matrix()
            if plan.idle:
                bench.idle_sockets()
        if plan.compare or args.only_compare:
            bench.comparisons()
    except KeyboardInterrupt:
        log("interrupted: writing what was measured")
    if not (bench.results or bench.idle):
        log("nothing measured: no results written")
        return 1
    path = write_results(bench, plan, started, time.monotonic() - t0, argv)
    log(f"results: {path.relative_to(benv.ROOT)} ({time.monotonic() - t0:.0f}s)")
    bad = [c for c in bench.checks if not c["ok"]]
    return 1 if bad or bench.problems else 0


if __name__ == "__main__":
    sys.exit(main())
