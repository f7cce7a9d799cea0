"""Markdown tables from a results document (``bench/results/*.json``).

    .venv/bin/python -m bench.report bench/results/realtime-full-latest.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _f(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.1f}" if v < 100 else f"{v:.0f}"
    return str(v)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_f(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _runs(doc, **match):
    return [r for r in doc["runs"] if all(r.get(k) == v for k, v in match.items())]


def targets(doc: dict) -> list[list[Any]]:
    rows = []
    key = list(_runs(doc, variant="baseline", app="charla", mode="open", conversations=1000, rate=500))
    if key and key[0].get("skipped"):
        rows.append(["p99 ≤ 50 ms at 500 msg/s, 1,000 conversations", f"not run: {key[0]['skipped']}", "MISSED"])
    elif key:
        k = key[0]
        p99 = k["lat_ms"]["p99"]
        note = " (saturated: sending stopped)" if k.get("aborted") else ""
        rows.append(["p99 ≤ 50 ms at 500 msg/s, 1,000 conversations",
                     f"{p99} ms, {k['delivered_rate']}/s delivered{note}",
                     "met" if p99 is not None and p99 <= 50 and not k["missing"] and not k.get("aborted") else "MISSED"])
    for n in sorted({r["conversations"] for r in _runs(doc, variant="baseline", mode="closed")}):
        c = _runs(doc, variant="baseline", app="charla", mode="closed", conversations=n)
        f = _runs(doc, variant="baseline", app="floor", mode="closed", conversations=n)
        if c and f and f[0]["throughput_acks"]:
            ratio = c[0]["throughput_acks"] / f[0]["throughput_acks"]
            # The baseline floor inserts on a worker thread; Charla's visitor send runs
            # on the loop: the variant floor-loop-insert is the floor with the same tool.
            rows.append([f"saturation ≥ 50 % of floor, insert on a thread ({n} conversations)",
                         f"{c[0]['throughput_acks']:.0f} / {f[0]['throughput_acks']:.0f} msg/s = {ratio:.0%}",
                         ("met against this floor (see floor-loop-insert)" if ratio >= 0.5 else "MISSED")])
    for f in _runs(doc, variant="floor-loop-insert", app="floor", mode="closed"):
        c = _runs(doc, variant="baseline", app="charla", mode="closed", conversations=f["conversations"])
        if c and f["throughput_acks"]:
            ratio = c[0]["throughput_acks"] / f["throughput_acks"]
            rows.append([f"saturation ≥ 50 % of floor, insert on the loop ({f['conversations']} conversations)",
                         f"{c[0]['throughput_acks']:.0f} / {f['throughput_acks']:.0f} msg/s = {ratio:.0%}",
                         "met" if ratio >= 0.5 else "MISSED"])
    for idle in doc.get("idle", []):
        if idle["app"] == "charla":
            ok = idle["opened"] >= 10_000 and idle["kb_per_socket"] <= 64 and idle["pongs"] == idle["ping_sample"]
            rows.append([f"10,000 idle sockets in one process ≤ 64 KB each ({idle['server']})",
                         f"{idle['opened']} open, {idle['kb_per_socket']} KB each",
                         "met" if ok else ("MISSED" if idle["requested"] >= 10_000 else "n/a (fewer than 10,000 requested)")])
    for c in doc.get("checks", []):
        rows.append([f"correctness, {c['app']} ({c['sent']} messages, {c['conversations']} conversations)",
                     f"rows={c['rows']} distinct={c['distinct_client_ids']} doubled={c['doubled']} missing={c['missing']} "
                     f"out-of-order={c['out_of_order']}", "ok" if c["ok"] else "FAILED"])
    return rows


def markdown(doc: dict) -> str:
    out = [f"# Real-time bench — {doc['plan']['mode']} ({doc['started']}, {doc['seconds']:.0f} s)", "",
           f"Command: `{doc['command']}`", "",
           f"Environment: {json.dumps(doc['environment'])}", ""]
    t = targets(doc)
    if t:
        out += ["## Targets", "", _table(["target", "measured", "verdict"], t), ""]

    open_rows = []
    for r in _runs(doc, variant="baseline", mode="open"):
        if r.get("skipped"):
            open_rows.append([r["app"], r["conversations"], r["rate"], r["skipped"]] + [""] * 13)
            continue
        open_rows.append([r["app"], r["conversations"], r["rate"], r["sent"] if not r.get("aborted") else f"{r['sent']} (stopped: saturated)",
                          r["delivered"], r["achieved_send_rate"],
                          r["delivered_rate"], r["lat_ms"]["p50"], r["lat_ms"]["p95"], r["lat_ms"]["p99"], r["lat_ms"]["max"],
                          r["ack_ms"]["p99"], r["server_cpu_pct"], r["server_cpu_ms_per_msg"], r["postgres_cpu_pct"], r["client_cpu_pct"], r["other_cpu_pct"],
                          r["loadavg_1m"]])
    if open_rows:
        out += ["## Open loop (fixed aggregate rate; latency visitor→agent from the scheduled send)", "",
                _table(["app", "convs", "rate/s", "sent", "delivered", "sent/s", "delivered/s", "p50 ms", "p95 ms",
                        "p99 ms", "max ms", "ack p99 ms", "server CPU %", "server CPU ms/msg", "postgres CPU %", "client CPU %", "other processes CPU %", "load 1m"],
                       open_rows), ""]

    closed_rows = []
    for r in _runs(doc, variant="baseline", mode="closed"):
        floor = _runs(doc, variant="baseline", app="floor", mode="closed", conversations=r["conversations"])
        ratio = (r["throughput_acks"] / floor[0]["throughput_acks"]) if (floor and r["app"] == "charla" and floor[0]["throughput_acks"]) else None
        closed_rows.append([r["app"], r["conversations"], r["throughput_acks"], r["throughput_delivered"],
                            f"{ratio:.0%}" if ratio else "–", r["lat_ms"]["p50"], r["lat_ms"]["p99"],
                            r["server_cpu_pct"], r["server_cpu_ms_per_msg"], r["postgres_cpu_pct"], r["redis_cpu_pct"], r["client_cpu_pct"], r["other_cpu_pct"],
                            r["loadavg_1m"]])
    if closed_rows:
        out += ["## Closed loop (each visitor sends the next after its ack) — saturation", "",
                _table(["app", "convs", "acks/s", "delivered/s", "vs floor", "p50 ms", "p99 ms", "server CPU %", "server CPU ms/msg",
                        "postgres CPU %", "redis CPU %", "client CPU %", "other processes CPU %", "load 1m"], closed_rows), ""]

    burst_rows = [[r["app"], r["conversations"], r["sent"], r["delivered"], r["time_to_last_ms"], r["delivered_rate"],
                   r["lat_ms"]["p50"], r["lat_ms"]["p99"]] for r in _runs(doc, variant="baseline", mode="burst")]
    if burst_rows:
        out += [f"## Burst (every conversation sends {doc['plan']['burst_per_conversation']} at the same instant)", "",
                _table(["app", "convs", "sent", "delivered", "last delivered after ms", "delivered/s", "p50 ms", "p99 ms"],
                       burst_rows), ""]

    if doc.get("checks"):
        out += ["## Correctness (closed loop, fixed count, then the rows in PostgreSQL)", "", _table(
            ["app", "convs", "per conv", "seconds", "sent", "rows", "distinct client_id", "doubled", "missing",
             "out of order (DB ids)", "agent saw out of order", "agent dup", "agent missing", "ok"],
            [[c["app"], c["conversations"], c.get("per_conversation"), c.get("seconds"), f"{c['sent']} of {c.get('target', c['sent'])}", c["rows"], c["distinct_client_ids"],
              c["doubled"], c["missing"], c["out_of_order"], c["agent_order_violations"], c["agent_dup_deliveries"],
              c.get("agent_missing"), c["ok"]] for c in doc["checks"]]), ""]

    if doc.get("idle"):
        out += ["## Idle sockets (one server process)", "", _table(
            ["app", "server", "requested", "opened", "connect s", "connects/s", "RSS before kB", "RSS after kB",
             "KB/socket", "RSS after close kB", "idle CPU %", "pongs"],
            [[i["app"], i["server"], i["requested"], i["opened"], i["connect_seconds"], i["connect_rate_per_s"],
              i["rss_before_kb"], i["rss_after_kb"], i["kb_per_socket"], i["rss_after_close_kb"], i["idle_cpu_pct"],
              f"{i['pongs']}/{i['ping_sample']}"] for i in doc["idle"]]), ""]

    cmp_rows = []
    variants = ["baseline"] + sorted({r["variant"] for r in doc["runs"]} - {"baseline"})
    n_cmp = doc["plan"].get("compare_size")
    for v in variants:
        for r in _runs(doc, variant=v, conversations=n_cmp):
            if r.get("skipped") or r["mode"] == "check" or (r["mode"] == "open" and r["rate"] != max(doc["plan"]["rates"])):
                continue
            value = r.get("throughput_acks") if r["mode"] == "closed" else (r.get("time_to_last_ms") if r["mode"] == "burst" else r.get("delivered_rate"))
            cmp_rows.append([v, r["server"], r["layer"], r["db"], r["app"], r["mode"] + (f" {r['rate']}/s" if r["rate"] else ""),
                             value, r["lat_ms"]["p50"], r["lat_ms"]["p99"], r["missing"], r["server_cpu_pct"],
                             r["server_cpu_ms_per_msg"], r["loadavg_1m"]])
    if len(variants) > 1 and cmp_rows:
        out += [f"## Comparisons ({n_cmp} conversations)", "",
                "value = delivered/s (open), acks/s (closed), ms until the last delivery (burst)", "",
                _table(["variant", "server", "layer", "db", "app", "mode", "value", "p50 ms", "p99 ms", "missing", "server CPU %",
                        "server CPU ms/msg", "load 1m"],
                       cmp_rows), ""]
    if doc.get("profiles"):
        out += ["## Where the server's CPU goes (py-spy --gil, closed loop)", ""]
        for p in doc["profiles"]:
            out += [f"**{p['app']}**, {p['conversations']} conversations, {p['server_cpu_ms_per_msg']} ms server CPU per message, "
                    f"{p['samples']} samples:", "",
                    _table(["part", "% of GIL-holding samples"], [[k, v] for k, v in p["parts"].items()]), ""]
    if doc.get("problems"):
        out += ["## Problems", ""] + [f"- {p}" for p in doc["problems"]] + [""]
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1]).read_text())))
