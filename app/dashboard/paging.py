"""Paging of the dashboard's tables: the page asked for, and the links to its neighbours."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import request

from app.http import MAX_PAGE


def page_number() -> int:
    """`page` from the query (from 1); anything else is the first page."""
    raw = request.args.get("page", "1")
    return min(int(raw), MAX_PAGE) if raw.isdigit() and int(raw) >= 1 else 1


def page_links(number: int, per_page: int, total: int) -> dict[str, Any]:
    """This page, the page count, and the query of the previous and next pages (None at ends)."""
    count = max(1, -(-total // per_page))

    def query(page: int) -> str:
        args = request.args.to_dict()
        args["page"] = str(page)
        return "?" + urlencode(args)

    return {
        "number": number,
        "count": count,
        "previous": query(number - 1) if number > 1 else None,
        "next": query(number + 1) if number < count else None,
    }
