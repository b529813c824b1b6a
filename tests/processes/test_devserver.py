"""`herald dev`, the README's first command: a fresh machine with only Python gets a running
Herald (its own Redis and SMTP server, SQLite, a demo app), and stopping it leaves nothing."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from app.config import PROJECT_ROOT
from tests.support.processes import BIN, free_port
from tests.support.sinks import wait_until


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _printed_send_body(log: Path) -> dict:
    """The body of the send API `curl` the command prints."""
    found = re.search(r"/api/notifications/send .* -d '(\{.*\})'", log.read_text())
    assert found, log.read_text()
    return json.loads(found.group(1))


def _printed_inbox_headers(log: Path) -> dict[str, str]:
    """The headers of the inbox `curl` the command prints (its user HMAC included)."""
    found = re.search(r"curl -s \S+/notifications (.*)", log.read_text())
    assert found, log.read_text()
    return dict(re.findall(r"-H '([^:]+): ([^']*)'", found.group(1)))


def _demo_credentials(log: Path) -> dict[str, str] | None:
    found = re.search(r"Herald demo app[^\n]*\n(\{.*?\})", log.read_text(), re.S)
    return json.loads(found.group(1)) if found else None


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_herald_dev_starts_everything_it_needs_and_stops_it_all_on_sigterm_every_time(
    tmp_path: Path,
):
    database = f"sqlite:///{tmp_path / 'dev.db'}"

    first = _start_send_read_and_stop(tmp_path / "first.log", database)
    again = _start_send_read_and_stop(tmp_path / "again.log", database)

    assert again["app_id"] == first["app_id"]  # the same demo app, with a new secret


def _start_send_read_and_stop(log: Path, database: str) -> dict[str, str]:
    """Run `herald dev`, use the two curls it prints, stop it; its printed credentials."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "SMTP_URL", "DATABASE_URL", "REDIS_PREFIX"}
    }
    env.update(DATABASE_URL=database, PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "herald"), "dev", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        credentials = wait_until(lambda: _demo_credentials(log), timeout=60)
        wait_until(lambda: _healthy(port), timeout=60)
        assert "Started a local Redis" in log.read_text()

        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/notifications/send",
            data=json.dumps(_printed_send_body(log)).encode(),
            headers={
                "appid": credentials["app_id"],
                "apikey": credentials["api_secret"],
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
        assert (answer["templateKey"], answer["mode"]) == ("order-confirmation", "realtime")
        assert answer["status"] == "completed"
        inbox = urllib.request.Request(
            f"http://127.0.0.1:{port}/notifications", headers=_printed_inbox_headers(log)
        )
        with urllib.request.urlopen(inbox, timeout=10) as response:
            notifications = json.load(response)["notifications"]
        assert notifications[0]["title"] == "Order ORD-12345 confirmed"

        process.send_signal(signal.SIGTERM)  # to `herald dev` alone, as a process manager would
        process.wait(timeout=60)
        wait_until(lambda: not _group_alive(process.pid), timeout=30)
        return credentials
    finally:
        if _group_alive(process.pid):  # the test failed early: let it stop its children first
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                time.sleep(0.5)
