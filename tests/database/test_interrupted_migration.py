"""A migration killed halfway (`herald dev` stopped with kill -9 while it migrates) leaves the
SQLite database as it found it, so the next upgrade completes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.config import PROJECT_ROOT
from app.migrate import upgrade
from app.models import Base

# An upgrade whose process dies (as under kill -9) just before it creates a table named in argv.
KILLED_UPGRADE = """
import os, sys
from sqlalchemy import Engine, event
from app.migrate import upgrade

@event.listens_for(Engine, "before_cursor_execute")
def die(connection, cursor, statement, *rest):
    if statement.lstrip().startswith(f"CREATE TABLE {sys.argv[2]} "):
        os._exit(9)

upgrade(sys.argv[1])
"""


def test_an_upgrade_killed_halfway_on_sqlite_leaves_nothing_the_next_upgrade_trips_on(
    tmp_path: Path,
):
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_UPGRADE, url, "secret_keys"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == 9, killed.stderr.decode()
    engine = create_engine(url)
    assert "apps" not in inspect(engine).get_table_names()  # created before the kill, undone

    upgrade(url)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()
