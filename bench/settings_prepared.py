"""Bench-only settings: Charla's settings with psycopg server-side binding
and prepared statements (Django disables both by default), to measure what
PostgreSQL's per-query planning costs the write path."""

from config.settings import *  # noqa: F403
from config.settings import DATABASES

DATABASES["default"]["OPTIONS"].update({"server_side_binding": True, "prepare_threshold": 2})
