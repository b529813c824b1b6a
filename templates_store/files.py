"""Templates as files, for teams that keep them in version control.

One `<key>.yaml` (or `.yml`, `.json`) per template holding the same document the API takes;
an email's HTML may live beside it, named by `channels.email.html_file`. Import validates every
file before it writes anything, and adds a version only where the content changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from templates_store import service
from templates_store.content import TemplateContent, load_document
from templates_store.errors import ErrorDetail, InvalidTemplate, TemplateArchived
from templates_store.models import Template

SUFFIXES = (".yaml", ".yml", ".json")
HEADER = "# Herald template: edit, then `herald templates import --app APP_ID DIR`.\n"


@dataclass(frozen=True)
class FileResult:
    """What happened to one template file: created, updated, unchanged (import) or exported."""

    key: str
    file: str
    version: int
    status: str
    outcome: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "file": self.file,
            "version": self.version,
            "status": self.status,
            "outcome": self.outcome,
        }


def import_directory(
    session: Session, *, app_id: str, directory: Path, actor: str
) -> list[FileResult]:
    """Create or update the app's templates from a directory's files; all or nothing."""
    loaded = _load_directory(directory)
    results = []
    for file, (key, content) in loaded.items():
        template = service.find_template(session, app_id=app_id, ref=key, by_id=False)
        if template is None:
            version = service.create_template(
                session, app_id=app_id, key=key, content=content, actor=actor
            )
            outcome = "created"
        elif template.archived:
            raise TemplateArchived(f"{file}: template {key!r} is archived.")
        else:
            version = service.latest_version(session, app_id=app_id, ref=template.id)
            outcome = "unchanged"
            if not service.same_content(version, content):
                version = service.update_template(
                    session, app_id=app_id, ref=template.id, content=content, actor=actor
                )
                outcome = "updated"
        results.append(FileResult(key, file, version.version, version.status, outcome))
    return results


def export_directory(session: Session, *, app_id: str, directory: Path) -> list[FileResult]:
    """Write each live template's latest version to `<key>.yaml` (HTML to `<key>.email.html`)."""
    directory.mkdir(parents=True, exist_ok=True)
    templates = session.scalars(
        select(Template)
        .where(Template.app_id == app_id, Template.archived_at.is_(None))
        .order_by(Template.key)
    )
    results = []
    for template in templates:
        version = service.latest_version(session, app_id=app_id, ref=template.id)
        document = {"key": template.key, **_content_of(version).as_document()}
        email = document["channels"].get("email")
        if email and email.get("html") is not None:
            html_file = f"{template.key}.email.html"
            (directory / html_file).write_text(email.pop("html"), encoding="utf-8")
            email["html_file"] = html_file
        path = directory / f"{template.key}.yaml"
        path.write_text(HEADER + _dump_yaml(document), encoding="utf-8")
        results.append(
            FileResult(template.key, path.name, version.version, version.status, "exported")
        )
    return results


def _load_directory(directory: Path) -> dict[str, tuple[str, TemplateContent]]:
    """Every template file, validated; raises one InvalidTemplate naming every bad file."""
    if not directory.is_dir():
        raise InvalidTemplate(f"{directory} is not a directory.")
    loaded: dict[str, tuple[str, TemplateContent]] = {}
    problems: list[ErrorDetail] = []
    files_by_key: dict[str, str] = {}
    for path in sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES):
        try:
            key, content = _load_file(path)
            service.validate_content(content)
        except InvalidTemplate as exc:
            problems.extend(_in_file(path.name, exc.details))
            continue
        if key in files_by_key:
            message = f"{path.name}: key {key!r} is also in {files_by_key[key]}."
            problems.append(ErrorDetail("ERR_BAD_REQUEST", message, "key"))
        files_by_key[key] = path.name
        loaded[path.name] = (key, content)
    if problems:
        raise InvalidTemplate(details=problems)
    return loaded


def _load_file(path: Path) -> tuple[str, TemplateContent]:
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise InvalidTemplate(f"Cannot read the file: {exc}") from exc
    if isinstance(document, dict):
        document.setdefault("key", path.stem)
        _inline_html(document, path.parent)
    key, content = load_document(document)
    assert key is not None
    return key, content


def _inline_html(document: dict[str, Any], directory: Path) -> None:
    email = (document.get("channels") or {}).get("email")
    if not isinstance(email, dict) or "html_file" not in email:
        return
    name = email.pop("html_file")
    field = "channels.email.html_file"
    target = (directory / str(name)).resolve()
    if not target.is_relative_to(directory.resolve()):
        raise InvalidTemplate("html_file must name a file in the same directory.", field=field)
    try:
        email["html"] = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidTemplate(f"Cannot read {name}: {exc.strerror}.", field=field) from exc


def _in_file(name: str, problems: list[ErrorDetail]) -> list[ErrorDetail]:
    return [ErrorDetail(p.code, f"{name}: {p.message}", p.field) for p in problems]


def _content_of(version: Any) -> TemplateContent:
    return TemplateContent(
        name=version.name,
        channels=json.loads(json.dumps(version.channels)),
        variable_schema=version.variable_schema,
        description=version.description,
        tag=version.tag,
    )


class _BlockStyleDumper(yaml.SafeDumper):
    """Multi-line strings (templates) as readable `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _represent_str)


def _dump_yaml(document: dict[str, Any]) -> str:
    return yaml.dump(
        document, Dumper=_BlockStyleDumper, sort_keys=False, allow_unicode=True, width=100
    )
