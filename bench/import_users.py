"""By-hand benchmark: import 100,000 users the way POST /imports and the worker do.

    .venv/bin/python bench/import_users.py                 # a temporary SQLite file
    .venv/bin/python bench/import_users.py --postgres      # a throwaway PostgreSQL database
    .venv/bin/python bench/import_users.py --users 20000 --database-url postgresql+psycopg://...

Times storing the import (what the request does) and importing it chunk by chunk (what the
`import_users` actor does), first creating every user, then updating them all again.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from redis import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db import Database
from app.imports import service
from app.migrate import upgrade
from app.security import Encryptor
from app.tenants import service as tenants
from app.users import statistics

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def records(count: int, *, revision: str) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"user-{n:06d}",
            "email": f"user-{n:06d}@example.com",
            "first_name": f"First{revision}",
            "custom_attributes": {"plan": "pro", "seats": n % 50},
        }
        for n in range(count)
    ]


def timed_import(database: Database, app_id: str, batch: list[dict[str, Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    with database.transaction() as session:
        import_id = service.create_import(session=session, app_id=app_id, records=batch).id
    stored = time.perf_counter()
    service.run_import(database, import_id=import_id)
    finished = time.perf_counter()
    with database.transaction() as session:
        done = service.get_import(session=session, app_id=app_id, import_id=import_id)
        summary = (done.status, done.created_count, done.updated_count, done.failed_count)
    return {"store_s": stored - started, "import_s": finished - stored, "summary": summary}


def run(url: str, count: int) -> None:
    upgrade(url)
    database = Database(url)
    # As in the worker's runtime: bulk creations refresh the planner's statistics.
    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    statistics.install(database, redis, f"herald-bench-{uuid.uuid4().hex[:8]}:users:analyzed:")
    try:
        with database.transaction() as session:
            app, _ = tenants.create_tenant(session=session, name="bench", encryptor=Encryptor("x"))
            app_id = app.id
        for label, revision in (("create", "A"), ("update", "B")):
            result = timed_import(database, app_id, records(count, revision=revision))
            total = result["store_s"] + result["import_s"]
            print(
                f"{database.engine.dialect.name} {label}: {count} users in {total:.1f} s "
                f"({count / total:,.0f} users/s; store {result['store_s']:.1f} s, "
                f"import {result['import_s']:.1f} s) -> {result['summary']}"
            )
    finally:
        database.dispose()
        redis.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--database-url")
    parser.add_argument("--postgres", action="store_true", help="use a throwaway PG database")
    args = parser.parse_args()
    if args.database_url:
        run(args.database_url, args.users)
    elif args.postgres:
        import psycopg

        name = f"herald_bench_{uuid.uuid4().hex[:8]}"
        libpq = ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            run(f"{ADMIN_URL.rpartition('/')[0]}/{name}", args.users)
        finally:
            with psycopg.connect(libpq, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    else:
        with tempfile.TemporaryDirectory() as directory:
            run(f"sqlite:///{directory}/bench.db", args.users)


if __name__ == "__main__":
    main()
