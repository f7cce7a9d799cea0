"""Make sure PostgreSQL and Redis answer, and that Charla's database exists.

Called by scripts/bootstrap.sh with the .venv's Python. Reads DATABASE_URL and
REDIS_URL the way config/settings.py does (environment first, then .env).
When a server does not answer on this machine and its Debian package is
installed, it is started; otherwise the script stops with a message naming
what to install (or the docker compose command that provides both).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import environ
import psycopg
import redis
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}
COMPOSE_HINT = "or run both with Docker: 'docker compose up -d postgres redis'"

env = environ.Env()
environ.Env.read_env(ROOT / ".env", overwrite=False)


def say(message: str) -> None:
    print(f"\033[1;34m==>\033[0m {message}", flush=True)


def die(message: str) -> None:
    print(f"\033[1;31mERROR:\033[0m {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def wait_for(check, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


# --- PostgreSQL ---------------------------------------------------------------


def pg_params(db: dict, dbname: str) -> dict:
    params = {"dbname": dbname, "connect_timeout": 3}
    for key, name in (("HOST", "host"), ("PORT", "port"), ("USER", "user"), ("PASSWORD", "password")):
        if db.get(key):
            params[name] = db[key]
    return params


def pg_connect(db: dict) -> tuple[psycopg.Connection | None, str]:
    """A connection to a maintenance database of the server, or (None, why)."""
    error = ""
    for dbname in ("postgres", "template1"):
        try:
            return psycopg.connect(**pg_params(db, dbname), autocommit=True), ""
        except psycopg.OperationalError as exc:
            error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None, error


def start_local_postgres() -> bool | None:
    """Start Debian's clusters: None when not installed, else whether one started."""
    clusters = Path("/etc/postgresql")
    if not shutil.which("pg_ctlcluster") or not clusters.is_dir() or not any(clusters.iterdir()):
        return None
    started = False
    for version in sorted(p.name for p in clusters.iterdir()):
        say(f"Starting the local PostgreSQL {version} cluster")
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"]
        started |= subprocess.run(command, check=False).returncode == 0
    return started


def ensure_postgres() -> None:
    url = env.str("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/charla")
    db = env.db_url_config(url)
    where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
    conn, error = pg_connect(db)
    if conn is None and (db.get("HOST") or "") in LOCAL_HOSTS:
        started = start_local_postgres()
        if started is None:
            die(
                f"PostgreSQL does not answer at {where} and is not installed here.\n"
                "       Install Debian's package: 'apt-get install postgresql' (then run this again),\n"
                f"       {COMPOSE_HINT}, or set DATABASE_URL."
            )
        wait_for(lambda: pg_connect(db)[0] is not None, 30 if started else 2)
        conn, error = pg_connect(db)
        if conn is None:
            die(
                f"Tried to start the local PostgreSQL but nothing answers at {where}: {error}\n"
                "       (starting a cluster needs root or the postgres user: "
                "'sudo pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start')."
            )
    if conn is None:
        die(f"PostgreSQL does not answer at {where}: {error}\n       Start it, fix DATABASE_URL, {COMPOSE_HINT}.")
    with conn:
        name = db["NAME"]
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            say(f"Creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    say(f"PostgreSQL answers at {where} (database {db['NAME']})")


# --- Redis --------------------------------------------------------------------


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def ensure_redis() -> None:
    url = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
    pool = redis.ConnectionPool.from_url(url)
    host = pool.connection_kwargs.get("host", "localhost")
    port = int(pool.connection_kwargs.get("port", 6379))
    pool.disconnect()
    where = f"{host}:{port}"
    if _redis_answers(url):
        say(f"Redis answers at {where}")
        return
    if host not in LOCAL_HOSTS:
        die(f"Redis does not answer at {where}. Start it, fix REDIS_URL, {COMPOSE_HINT}.")
    if not shutil.which("redis-server"):
        die(
            f"Redis does not answer at {where} and is not installed here.\n"
            "       Install Debian's package: 'apt-get install redis-server' (then run this again),\n"
            f"       {COMPOSE_HINT}, or set REDIS_URL."
        )
    say(f"Starting a local Redis on {where}")
    command = f'redis-server --daemonize yes --bind 127.0.0.1 --port {port} --save "" --appendonly no'
    subprocess.run(shlex.split(command), check=False)
    if not wait_for(lambda: _redis_answers(url), 15):
        die(f"Started redis-server but it does not answer at {where}.")
    say(f"Redis answers at {where}")


if __name__ == "__main__":
    os.chdir(ROOT)
    ensure_postgres()
    ensure_redis()
