"""One page of a query plus the total it was cut from (Flask-free, for services)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


def fetch_page(
    session: Session, statement: Select[Any], *, page: int, per_page: int
) -> tuple[list[Any], int]:
    """Rows `per_page` at a time from page `page` (1-based) of an ordered select, and the total."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.scalars(statement.limit(per_page).offset((page - 1) * per_page))
    return list(rows), int(total or 0)
