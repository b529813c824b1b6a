"""`herald db`: the database schema (Alembic migrations)."""

from __future__ import annotations

import click
from sqlalchemy.engine import make_url

from app.cli.output import emit
from app.config import Settings
from app.migrate import current_revision, upgrade


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION; prints the database (without its password) and the
    revision it is at."""
    url = Settings.from_env().database_url
    upgrade(url, revision)
    emit({"database": without_password(url), "revision": current_revision(url)})


def without_password(url: str) -> str:
    """The database URL to show: its password left out."""
    return make_url(url)._replace(password=None).render_as_string(hide_password=False)
