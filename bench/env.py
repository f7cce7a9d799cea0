"""One place for the bench's environment: the bench database, a Redis
database of its own, and the settings the server subprocess reads."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "bench" / "results"
# Server logs stay out of the repository.
LOGS = Path(os.environ.get("BENCH_LOGS", "/tmp/charla-bench-logs"))

BENCH_DB = os.environ.get("BENCH_DB", "charla_bench")
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
DATABASE_URL = f"{PG_URL}/{BENCH_DB}"
# A Redis database of its own, so queued Celery tasks, presence and rate-limit
# keys never mix with the dev database (db 0). Cleaned (known keys only) after a run.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
PREFIX = "benchrt"
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789abcdef"
WIDGET_ORIGIN = "https://bench.example.test"
NOFILE = 65536


def base_env(**overrides: str) -> dict[str, str]:
    """Environment shared by the client (for data set-up) and the server."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": DATABASE_URL,
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "text",
            "ALLOWED_HOSTS": "*",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "REDIS_URL": REDIS_URL,
            "CHANNEL_PREFIX": PREFIX,
            "CACHE_PREFIX": PREFIX,
            "SECRET_KEY": SECRET_KEY,
            "JWT_ACCESS_MINUTES": "600",
            # The bench measures the write path, not the flood guard: closed-loop
            # visitors send many messages per 10 s. Raised for the bench only.
            "RATE_LIMIT_PER_CONNECTION": "100000000",
            "RATE_LIMIT_PER_CONTACT": "100000000",
            "PYTHONPATH": str(ROOT),
        }
    )
    # Measure the settings' defaults unless a variant says otherwise: drop what
    # the calling shell (or the client's own Django set-up) may have exported.
    for key in ("DJANGO_SETTINGS_MODULE", "DB_POOL", "DB_POOL_MIN", "DB_POOL_MAX", "DB_POOL_TIMEOUT", "CONN_MAX_AGE"):
        env.pop(key, None)
    env.update(overrides)
    return env


def machine_speed() -> float:
    """Milliseconds this machine's CPython takes for ``sum(range(10**6))``,
    best of five: one core's speed, recorded with every run so figures of
    different days can be compared (the same code's throughput moved by 2x
    between sessions on this machine kind; docs/performance.md)."""
    import timeit

    return round(min(timeit.repeat("sum(range(10**6))", number=10, repeat=5)) / 10 * 1000, 2)
