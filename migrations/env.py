"""Alembic environment: the database URL comes from the caller or from DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine, event

from app.config import Settings
from app.models import Base

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    return config.attributes.get("database_url") or Settings.from_env().database_url


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _transactional_ddl_on_sqlite(engine: Engine) -> None:
    """Python's sqlite3 commits each CREATE/ALTER on its own, so a migration killed halfway
    (a `herald dev` stopped with kill -9) would leave tables without their revision, and every
    later upgrade would fail. With BEGIN issued here, each migration commits together with its
    revision (Alembic gives each its own transaction on SQLite), or not at all."""

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN")


def run_migrations_online() -> None:
    engine = create_engine(_database_url())
    if engine.dialect.name == "sqlite":
        _transactional_ddl_on_sqlite(engine)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
