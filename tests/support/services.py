"""Real services the suite needs, located from the environment, each checked loudly."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
import redis

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

HOW_TO_START = {
    "redis": "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
    "postgresql": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
}


def require_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.exit(
            f"Redis is not reachable at {REDIS_URL} ({exc}). Start it with: {HOW_TO_START['redis']}"
            " or set REDIS_URL.",
            returncode=3,
        )


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def require_postgres() -> None:
    try:
        psycopg.connect(_libpq_url(POSTGRES_ADMIN_URL), connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({exc}). Start it with: "
            f"{HOW_TO_START['postgresql']} or set TEST_DATABASE_URL.",
            returncode=3,
        )


def create_postgres_database() -> str:
    """A fresh, uniquely named database beside the admin one; returns its SQLAlchemy URL."""
    name = f"herald_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_url(POSTGRES_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rpartition("/")[2]
    with psycopg.connect(_libpq_url(POSTGRES_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
