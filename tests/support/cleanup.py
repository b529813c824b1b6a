"""Leaving the test databases and this session's Redis keys as each test found them: empty."""

from __future__ import annotations

from sqlalchemy import text

from app.models import Base
from app.runtime import Runtime


def wipe(runtime: Runtime) -> None:
    """Empty every table and this session's Redis keys, so the next test starts clean."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with runtime.database.engine.begin() as connection:
        if runtime.database.is_sqlite:
            for table in tables:
                connection.execute(text(f'DELETE FROM "{table}"'))
        else:
            connection.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    keys = list(runtime.redis.scan_iter(match=runtime.settings.redis_prefix + "*", count=1000))
    if keys:
        runtime.redis.delete(*keys)
