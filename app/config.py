"""Settings, read from the environment once per process (twelve-factor).

Every process (web, worker, CLI, tests) builds its `Settings` with `Settings.from_env()`,
so they all agree on the database and Redis as long as they share an environment.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_DIR = PROJECT_ROOT / "instance"


@dataclass(frozen=True)
class Settings:
    """Every setting Herald reads, with its documented default (see docs/deployment.md)."""

    database_url: str
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "herald:"
    secret_key: str = ""
    smtp_url: str = "smtp://127.0.0.1:1025"
    # Emails per second to the relay, across every worker process (0: unlimited); see
    # app.engine.throttle.
    smtp_max_per_second: int = 0
    default_sender: str = "Herald <no-reply@localhost>"
    public_url: str = "http://127.0.0.1:5000"
    max_body_bytes: int = 10 * 1024 * 1024
    max_import_body_bytes: int = 64 * 1024 * 1024
    log_level: str = "INFO"
    log_json: bool = True
    chunk_size: int = 250
    # Waits between attempts after a transient failure (app.engine.retry, docs/deployment.md).
    retry_schedule: str = "1m,5m,15m,30m,1h,2h,4h,4h,4h"
    reconcile_interval_s: int = 30
    reconcile_stale_after_s: int = 120
    push_timeout_s: float = 10.0
    vapid_subject: str = "mailto:admin@localhost"
    # User-supplied Web Push endpoints (docs/operations.md): ports besides 443 and host patterns
    # to admit (comma-separated; no patterns: any public host); private addresses and plain
    # http only for development and tests with a push service on loopback.
    webpush_allowed_ports: str = ""
    webpush_allowed_hosts: str = ""
    webpush_allow_private: bool = False
    # Mobile push (docs/mobile-push.md): FCM's base URL, APNs's (empty: Apple's production or
    # sandbox host, as the app's key says), a CA bundle trusted for both instead of the system's
    # (tests' local fakes), and how long a provider keeps trying an offline device.
    fcm_base_url: str = "https://fcm.googleapis.com"
    apns_base_url: str = ""
    push_providers_ca_file: str = ""
    mobile_push_ttl_s: int = 24 * 60 * 60
    # Webhooks (docs/webhooks.md): endpoints must be public https URLs on port 443 or one of
    # these ports; loopback (http too) for `herald dev` and tests, private addresses only where
    # the receivers live inside the network. Each attempt waits this long for an answer; the
    # workers form and enqueue due messages this often.
    webhook_allowed_ports: str = ""
    webhook_allow_loopback: bool = False
    webhook_allow_private: bool = False
    webhook_timeout_s: float = 10.0
    webhook_pass_interval_s: float = 1.0
    # The operator dashboard (docs/dashboard.md): a signed-in session ends after this long
    # without a request.
    dashboard_session_idle_s: int = 30 * 60
    realtime_ping_interval_s: float = 25.0
    realtime_presence_ttl_s: float = 6.0
    realtime_redis_connections: int = 32
    # The only directory an app's `oauth2.jwksPath` may name a file in (default: instance/jwks).
    jwks_dir: str = ""
    # Operations metrics (docs/operations.md, "Metrics and alerts"): the bearer token of
    # GET /internal/metrics (empty: not served), the directory where a host's processes share
    # their counts (empty: instance/metrics), and the port a worker host serves them on (0: none).
    metrics_token: str = ""
    metrics_dir: str = ""
    worker_metrics_port: int = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from environment variables (upper-case field names)."""
        env = os.environ if environ is None else environ
        _refuse_replaced(env)
        instance_dir = local_instance_dir(env)
        values: dict[str, Any] = {
            "database_url": env.get("DATABASE_URL") or _default_database_url(instance_dir),
        }
        for field in fields(cls):
            raw = env.get(field.name.upper())
            if field.name == "database_url" or raw is None or raw == "":
                continue
            values[field.name] = _coerce(raw, field.type)
        settings = cls(**values)
        if not settings.secret_key:
            settings = replace(settings, secret_key=_instance_secret_key(instance_dir))
        if not settings.jwks_dir:
            settings = replace(settings, jwks_dir=str(instance_dir / "jwks"))
        return replace(settings, **overrides)


def local_instance_dir(environ: Mapping[str, str] | None = None) -> Path:
    """This installation's local directory (HERALD_INSTANCE_DIR, default instance/): the SQLite
    database and the secret key of local runs."""
    env = os.environ if environ is None else environ
    return Path(env.get("HERALD_INSTANCE_DIR", DEFAULT_INSTANCE_DIR))


# Settings that no longer exist, and what replaced them: a process started with one of them set
# refuses to start rather than silently behave otherwise than its operator asked.
REPLACED = {
    "MAX_DELIVERY_ATTEMPTS": "RETRY_SCHEDULE (attempts are its waits plus one)",
    "RETRY_BACKOFF_MS": "RETRY_SCHEDULE (its waits, e.g. 1m,5m,15m,30m,1h,2h,4h,4h)",
}


def _refuse_replaced(env: Mapping[str, str]) -> None:
    for name, replacement in REPLACED.items():
        if env.get(name):
            raise ValueError(f"{name} is no longer read: set {replacement} instead.")


def _coerce(raw: str, type_name: Any) -> Any:
    if type_name in ("int", int):
        return int(raw)
    if type_name in ("float", float):
        return float(raw)
    if type_name in ("bool", bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return raw


def _default_database_url(instance_dir: Path) -> str:
    instance_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance_dir / 'herald.db'}"


def _instance_secret_key(instance_dir: Path) -> str:
    """A per-installation key for local runs; production sets SECRET_KEY explicitly.

    Kept in a 0600 file so that restarting the local server can still decrypt the
    app secrets it encrypted before.
    """
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "secret_key"
    if not path.exists():
        # Write aside, then link into place: atomic; a concurrent starter keeps the first key.
        draft = instance_dir / f".secret_key.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
