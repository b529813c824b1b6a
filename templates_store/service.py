"""Templates, their versions and the review workflow. Functions flush; the caller commits.

Every function is scoped to one app. `ref` is a template's key or its id. `actor` is who acts
(a secret key id, "oauth2", "cli", ...), recorded on the version for each transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, joinedload

from templates_store.checks import check_channels
from templates_store.content import TemplateContent
from templates_store.errors import (
    InvalidTemplate,
    InvalidTransition,
    InvalidVariables,
    TemplateArchived,
    TemplateExists,
    TemplateNotApproved,
    TemplateNotFound,
    VersionNotFound,
)
from templates_store.models import MAX_VERSION, Template, TemplateVersion
from templates_store.orm import utcnow
from templates_store.rendering import Rendered, render
from templates_store.variables import check_variable_schema, check_variables


def validate_content(content: TemplateContent) -> None:
    """Refuse content that could not render safely: bad schema, syntax, names or code."""
    problems = check_variable_schema(content.variable_schema)
    if not problems:
        problems = check_channels(content.channels, content.variable_schema)
    if problems:
        raise InvalidTemplate(details=problems)


def create_template(
    session: Session, *, app_id: str, key: str, content: TemplateContent, actor: str
) -> TemplateVersion:
    """Create a template with its first version, a draft."""
    validate_content(content)
    if find_template(session, app_id=app_id, ref=key, by_id=False) is not None:
        raise _exists(key)
    template = Template(app_id=app_id, key=key, latest_version=0)
    session.add(template)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise _exists(key) from exc
    return _add_version(session, template, content, actor)


def update_template(
    session: Session,
    *,
    app_id: str,
    ref: str,
    content: TemplateContent,
    actor: str,
    key: str | None = None,
) -> TemplateVersion:
    """Save new content as the next version, a draft; what is sent changes only on approval."""
    template = _writable(session, app_id=app_id, ref=ref)
    if key is not None and key != template.key:
        raise InvalidTemplate("A template's key cannot change.", field="key")
    validate_content(content)
    return _add_version(session, template, content, actor)


def archive_template(session: Session, *, app_id: str, ref: str, actor: str) -> Template:
    """Archive: kept and readable, never sendable. Archiving twice changes nothing."""
    template = get_template(session, app_id=app_id, ref=ref)
    if template.archived_at is None:
        template.archived_at, template.archived_by = utcnow(), actor
        session.flush()
    return template


def get_template(session: Session, *, app_id: str, ref: str) -> Template:
    """The template named by key or id, archived ones included."""
    template = find_template(session, app_id=app_id, ref=ref)
    if template is None:
        raise TemplateNotFound(f"No template {ref!r}.")
    return template


def latest_version(session: Session, *, app_id: str, ref: str) -> TemplateVersion:
    """The template's newest version, whatever its status."""
    template = get_template(session, app_id=app_id, ref=ref)
    return _version(session, template, template.latest_version)


def get_version(session: Session, *, app_id: str, ref: str, number: int) -> TemplateVersion:
    """One numbered version of the template."""
    return _version(session, get_template(session, app_id=app_id, ref=ref), number)


def list_templates(
    session: Session,
    *,
    app_id: str,
    statuses: list[str] | None = None,
    tags: list[str] | None = None,
    archived: bool = False,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[TemplateVersion], int]:
    """Each template's latest version, by key, filtered by that version's status and tag."""
    query = (
        select(TemplateVersion)
        .join(TemplateVersion.template)
        .options(contains_eager(TemplateVersion.template))
        .where(
            Template.app_id == app_id,
            TemplateVersion.version == Template.latest_version,
            Template.archived_at.is_not(None) if archived else Template.archived_at.is_(None),
        )
    )
    if statuses:
        query = query.where(TemplateVersion.status.in_(statuses))
    if tags:
        query = query.where(TemplateVersion.tag.in_(tags))
    return _page(session, query.order_by(Template.key), offset=offset, limit=limit)


def list_versions(
    session: Session, *, app_id: str, ref: str, offset: int = 0, limit: int = 20
) -> tuple[list[TemplateVersion], int]:
    """A template's versions, newest first."""
    template = get_template(session, app_id=app_id, ref=ref)
    query = (
        select(TemplateVersion)
        .where(TemplateVersion.template_id == template.id)
        .order_by(TemplateVersion.version.desc())
    )
    return _page(session, query, offset=offset, limit=limit)


def submit(
    session: Session, *, app_id: str, ref: str, actor: str, version: int | None = None
) -> TemplateVersion:
    """Submit a draft for review (the latest version unless `version` names one)."""
    target = _transition_target(session, app_id, ref, version, expected="draft", verb="submitted")
    target.status, target.submitted_by, target.submitted_at = "pending", actor, utcnow()
    session.flush()
    return target


def approve(
    session: Session, *, app_id: str, ref: str, actor: str, version: int | None = None
) -> TemplateVersion:
    """Approve a pending version; the highest approved version is the one sends use."""
    target = _transition_target(session, app_id, ref, version, expected="pending", verb="approved")
    target.status, target.reviewed_by, target.reviewed_at = "approved", actor, utcnow()
    template = target.template
    template.approved_version = max(template.approved_version or 0, target.version)
    session.flush()
    return target


def reject(
    session: Session,
    *,
    app_id: str,
    ref: str,
    actor: str,
    reason: str,
    version: int | None = None,
) -> TemplateVersion:
    """Reject a pending version with a reason; a new version is needed to try again."""
    target = _transition_target(session, app_id, ref, version, expected="pending", verb="rejected")
    target.status, target.reviewed_by, target.reviewed_at = "rejected", actor, utcnow()
    target.rejection_reason = reason
    session.flush()
    return target


def sendable_version(
    session: Session, *, app_id: str, key: str | None = None, template_id: str | None = None
) -> TemplateVersion:
    """The version a send uses: the template's latest approved one."""
    query = select(Template).where(Template.app_id == app_id)
    if key is not None:
        query = query.where(Template.key == key)
    if template_id is not None:
        query = query.where(Template.id == template_id)
    template = session.scalar(query) if key is not None or template_id is not None else None
    field = "template.key" if key is not None else "template.id"
    if template is None or template.archived:
        raise TemplateNotFound(f"No template {key or template_id!r}.", field=field)
    if template.approved_version is None:
        message = f"Template {template.key!r} has no approved version."
        raise TemplateNotApproved(message, field=field)
    return _version(session, template, template.approved_version)


def preview(
    session: Session,
    *,
    app_id: str,
    ref: str,
    variables: Mapping[str, Any],
    user: Mapping[str, Any],
    version: int | None = None,
) -> tuple[TemplateVersion, Rendered]:
    """Render a version (the latest by default) as a send would, with its validation errors."""
    template = get_template(session, app_id=app_id, ref=ref)
    target = _version(session, template, version or template.latest_version)
    problems = check_variables(target, variables, field_prefix="variables")
    if problems:
        raise InvalidVariables(details=problems)
    return target, render(target, variables=variables, user=user)


def same_content(version: TemplateVersion, content: TemplateContent) -> bool:
    """Whether saving `content` would repeat `version` exactly."""
    return (
        version.name == content.name
        and version.description == content.description
        and version.tag == content.tag
        and version.channels == content.channels
        and version.variable_schema == content.variable_schema
    )


def _add_version(
    session: Session, template: Template, content: TemplateContent, actor: str
) -> TemplateVersion:
    template.latest_version += 1
    version = TemplateVersion(
        template=template,
        app_id=template.app_id,
        version=template.latest_version,
        status="draft",
        name=content.name,
        description=content.description,
        tag=content.tag,
        channels=content.channels,
        variable_schema=content.variable_schema,
        created_by=actor,
    )
    session.add(version)
    session.flush()
    return version


def find_template(
    session: Session, *, app_id: str, ref: str, by_id: bool = True
) -> Template | None:
    """The template whose key (or, with `by_id`, id) is `ref`, archived ones included."""
    in_app = select(Template).where(Template.app_id == app_id)
    found = session.scalar(in_app.where(Template.key == ref))
    if found is None and by_id:
        found = session.scalar(in_app.where(Template.id == ref))
    return found


def _writable(session: Session, *, app_id: str, ref: str) -> Template:
    """The template, locked for this transaction, refusing archived ones."""
    template = get_template(session, app_id=app_id, ref=ref)
    session.refresh(template, with_for_update=True)
    if template.archived:
        raise TemplateArchived(f"Template {template.key!r} is archived.")
    return template


def _version(session: Session, template: Template, number: int) -> TemplateVersion:
    # A number beyond the column's range names no version (PostgreSQL refuses to compare it).
    version = None
    if 1 <= number <= MAX_VERSION:
        version = session.scalar(
            select(TemplateVersion)
            .options(joinedload(TemplateVersion.template))  # usable once the session has ended
            .where(TemplateVersion.template_id == template.id, TemplateVersion.version == number)
        )
    if version is None:
        raise VersionNotFound(f"Template {template.key!r} has no version {number}.")
    return version


def _transition_target(
    session: Session, app_id: str, ref: str, number: int | None, *, expected: str, verb: str
) -> TemplateVersion:
    template = _writable(session, app_id=app_id, ref=ref)
    target = _version(session, template, number or template.latest_version)
    if target.status != expected:
        raise InvalidTransition(
            f"Version {target.version} is {target.status}; only a {expected} version can be {verb}."
        )
    return target


def _page(
    session: Session, query: Select[tuple[TemplateVersion]], *, offset: int, limit: int
) -> tuple[list[TemplateVersion], int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(session.scalars(query.offset(offset).limit(limit)))
    return items, int(total or 0)


def _exists(key: str) -> TemplateExists:
    return TemplateExists(f"A template with key {key!r} already exists.", field="key")
