"""`/unsubscribe/<token>`: the one-click unsubscribe link every email carries (RFC 8058, RFC 2369).

Public: no credentials, no rate limit. A mail client's one-click POST (body
`List-Unsubscribe=One-Click`) unsubscribes at once; the signed token is the only credential, as
RFC 8058 intends (no cookie is read, so there is nothing for another site to forge). A GET,
which link scanners send for every URL of a message, only shows a page whose button makes that
POST. A token this installation did not sign, or whose user is gone, is 404 in the error
envelope. Both pages are HTML, so they stay out of /openapi.json, as /docs does.
"""

from __future__ import annotations

import html

from flask import Blueprint, Response

from app.extensions import db_session, runtime
from app.families import HERALD_API, serving
from app.suppressions import unsubscribe as service
from app.suppressions.links import UnsubscribeLink

bp = serving(HERALD_API, Blueprint("unsubscribe", __name__, url_prefix="/unsubscribe"))

# The pages load nothing; their one form posts back here.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; }}</style>
</head>
<body>
<h1>{title}</h1>
<p>{text}</p>
{form}
</body>
</html>
"""

FORM = """\
<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form>"""


@bp.get("/<token>")
def confirm_unsubscribe(token: str) -> Response:
    """A page naming what the link stops, with a button that does it; changes nothing."""
    link = _link(token)
    stopping = service.describe(db_session(), link)
    text = f"Stop receiving {_what(stopping)} at {_address(stopping)}?"
    return _page("Unsubscribe", text, form=FORM)


@bp.post("/<token>")
def unsubscribe(token: str) -> Response:
    """One-click unsubscribe (any body; mail clients send `List-Unsubscribe=One-Click`)."""
    link = _link(token)
    session = db_session()
    stopped = service.unsubscribe(session, link)
    session.commit()
    text = f"You will no longer receive {_what(stopped)} at {_address(stopped)}."
    return _page("You are unsubscribed", text)


def _link(token: str) -> UnsubscribeLink:
    link = runtime().unsubscribe_links.read(token)
    if link is None:
        raise service.invalid_link()
    return link


def _what(unsubscription: service.Unsubscription) -> str:
    app = unsubscription.app_name
    if unsubscription.category is None:
        return f"email from {app}"
    return f"{unsubscription.category} email from {app}"


def _address(unsubscription: service.Unsubscription) -> str:
    return unsubscription.email or "your address"


def _page(title: str, text: str, *, form: str = "") -> Response:
    body = PAGE.format(title=html.escape(title), text=html.escape(text), form=form)
    response = Response(body, 200, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-store"
    # The token is in the URL: no other site learns it from a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
