"""Dashboard benchmark: the main pages' server time on a PostgreSQL database holding one app
with 100,000 users and 1,000,000 deliveries over 1,000 notifications.

Run by hand (never in the test suite):

    .venv/bin/python -m bench.dashboard [--requests 20]

It creates a private PostgreSQL database and Redis prefix, migrates it, seeds it
(`bench/dashboard_seed.py`, COPY), signs in to the dashboard through the Flask test client and
requests each page `--requests` times after two warm-up requests, printing the median and p95
of each; then it runs EXPLAIN on every query of each page and prints the plan's top node and
the indexes it uses (or the tables it reads whole).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ["REDIS_PREFIX"] = f"herald-bench-{uuid.uuid4().hex[:8]}:"
os.environ.setdefault("SECRET_KEY", "bench-secret-key")
os.environ["LOG_LEVEL"] = "WARNING"

from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app import create_app
from app.migrate import upgrade
from bench.dashboard_seed import Seeded, email, external_id, seed
from tests.support import services
from tests.support.dashboard import sign_in
from tests.support.factories import approved_template, make_tenant

TEMPLATES = 30
TARGET_MS = 200.0


def pages(seeded: Seeded) -> list[tuple[str, str]]:
    """(what, path) of each page timed."""
    one = f"/dashboard/notifications/{seeded.notification_ids[len(seeded.notification_ids) // 2]}"
    listed = "/dashboard/notifications"
    user = seeded.user_ids[12_345]
    key = seeded.template_keys[3]
    return [
        ("notifications, page 1", listed),
        ("notifications, page 50 (the last)", f"{listed}?page=50"),
        ("notifications by status and template", f"{listed}?status=sending&template={key}"),
        ("notifications of one week", f"{listed}?from=2026-01-08&to=2026-01-14"),
        ("a notification, deliveries page 1", one),
        ("a notification, deliveries page 50", f"{one}?page=50"),
        ("a notification, failed email", f"{one}?channel=email&status=failed"),
        ("a notification, reason contains", f"{one}?reason=mailbox"),
        ("users, no search (newest first)", "/dashboard/users"),
        ("users, external id prefix (100 match)", f"/dashboard/users?q={external_id(1234)[:-2]}"),
        ("users, email prefix (10 match)", f"/dashboard/users?q={email(45678)[:-13]}"),
        ("users, prefix all 100,000 match", "/dashboard/users?q=user-"),
        ("users, page 2 of a search", f"/dashboard/users?q={external_id(1234)[:-2]}&page=2"),
        ("a user", f"/dashboard/users/{user}"),
        ("templates", "/dashboard/templates"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    args = parser.parse_args()
    database_url = services.create_postgres_database()
    try:
        run(database_url, args.requests)
    finally:
        services.drop_postgres_database(database_url)


def run(database_url: str, requests: int) -> None:
    upgrade(database_url)
    flask_app = create_app({"database_url": database_url})
    runtime = flask_app.extensions["herald"]
    tenant = make_tenant(runtime, "bench", rate_limit_write_per_minute=1_000)
    client = flask_app.test_client()
    keys = [f"template-{number:02d}" for number in range(TEMPLATES)]
    for key in keys:
        approved_template(client, tenant, key=key)
    started = time.perf_counter()
    seeded = seed(database_url, app_id=tenant.app_id, template_keys=keys)
    print(f"seeded in {time.perf_counter() - started:.0f} s")
    assert sign_in(client, tenant.secret).status_code == 302
    print(f"\n{'page':<42} {'median ms':>10} {'p95 ms':>8}  under {TARGET_MS:.0f} ms")
    for what, path in pages(seeded):
        median, p95 = timed(client, path, requests)
        print(f"{what:<42} {median:>10.1f} {p95:>8.1f}  {'yes' if p95 < TARGET_MS else 'NO'}")
    print("\nplans (EXPLAIN of each query a page runs):")
    for what, path in pages(seeded):
        print(f"  {what}")
        with captured_queries(runtime.database.engine) as queries:
            assert client.get(path).status_code == 200
        for statement, parameters in queries:
            print("    " + describe_plan(runtime.database.engine, statement, parameters))
    flask_app.extensions["herald"].database.engine.dispose()


def timed(client: FlaskClient, path: str, requests: int) -> tuple[float, float]:
    """Median and p95 (ms) of `requests` GETs of `path`, after two that warm caches up."""
    for _ in range(2):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    samples = []
    for _ in range(requests):
        began = time.perf_counter()
        client.get(path)
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples), statistics.quantiles(samples, n=20)[-1]


@contextmanager
def captured_queries(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs run on `engine` inside the block (the session's own checks left out)."""
    queries: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM" in statement.upper():
            queries.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield queries
    finally:
        event.remove(engine, "before_cursor_execute", record)


def describe_plan(engine: Engine, statement: str, parameters: Any) -> str:
    """The plan's top node, the indexes it uses and the tables it reads whole."""
    with engine.connect() as connection:
        [[plan]] = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
    top = plan[0]["Plan"]
    indexes, whole = set(), set()
    for node in walk(top):
        if "Index Name" in node:
            indexes.add(node["Index Name"])
        if node["Node Type"] == "Seq Scan":
            whole.add(node["Relation Name"])
    summary = " ".join(statement.split())[:70]
    uses = f"index: {', '.join(sorted(indexes))}" if indexes else "no index"
    scans = f"; seq scan: {', '.join(sorted(whole))}" if whole else ""
    return f"{top['Node Type']:<14} cost {top['Total Cost']:>9.0f}  {uses}{scans}  | {summary}"


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


if __name__ == "__main__":
    main()
