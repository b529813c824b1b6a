"""The `herald` command line: apps, keys, templates, sends, notifications, webhooks, migrations
and the local demo, one module per command group. Every command prints JSON on stdout; a refusal
prints the Herald API's error envelope on stderr and exits 1 (docs/cli.md)."""

from __future__ import annotations

import click

from app.cli.apps import apps
from app.cli.db import db
from app.cli.keys import keys
from app.cli.notifications import notifications
from app.cli.output import HeraldGroup
from app.cli.push_providers import push_providers
from app.cli.send import send
from app.cli.suppressions import suppressions
from app.cli.templates import templates
from app.cli.webhooks import webhooks


@click.group(cls=HeraldGroup)
def main() -> None:
    """Herald: self-hosted notification delivery."""


for command in (
    db,
    apps,
    keys,
    templates,
    send,
    notifications,
    suppressions,
    push_providers,
    webhooks,
):
    main.add_command(command)


@main.command("dev")
@click.option("--port", default=5000, show_default=True)
def dev(port: int) -> None:
    """Run Herald locally: Redis if needed, migrations, a demo app, then web + worker."""
    from app.devserver import run_dev

    run_dev(port=port)
