"""`Idempotency-Key` for every authenticated POST/PUT/PATCH/DELETE (docs/api.md).

The first response (a refusal too, but not a server error) is stored for 24 hours and replayed
for the same key, method, path and body. Keys are scoped per app (and per user for user calls).
The records and their rules are `app.idempotency.records`, which `herald send` uses too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, make_response, request

from app.errors import response_for
from app.extensions import db_session
from app.idempotency import records
from app.refusals import Refusal

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def run_idempotently(scope: str, view: Callable[[], Any]) -> Any:
    """Run the view once per Idempotency-Key; replay its stored response afterwards."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if request.method not in WRITE_METHODS or not key:
        return view()
    records.check_key(key)
    fingerprint = records.fingerprint(
        request.method, request.full_path, request.get_data(cache=True)
    )
    # The request's own session throughout: a second connection would wait on the first's
    # write lock under SQLite.
    session = db_session()
    session.commit()
    stored = records.claim(session, scope=scope, key=key, fingerprint=fingerprint)
    if stored is not None:
        return _replayed(stored)
    try:
        response = make_response(view())
    except Refusal as refusal:
        # A refusal is the request's answer too: replayed like any other (a retry with the same
        # key and body gets it again, a corrected body needs a new key).
        session.rollback()
        response = response_for(refusal)
    except BaseException:
        session.rollback()
        records.forget(session, scope=scope, key=key)
        raise
    session.rollback()
    # A server error is not an answer: the key stays free for a retry.
    if response.status_code >= 500 or response.is_streamed:
        records.forget(session, scope=scope, key=key)
    else:
        answer = records.StoredAnswer(
            response.status_code, response.get_data(as_text=True), response.content_type
        )
        records.store(session, scope=scope, key=key, answer=answer)
    return response


def _replayed(stored: records.StoredAnswer) -> Response:
    response = Response(stored.body, status=stored.status, content_type=stored.content_type)
    response.headers["Idempotent-Replayed"] = "true"
    return response
