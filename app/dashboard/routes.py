"""`/dashboard`: the blueprint every dashboard page hangs on, with the gate each request
passes (a live session, a CSRF token on state-changing forms), the security headers of its
pages, its error pages, and signing in and out."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from app.dashboard import (
    gate,
    notification_routes,
    policy,
    settings_routes,
    template_routes,
    user_routes,
)
from app.extensions import db_session
from app.refusals import HeraldError, Refusal

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
)
for area in (notification_routes, template_routes, user_routes, settings_routes):
    bp.register_blueprint(area.bp)

PUBLIC_ENDPOINTS = frozenset({"dashboard.sign_in", "dashboard.static"})
# Requests a page makes by itself, with no one at it: they do not keep a session from expiring
# after inactivity (an open list of sends that never finish would otherwise keep it forever).
UNATTENDED_ENDPOINTS = frozenset({"dashboard.notifications.progress_events"})


@bp.before_request
def _gate() -> Any:
    """Find the session (or send to sign-in), then check the CSRF token of a POST."""
    if request.endpoint not in PUBLIC_ENDPOINTS:
        cookie = request.cookies.get(gate.SESSION_COOKIE)
        touch = request.endpoint not in UNATTENDED_ENDPOINTS
        session = gate.signed_in_session(cookie, touch=touch)
        if session is None:
            target = url_for("dashboard.sign_in", expired=1 if cookie else None)
            response = redirect(target)
            gate.forget_cookie(response, gate.SESSION_COOKIE)
            return response
        g.dashboard_session = session
    if request.method == "POST":
        gate.check_csrf()
    return None


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = g.get(
        "content_security_policy", policy.CONTENT_SECURITY_POLICY
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "dashboard.static":
        response.headers["Cache-Control"] = "no-store"
    gate.remember_sign_in_nonce(response)
    return response


@bp.context_processor
def _page_context() -> dict[str, Any]:
    return {"csrf_token": gate.csrf_token, "operator": g.get("dashboard_session")}


@bp.errorhandler(Refusal)
def _refused(error: Refusal) -> tuple[str, int]:
    messages = "; ".join(detail.message for detail in error.details)
    return _error_page(error.status or 400, messages or "The request was refused.")


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    return _error_page(error.code or 500, error.description or error.name)


def _error_page(status: int, message: str) -> tuple[str, int]:
    db_session().rollback()
    return render_template("dashboard/error.html", status=status, message=message), status


@bp.get("/")
def home() -> Any:
    """The dashboard starts at the notifications."""
    return redirect(url_for("dashboard.notifications.list_notifications"))


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    """Sign in with a secret key holding the `read` scope; the secret is never kept."""
    if request.method == "GET":
        return render_template("dashboard/sign_in.html", notice=_sign_in_notice())
    if gate.sign_ins_blocked():
        return _sign_in_refused("Too many failed sign-ins from here: try again in a minute.", 429)
    try:
        principal = gate.verify_secret(request.form.get("secret", ""))
    except HeraldError:
        gate.note_failed_sign_in()
        return _sign_in_refused("That secret key is not valid (or has been revoked).", 401)
    if principal.key_id is None or gate.SIGN_IN_SCOPE not in principal.scopes:
        return _sign_in_refused("That key lacks the read scope the dashboard needs.", 403)
    _, cookie = gate.session_store().start(
        app_id=principal.app.id, key_id=principal.key_id, scopes=principal.scopes
    )
    db_session().rollback()  # authentication read only
    response = redirect(url_for("dashboard.notifications.list_notifications"))
    gate.set_cookie(response, gate.SESSION_COOKIE, cookie)
    gate.forget_cookie(response, gate.SIGN_IN_COOKIE)
    return response


@bp.post("/sign-out")
def sign_out() -> Any:
    """End the session, here and in Redis."""
    gate.session_store().end(gate.operator())
    response = redirect(url_for("dashboard.sign_in", signed_out=1))
    gate.forget_cookie(response, gate.SESSION_COOKIE)
    return response


def _sign_in_notice() -> str | None:
    if request.args.get("expired"):
        return "Your session has ended (inactivity, sign-out elsewhere or a revoked key)."
    if request.args.get("signed_out"):
        return "You have signed out."
    return None


def _sign_in_refused(message: str, status: int) -> tuple[str, int]:
    db_session().rollback()
    return render_template("dashboard/sign_in.html", error=message), status
