"""`/api/templates`: templates, versions, review workflow and preview. `<key>` is key or id."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_principal, server_call
from app.extensions import db_session
from app.families import HERALD_API, serving
from app.http import Page, bool_query, doc, list_query, load_body, page_from_query
from app.refusals import ErrorDetail, invalid
from app.templates_api.schemas import (
    PreviewBody,
    PreviewView,
    RejectBody,
    TemplateCreateBody,
    TemplateListView,
    TemplateUpdateBody,
    TemplateVersionView,
    TransitionBody,
    VersionListView,
)
from app.wire import page_body
from templates_store import service
from templates_store.content import TemplateContent
from templates_store.models import STATUSES

bp = serving(HERALD_API, Blueprint("templates", __name__, url_prefix="/api/templates"))
TAG = "Templates"
# The template store's refusals, by the routes that meet them.
TEMPLATE_NOT_FOUND = {404: ("ERR_TEMPLATE_NOT_FOUND",)}
VERSION_NOT_FOUND = {404: ("ERR_TEMPLATE_NOT_FOUND", "ERR_VERSION_NOT_FOUND")}
TRANSITION_ERRORS = {**VERSION_NOT_FOUND, 409: ("ERR_INVALID_TRANSITION", "ERR_TEMPLATE_ARCHIVED")}


def _app_id() -> str:
    return current_principal().app.id


def _actor() -> str:
    """Who acts: the secret key's id, or "oauth2" for an OAuth2 access token."""
    return current_principal().key_id or "oauth2"


def _page_view(name: str, items: list[Any], total: int, page: Page) -> dict[str, Any]:
    return page_body(name, items, total=total, page=page.number, per_page=page.per_page)


def _status_filter() -> list[str] | None:
    statuses = list_query("status")
    unknown = sorted(set(statuses or ()) - set(STATUSES))
    if unknown:
        message = f"Unknown status {', '.join(unknown)}; use {', '.join(STATUSES)}."
        raise invalid([ErrorDetail("ERR_BAD_REQUEST", message, "status")])
    return statuses


@bp.post("")
@server_call("manage_templates")
@doc(
    body=TemplateCreateBody,
    response=TemplateVersionView,
    status=201,
    tag=TAG,
    errors={409: ("ERR_TEMPLATE_EXISTS",)},
)
def create_template() -> Any:
    """Create a template; its version 1 is a draft."""
    data = load_body(TemplateCreateBody)
    session = db_session()
    version = service.create_template(
        session,
        app_id=_app_id(),
        key=data["key"],
        content=TemplateContent.from_loaded(data),
        actor=_actor(),
    )
    session.commit()
    return version, 201


@bp.get("")
@server_call("read")
@doc(response=TemplateListView, tag=TAG, query=["page", "perPage", "status", "tag", "archived"])
def list_templates() -> Any:
    """List templates (each with its latest version), filtered by status and tag."""
    page = page_from_query()
    versions, total = service.list_templates(
        db_session(),
        app_id=_app_id(),
        statuses=_status_filter(),
        tags=list_query("tag"),
        archived=bool(bool_query("archived")),
        offset=page.offset,
        limit=page.per_page,
    )
    return _page_view("templates", versions, total, page)


@bp.get("/<key>")
@server_call("read")
@doc(response=TemplateVersionView, tag=TAG, errors=TEMPLATE_NOT_FOUND)
def show_template(key: str) -> Any:
    """Read a template's latest version, with its approvedVersion."""
    return service.latest_version(db_session(), app_id=_app_id(), ref=key)


@bp.put("/<key>")
@server_call("manage_templates")
@doc(
    body=TemplateUpdateBody,
    response=TemplateVersionView,
    status=201,
    tag=TAG,
    errors={**TEMPLATE_NOT_FOUND, 409: ("ERR_TEMPLATE_ARCHIVED",)},
)
def update_template(key: str) -> Any:
    """Save new content as the next version (a draft); sends keep the approved one."""
    data = load_body(TemplateUpdateBody)
    session = db_session()
    version = service.update_template(
        session,
        app_id=_app_id(),
        ref=key,
        content=TemplateContent.from_loaded(data),
        actor=_actor(),
        key=data.get("key"),
    )
    session.commit()
    return version, 201


@bp.delete("/<key>")
@server_call("manage_templates")
@doc(status=204, tag=TAG, errors=TEMPLATE_NOT_FOUND)
def archive_template(key: str) -> Any:
    """Archive a template: still readable, no longer sendable."""
    session = db_session()
    service.archive_template(session, app_id=_app_id(), ref=key, actor=_actor())
    session.commit()
    return "", 204


@bp.get("/<key>/versions")
@server_call("read")
@doc(response=VersionListView, tag=TAG, query=["page", "perPage"], errors=TEMPLATE_NOT_FOUND)
def list_versions(key: str) -> Any:
    """List a template's versions, newest first."""
    page = page_from_query()
    versions, total = service.list_versions(
        db_session(), app_id=_app_id(), ref=key, offset=page.offset, limit=page.per_page
    )
    return _page_view("versions", versions, total, page)


@bp.get("/<key>/versions/<int:number>")
@server_call("read")
@doc(response=TemplateVersionView, tag=TAG, errors=VERSION_NOT_FOUND)
def show_version(key: str, number: int) -> Any:
    """Read one version of a template."""
    session = db_session()
    return service.get_version(session, app_id=_app_id(), ref=key, number=number)


@bp.post("/<key>/submit")
@server_call("manage_templates")
@doc(body=TransitionBody, response=TemplateVersionView, tag=TAG, errors=TRANSITION_ERRORS)
def submit_template(key: str) -> Any:
    """Submit a draft version (the latest by default) for review."""
    data = load_body(TransitionBody)
    session = db_session()
    version = service.submit(
        session, app_id=_app_id(), ref=key, actor=_actor(), version=data.get("version")
    )
    session.commit()
    return version


@bp.post("/<key>/approve")
@server_call("approve_templates")
@doc(body=TransitionBody, response=TemplateVersionView, tag=TAG, errors=TRANSITION_ERRORS)
def approve_template(key: str) -> Any:
    """Approve a pending version (the latest by default); sends use it from now on."""
    data = load_body(TransitionBody)
    session = db_session()
    version = service.approve(
        session, app_id=_app_id(), ref=key, actor=_actor(), version=data.get("version")
    )
    session.commit()
    return version


@bp.post("/<key>/reject")
@server_call("approve_templates")
@doc(body=RejectBody, response=TemplateVersionView, tag=TAG, errors=TRANSITION_ERRORS)
def reject_template(key: str) -> Any:
    """Reject a pending version (the latest by default) with a reason."""
    data = load_body(RejectBody)
    session = db_session()
    version = service.reject(
        session,
        app_id=_app_id(),
        ref=key,
        actor=_actor(),
        reason=data["reason"],
        version=data.get("version"),
    )
    session.commit()
    return version


@bp.post("/<key>/preview")
@server_call("read")
@doc(
    body=PreviewBody,
    response=PreviewView,
    tag=TAG,
    errors={
        **VERSION_NOT_FOUND,
        400: ("ERR_INVALID_VARIABLES",),
        422: ("ERR_RENDER_FAILED",),
    },
)
def preview_template(key: str) -> Any:
    """Render a version for given variables and user, or answer a send's validation errors."""
    data = load_body(PreviewBody)
    version, rendered = service.preview(
        db_session(),
        app_id=_app_id(),
        ref=key,
        variables=data["variables"],
        user=data["user"],
        version=data.get("version"),
    )
    return {"version": version.version, "channels": rendered.as_dict()}
