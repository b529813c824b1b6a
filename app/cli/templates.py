"""`herald templates`: templates as files (one YAML file per template) and their review."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from marshmallow import Schema

from app.cli.output import emit, transaction
from app.http import load_body
from app.templates_api.schemas import RejectBody, TemplateVersionView, TransitionBody
from app.tenants import service as tenants
from templates_store import service
from templates_store.files import export_directory, import_directory

# Who acts, in a version's createdBy / submittedBy / reviewedBy.
ACTOR = "cli"


@click.group()
def templates() -> None:
    """Templates as files, for version control, and their review (submit, approve, reject)."""


@templates.command("export")
@click.option("--app", "app_id", required=True)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def templates_export(app_id: str, directory: Path) -> None:
    """Write every live template's latest version into DIRECTORY."""
    with transaction() as (_rt, session):
        tenants.get_tenant(session=session, app_id=app_id)
        results = export_directory(session, app_id=app_id, directory=directory)
        emit({"appId": app_id, "templates": [r.as_dict() for r in results]})


@templates.command("import")
@click.option("--app", "app_id", required=True)
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
def templates_import(app_id: str, directory: Path) -> None:
    """Create or update templates from DIRECTORY; a new draft version only where content changed."""
    with transaction() as (_rt, session):
        tenants.get_tenant(session=session, app_id=app_id)
        results = import_directory(session, app_id=app_id, directory=directory, actor=ACTOR)
        emit({"appId": app_id, "templates": [r.as_dict() for r in results]})


VERSION = click.option(
    "--version", "version", type=int, default=None, help="The version (default: the latest)."
)


def _review_command(
    name: str,
    transition: Callable[..., Any],
    body: type[Schema],
    help_text: str,
    *options: Callable[[Any], Any],
) -> None:
    """`herald templates NAME KEY --app APP [options] [--version N]`: one review step, its
    options checked by the API's body schema; prints the version."""

    def review(key: str, app_id: str, version: int | None, **given: Any) -> None:
        data = load_body(body, document=_body(version=version, **given))
        with transaction() as (_rt, session):
            tenants.get_tenant(session=session, app_id=app_id)
            reviewed = transition(session, app_id=app_id, ref=key, actor=ACTOR, **data)
            emit(TemplateVersionView().dump(reviewed))

    parameters = (click.argument("key"), click.option("--app", "app_id", required=True))
    for parameter in reversed((*parameters, *options, VERSION)):
        review = parameter(review)
    templates.command(name, help=help_text)(review)


_review_command(
    "submit",
    service.submit,
    TransitionBody,
    "Submit a draft version for review, as POST /api/templates/KEY/submit does.",
)
_review_command(
    "approve",
    service.approve,
    TransitionBody,
    "Approve a pending version; sends use it from now on.",
)
_review_command(
    "reject",
    service.reject,
    RejectBody,
    "Reject a pending version with a reason.",
    click.option("--reason", default=None, help="Why (required, as the API requires it)."),
)


def _body(**fields: Any) -> dict[str, Any]:
    """The request body the API would get: only the options given."""
    return {name: value for name, value in fields.items() if value is not None}
