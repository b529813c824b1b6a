"""`herald dev`: everything a fresh machine needs to run Herald locally, in one command.

Every start works alike, the first or the tenth, after a clean stop or a killed one: Redis and
the printing SMTP server start afresh, migrations apply what is missing (in one transaction),
and the demo app is made once and then reused with its primary secret (stored encrypted with
the instance's key), so the credentials printed stay the same. They are printed, with a `curl`,
once the web process answers; whatever fails, everything started is stopped again.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import sys
from pathlib import Path

import click
from click.core import ParameterSource
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import PROJECT_ROOT, Settings, local_instance_dir
from app.devprocesses import (
    Helper,
    StartFailed,
    start_printing_smtp,
    start_redis,
    start_web_and_worker,
    wait_until_port_is_free,
    wait_until_ready,
)
from app.migrate import upgrade
from app.refusals import NotFound
from app.runtime import Runtime
from app.security import DecryptionFailed, Encryptor, user_hmac
from app.tenants import service as tenants
from app.tenants.models import App
from templates_store.files import import_directory
from templates_store.service import approve, submit

EXAMPLES = PROJECT_ROOT / "templates_store" / "examples"
DEMO_APP_NAME = "demo"
DEMO_USER = {"external_id": "user-jane-123", "email": "jane@example.com", "first_name": "Jane"}
# The send API requests printed for the demo: the order confirmation (inbox and push) and the
# newsletter (email and inbox), both to Jane.
DEMO_SENDS = {
    "order-confirmation": {
        "template": {
            "key": "order-confirmation",
            "variables": {"customerName": "Jane", "orderId": "ORD-12345"},
        },
        "targets": [DEMO_USER],
        "mode": "realtime",
        "title": "Order Confirmed",
        "tag": "orders",
    },
    "newsletter": {
        "template": {
            "key": "newsletter",
            "variables": {
                "issueTitle": "Herald News",
                "intro": "What is new this month.",
                "articles": [
                    {
                        "title": "Hello from Herald",
                        "url": "https://example.com/hello",
                        "summary": "One API for email, push and the inbox.",
                    }
                ],
            },
        },
        "targets": [DEMO_USER],
        "mode": "realtime",
    },
}
# How long the web process may take to answer /healthz (HERALD_DEV_READY_TIMEOUT_S).
READY_TIMEOUT_S = 60.0


class _Stopped(BaseException):
    """SIGTERM (a process manager, `kill`): stop as on Ctrl-C (and, like it, not an Exception
    that code under way would catch)."""


def run_dev(*, port: int) -> None:
    """Start Redis and an SMTP printer if needed, migrate, prepare the demo app, run web + worker
    (on `--port`, else PORT, else 5000), and print how to call them once they answer."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started: list[Helper] = []
    try:
        _start_and_run(started, port=_chosen_port(port))
    except (KeyboardInterrupt, _Stopped):
        pass
    except StartFailed as failure:
        print(f"herald dev: {failure}. Stopping everything it started.", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        _stop_all(started)


def _start_and_run(started: list[Helper], *, port: int) -> None:
    wait_until_port_is_free(port)
    if not os.environ.get("REDIS_URL"):
        started.append(start_redis())
        print(f"Started a local Redis at {os.environ['REDIS_URL']} (set REDIS_URL to use yours).")
    if not os.environ.get("SMTP_URL"):
        started.append(start_printing_smtp())
        print(
            f"Started a printing SMTP server at {os.environ['SMTP_URL']}: emails are printed"
            " here (set SMTP_URL to use yours).",
            flush=True,
        )
    os.environ.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
    os.environ.setdefault("LOG_JSON", "false")
    # Webhook receivers being developed run on this machine (docs/webhooks.md, "Safety").
    os.environ.setdefault("WEBHOOK_ALLOW_LOOPBACK", "true")
    settings = Settings.from_env()
    upgrade(settings.database_url)
    credentials = _prepare_demo_app(settings)
    web_and_worker = start_web_and_worker(port)
    started.append(web_and_worker)
    wait_until_ready(port, web_and_worker, timeout_s=_ready_timeout_s())
    _print_welcome(credentials, port)
    code = web_and_worker.process.wait()
    if code:
        raise StartFailed(f"the web and worker processes stopped (exit code {code})")


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    raise _Stopped


def _stop_all(started: list[Helper]) -> None:
    """Stop what was started, the last first (web and worker drain while Redis still runs); a
    second Ctrl-C or SIGTERM does not cut this short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for helper in reversed(started):
        helper.stop()


def _chosen_port(option: int) -> int:
    """`--port` when given, else the PORT environment variable, else the option's default."""
    context = click.get_current_context(silent=True)
    source = context.get_parameter_source("port") if context is not None else None
    raw = os.environ.get("PORT", "").strip()
    if source not in (None, ParameterSource.DEFAULT) or not raw:
        return option
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise StartFailed(f"PORT must be a port number, not {raw!r}")
    return int(raw)


def _ready_timeout_s() -> float:
    raw = os.environ.get("HERALD_DEV_READY_TIMEOUT_S", "")
    return float(raw) if raw else READY_TIMEOUT_S


def _prepare_demo_app(settings: Settings) -> dict[str, str]:
    """The demo app with its primary secret: made on the first start, reused on the next ones."""
    rt = Runtime.from_settings(settings)
    try:
        with rt.database.transaction() as session:
            app = session.scalar(
                select(App).where(App.name == DEMO_APP_NAME).order_by(App.created_at, App.id)
            )
            if app is None:
                app, issued = tenants.create_tenant(
                    session=session, name=DEMO_APP_NAME, encryptor=rt.encryptor
                )
                secret = issued.secret
            else:
                secret = _demo_secret(session, app_id=app.id, encryptor=rt.encryptor)
            _approve_examples(session, app.id)
            return {"appId": app.id, "apiKey": app.api_key, "apiSecret": secret}
    finally:
        rt.close()


def _demo_secret(session: Session, *, app_id: str, encryptor: Encryptor) -> str:
    """The demo app's primary secret, read back; a new one if it cannot be (revoked, or stored
    under another SECRET_KEY)."""
    try:
        return encryptor.decrypt(tenants.primary_secret_encrypted(session=session, app_id=app_id))
    except (NotFound, DecryptionFailed):
        print("The demo app's secret could not be read back: it gets a new one.")
        issued = tenants.rotate_primary_secret(session=session, app_id=app_id, encryptor=encryptor)
        return issued.secret


def _approve_examples(session: Session, app_id: str) -> None:
    """Import the shipped example templates and approve whatever is not approved yet, so sends
    work at once; a later start finds them approved and changes nothing."""
    results = import_directory(session, app_id=app_id, directory=EXAMPLES, actor="herald dev")
    for result in results:
        if result.status == "draft":
            submit(session, app_id=app_id, ref=result.key, actor="herald dev")
        if result.status in ("draft", "pending"):
            approve(session, app_id=app_id, ref=result.key, actor="herald dev")


def _print_welcome(credentials: dict[str, str], port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    user = DEMO_USER["external_id"]
    # User calls carry an HMAC of the user's id; your server computes it the same way.
    user_auth = (
        f"-H 'X-API-Key: {credentials['apiKey']}' -H 'X-User-External-ID: {user}' "
        f"-H 'X-User-HMAC: {user_hmac(credentials['apiSecret'], user)}'"
    )
    lines = [
        f"\nHerald is ready at {base}.",
        "\nThe demo app (the same credentials on every start):",
        json.dumps(credentials, indent=2),
        "\nSend the order confirmation (to the inbox and by push) with the send API:",
        _send_curl(base, credentials, "order-confirmation"),
        "\nSend the newsletter by email (printed here) and to the inbox:",
        _send_curl(base, credentials, "newsletter"),
        f"\nRead {user}'s inbox with the MagicBell-compatible inbox API (the HMAC is computed"
        " with the secret):",
        f"  curl -s {base}/notifications {user_auth}",
        "\nSend the newsletter as a batch to 300 readers and follow its progress, from another"
        " terminal in this directory (the send prints the notificationId to watch):",
        *_batch_commands(credentials),
        f"\nAPI docs: {base}/docs   OpenAPI: {base}/openapi.json",
        "Stop with Ctrl-C; the same command starts it again.\n",
    ]
    print("\n".join(lines), flush=True)


BATCH_SIZE = 300


def _batch_commands(credentials: dict[str, str]) -> list[str]:
    """`herald send` of the newsletter to a CSV of readers, and `herald notifications watch`."""
    targets = local_instance_dir() / "demo-readers.csv"
    with targets.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["external_id", "email", "first_name"])
        for n in range(1, BATCH_SIZE + 1):
            writer.writerow([f"reader-{n:03d}", f"reader-{n:03d}@example.com", f"Reader {n}"])
    # The command line reaches this Redis and this instance's database only if told where.
    shared = {"REDIS_URL": os.environ["REDIS_URL"]}
    if os.environ.get("HERALD_INSTANCE_DIR"):
        shared["HERALD_INSTANCE_DIR"] = os.environ["HERALD_INSTANCE_DIR"]
    herald = os.path.relpath(Path(sys.executable).with_name("herald"))
    variables = DEMO_SENDS["newsletter"]["template"]["variables"]
    send = [herald, "send", "--app", credentials["appId"], "--template", "newsletter"]
    send += ["--targets", os.path.relpath(targets), "--mode", "batch"]
    for name, value in variables.items():
        text = value if isinstance(value, str) else json.dumps(value)
        send += ["--var", f"{name}={text}" if isinstance(value, str) else f"{name}:={text}"]
    return [
        "  export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in shared.items()),
        "  " + shlex.join(send),
        f"  {herald} notifications watch NOTIFICATION_ID",
    ]


def _send_curl(base: str, credentials: dict[str, str], template: str) -> str:
    auth = f"-H 'appid: {credentials['appId']}' -H 'apikey: {credentials['apiSecret']}'"
    return (
        f"  curl -s {base}/api/notifications/send {auth} -H 'Content-Type: application/json'"
        f" -d '{json.dumps(DEMO_SENDS[template])}'"
    )
