"""`/dashboard/templates`: templates, a template's versions and who reviewed them, a diff of
two versions, rendered previews, and submit, approve and reject as the key's scopes allow; all
through the template store's service, as the API's routes use it."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for

from app.dashboard import gate
from app.dashboard.paging import page_links, page_number
from app.dashboard.policy import PREVIEW_CONTENT_SECURITY_POLICY
from app.dashboard.versions import content_lines, example_variables, side_by_side
from app.extensions import db_session
from app.http import load_body
from app.refusals import InvalidRequest
from app.templates_api.schemas import RejectBody
from templates_store import service
from templates_store.errors import TemplateStoreError

bp = Blueprint("templates", __name__, url_prefix="/templates")

PER_PAGE = 20
VERSIONS_SHOWN = 50
# A version's review actions: the scope each needs and the state it applies to.
ACTIONS = {
    "submit": ("manage_templates", "draft"),
    "approve": ("approve_templates", "pending"),
    "reject": ("approve_templates", "pending"),
}


@bp.get("")
def list_templates() -> str:
    """Each live template's latest version, by key."""
    number = page_number()
    latest, total = service.list_templates(
        db_session(),
        app_id=gate.operator().app_id,
        offset=(number - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    return render_template(
        "dashboard/templates.html",
        versions=latest,
        pages=page_links(number, PER_PAGE, total),
        total=total,
    )


@bp.get("/<key>")
def show_template(key: str) -> str:
    """A template's versions, newest first, with their review trail and actions."""
    session, app_id = db_session(), gate.operator().app_id
    template = service.get_template(session, app_id=app_id, ref=key)
    versions, total = service.list_versions(session, app_id=app_id, ref=key, limit=VERSIONS_SHOWN)
    return render_template(
        "dashboard/template.html",
        template=template,
        versions=versions,
        total=total,
        allowed={action: gate.operator().may(scope) for action, (scope, _) in ACTIONS.items()},
        actions=ACTIONS,
    )


@bp.get("/<key>/diff")
def diff_versions(key: str) -> str:
    """Two versions side by side (`from` and `to`; by default the latest against its previous)."""
    session, app_id = db_session(), gate.operator().app_id
    template = service.get_template(session, app_id=app_id, ref=key)
    newer = _version_number("to", template.latest_version)
    older = _version_number("from", max(1, newer - 1))
    left = service.get_version(session, app_id=app_id, ref=key, number=older)
    right = service.get_version(session, app_id=app_id, ref=key, number=newer)
    return render_template(
        "dashboard/diff.html",
        template=template,
        left=left,
        right=right,
        rows=side_by_side(content_lines(left), content_lines(right)),
    )


@bp.get("/<key>/versions/<int:number>/preview")
def preview_version(key: str, number: int) -> str:
    """Every channel of a version rendered with example variables (or the ones given)."""
    session, app_id = db_session(), gate.operator().app_id
    version = service.get_version(session, app_id=app_id, ref=key, number=number)
    variables = _given_variables() or example_variables(version.variable_schema)
    rendered, problems = None, []
    try:
        _, result = service.preview(
            session, app_id=app_id, ref=key, variables=variables, user={}, version=number
        )
        rendered = result.as_dict()
    except TemplateStoreError as refused:
        problems = [detail.message for detail in refused.details]
    g.content_security_policy = PREVIEW_CONTENT_SECURITY_POLICY
    return render_template(
        "dashboard/preview.html",
        version=version,
        variables=json.dumps(variables, indent=2, ensure_ascii=False),
        rendered=rendered,
        problems=problems,
    )


@bp.post("/<key>/versions/<int:number>/<any(submit, approve, reject):action>")
def review_version(key: str, number: int, action: str) -> Any:
    """Submit a draft, or approve or reject a pending version (with a reason)."""
    gate.require_scope(ACTIONS[action][0])
    session, signed_in = db_session(), gate.operator()
    common = {"app_id": signed_in.app_id, "ref": key, "actor": signed_in.key_id, "version": number}
    if action == "submit":
        service.submit(session, **common)
    elif action == "approve":
        service.approve(session, **common)
    else:
        reason = request.form.get("reason", "").strip()
        if not reason:
            raise InvalidRequest("A rejection needs a reason.", field="reason")
        load_body(RejectBody, document={"reason": reason})  # the API's limits on a reason
        service.reject(session, reason=reason, **common)
    session.commit()
    return redirect(url_for(".show_template", key=key))


def _version_number(name: str, default: int) -> int:
    raw = request.args.get(name, "")
    if not raw:
        return default
    if not raw.isdigit():
        raise InvalidRequest(f"{name} must be a version number.", field=name)
    return int(raw)


def _given_variables() -> dict[str, Any] | None:
    raw = request.args.get("variables", "").strip()
    if not raw:
        return None
    try:
        given = json.loads(raw)
    except ValueError:
        raise InvalidRequest("variables must be a JSON object.", field="variables") from None
    if not isinstance(given, dict):
        raise InvalidRequest("variables must be a JSON object.", field="variables")
    return given
