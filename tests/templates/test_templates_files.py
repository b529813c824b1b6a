"""Templates as files: export, import, the round trip, the CLI and the shipped examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from flask.testing import FlaskClient

from app.config import PROJECT_ROOT
from app.runtime import Runtime
from templates_store import service
from templates_store.errors import InvalidTemplate
from templates_store.files import export_directory, import_directory
from templates_store.rendering import render
from templates_store.variables import check_variables
from tests.support.factories import Tenant
from tests.support.template_factories import template_document

EXAMPLES = PROJECT_ROOT / "templates_store" / "examples"
URL = "/api/templates"


def import_into(runtime: Runtime, tenant: Tenant, directory: Path) -> list[dict]:
    with runtime.database.transaction() as session:
        results = import_directory(session, app_id=tenant.app_id, directory=directory, actor="t")
        return [r.as_dict() for r in results]


def export_from(runtime: Runtime, tenant: Tenant, directory: Path) -> list[dict]:
    with runtime.database.transaction() as session:
        results = export_directory(session, app_id=tenant.app_id, directory=directory)
        return [r.as_dict() for r in results]


def test_export_then_import_round_trips_into_another_app(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant, tmp_path: Path
):
    multi_line = template_document()
    multi_line["channels"]["email"]["html"] = "<p>Hi {{ user.first_name }}</p>\n\n  <p>Bye</p>\n"
    client.post(URL, json=multi_line, headers=tenant.headers())
    client.post(URL, json=template_document(key="plain", tag=None), headers=tenant.headers())

    exported = export_from(runtime, tenant, tmp_path)
    imported = import_into(runtime, other_tenant, tmp_path)

    assert [(r["key"], r["outcome"]) for r in exported] == [
        ("order-confirmation", "exported"),
        ("plain", "exported"),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "order-confirmation.email.html",
        "order-confirmation.yaml",
        "plain.email.html",
        "plain.yaml",
    ]
    assert [(r["key"], r["outcome"], r["version"]) for r in imported] == [
        ("order-confirmation", "created", 1),
        ("plain", "created", 1),
    ]
    for key in ("order-confirmation", "plain"):
        mine = client.get(f"{URL}/{key}", headers=tenant.headers()).get_json()
        theirs = client.get(f"{URL}/{key}", headers=other_tenant.headers()).get_json()
        content = ("name", "description", "tag", "channels", "variableSchema")
        assert {k: mine[k] for k in content} == {k: theirs[k] for k in content}


def test_import_adds_a_version_only_where_content_changed(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, tmp_path: Path
):
    client.post(URL, json=template_document(), headers=tenant.headers())
    client.post(URL, json=template_document(key="other"), headers=tenant.headers())
    export_from(runtime, tenant, tmp_path)
    path = tmp_path / "other.yaml"
    document = yaml.safe_load(path.read_text())
    document["channels"]["in_app"]["title"] = "Changed {{ orderId }}"
    path.write_text(yaml.safe_dump(document))

    results = import_into(runtime, tenant, tmp_path)

    assert [(r["key"], r["outcome"], r["version"], r["status"]) for r in results] == [
        ("order-confirmation", "unchanged", 1, "draft"),
        ("other", "updated", 2, "draft"),
    ]
    assert import_into(runtime, tenant, tmp_path)[1]["outcome"] == "unchanged"


def test_import_checks_every_file_before_writing_anything(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, tmp_path: Path
):
    (tmp_path / "good.json").write_text(json.dumps(template_document(key="good")))
    broken = template_document(key="broken")
    broken["channels"]["in_app"]["body"] = "{{ undeclared }}"
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    (tmp_path / "notes.txt").write_text("not a template")

    with pytest.raises(InvalidTemplate) as raised:
        import_into(runtime, tenant, tmp_path)

    [problem] = raised.value.details
    assert problem.field == "channels.in_app.body"
    assert problem.message.startswith("broken.yaml: Variable 'undeclared'")
    assert client.get(URL, headers=tenant.headers()).get_json()["total"] == 0


def test_html_files_must_stay_inside_the_directory(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
):
    document = template_document()
    document["channels"]["email"] = {"subject": "Hi", "html_file": "../secret.html"}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(document))

    with pytest.raises(InvalidTemplate) as raised:
        import_into(runtime, tenant, tmp_path)

    assert raised.value.details[0].field == "channels.email.html_file"


def test_shipped_examples_import_and_render_for_the_seed_example(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    results = import_into(runtime, tenant, EXAMPLES)

    assert {(r["key"], r["outcome"]) for r in results} == {
        ("newsletter", "created"),
        ("order-confirmation", "created"),
    }
    with runtime.database.transaction() as session:
        order = service.latest_version(session, app_id=tenant.app_id, ref="order-confirmation")
        seed_variables = {"customerName": "Jane", "orderId": "ORD-12345"}
        assert check_variables(order, seed_variables) == []
        assert order.channel_names == ["in_app", "push"]
        news = service.latest_version(session, app_id=tenant.app_id, ref="newsletter")
        variables = {
            "issueTitle": "March",
            "intro": "News.",
            "articles": [{"title": "A", "url": "https://n.test/a", "summary": "S"}],
        }
        assert check_variables(news, variables) == []
        link = "https://n.test/unsubscribe/token"
        email = render(
            news, variables=variables, user={"email": "j@n.test"}, unsubscribe_url=link
        ).email
    assert email is not None
    assert '<a href="https://n.test/unsubscribe/token">Unsubscribe</a>' in email["html"]
    assert "Unsubscribe (https://n.test/unsubscribe/token)" in email["text"]


def test_cli_imports_and_exports_as_json(cli, tenant: Tenant, tmp_path: Path):
    imported = cli("templates", "import", "--app", tenant.app_id, str(EXAMPLES))
    exported = cli("templates", "export", "--app", tenant.app_id, str(tmp_path / "out"))

    assert imported["appId"] == tenant.app_id
    assert [(t["key"], t["outcome"], t["status"]) for t in imported["templates"]] == [
        ("newsletter", "created", "draft"),
        ("order-confirmation", "created", "draft"),
    ]
    assert [t["file"] for t in exported["templates"]] == [
        "newsletter.yaml",
        "order-confirmation.yaml",
    ]
    again = cli("templates", "import", "--app", tenant.app_id, str(tmp_path / "out"))
    assert {t["outcome"] for t in again["templates"]} == {"unchanged"}


def test_cli_reports_invalid_files_with_the_error_envelope(cli, tenant: Tenant, tmp_path: Path):
    (tmp_path / "bad.yaml").write_text("key: bad\nname: Bad\nchannels: {in_app: {title: '{{ x'}}\n")

    refused = cli.refusal("templates", "import", "--app", tenant.app_id, str(tmp_path))

    [error] = refused["errors"]
    assert error["message"].startswith("bad.yaml: Template syntax error on line 1")
    assert error["field"] == "channels.in_app.title"


def test_cli_refuses_an_unknown_app(cli, tmp_path: Path):
    refused = cli.refusal("templates", "export", "--app", "nope", str(tmp_path))

    assert refused["errors"][0]["code"] == "ERR_APP_NOT_FOUND"
