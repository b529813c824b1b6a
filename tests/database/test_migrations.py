"""`alembic upgrade head` builds the whole schema on both engines, matching the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.migrate import downgrade, upgrade
from app.models import Base
from tests.support import services


def _diff(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    return diff


def test_migrations_match_the_models(database_url: str):
    assert _diff(database_url) == []


def test_migrations_run_down_to_empty_and_up_again(tmp_path):
    for url in (f"sqlite:///{tmp_path / 'm.db'}", services.create_postgres_database()):
        try:
            upgrade(url)
            downgrade(url, "base")
            engine = create_engine(url)
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
            engine.dispose()
            upgrade(url)
            assert _diff(url) == []
        finally:
            if url.startswith("postgresql"):
                services.drop_postgres_database(url)
