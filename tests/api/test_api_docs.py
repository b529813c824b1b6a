"""/docs: Swagger UI over /openapi.json, every file of it served by Herald itself (offline)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient

# The page reads no data: one engine is enough.
pytestmark = pytest.mark.parametrize("engine_name", ["sqlite"])


class _References(HTMLParser):
    """Every URL an HTML page makes the browser load or offer: src, href, data-spec-url."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "data-spec-url"} and value:
                self.urls.append(value)


def references(page: str) -> list[str]:
    parser = _References()
    parser.feed(page)
    return parser.urls


def fetch(client: FlaskClient, url: str) -> tuple[int, str, bytes]:
    """Status, media type and body; the response is closed (a file's handle with it)."""
    with client.get(url) as response:
        return response.status_code, response.mimetype, response.get_data()


def test_docs_page_loads_every_file_from_this_server(client: FlaskClient):
    response = client.get("/docs")
    page = response.get_data(as_text=True)
    urls = references(page)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "http://" not in page and "https://" not in page
    assert len(urls) == 5  # stylesheet, icon, the document, Swagger UI, the start-up script
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        status, _, body = fetch(client, url)
        assert status == 200, url
        assert body, url


def test_docs_page_serves_swagger_ui_and_its_start_up_script(client: FlaskClient):
    urls = references(client.get("/docs").get_data(as_text=True))
    served = {url.rsplit("/", 1)[-1]: fetch(client, url) for url in urls}
    types = {name: media_type for name, (_, media_type, _) in served.items()}

    assert types == {
        "swagger-ui.css": "text/css",
        "favicon-32x32.png": "image/png",
        "openapi.json": "application/json",
        "swagger-ui-bundle.js": "text/javascript",
        "herald-docs.js": "text/javascript",
    }
    assert b"SwaggerUIBundle" in served["swagger-ui-bundle.js"][2]
    # The validator badge would call another host.
    assert b"validatorUrl: null" in served["herald-docs.js"][2]


def test_docs_page_lets_the_browser_reach_this_origin_only(client: FlaskClient):
    policy = client.get("/docs").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))

    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"


def test_docs_serves_only_swagger_ui_files_it_uses(client: FlaskClient):
    for path in ("README.md", "LICENSE", "index.template.html", "..%2f__init__.py"):
        status, media_type, _ = fetch(client, f"/docs/swagger-ui/{path}")

        assert (status, media_type) == (404, "application/json"), path


def test_docs_needs_no_credentials_and_spends_no_rate_limit(client: FlaskClient):
    response = client.get("/docs")

    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response.headers


def test_openapi_document_offers_authorize_every_credential_header(client: FlaskClient):
    schemes = client.get("/openapi.json").get_json()["components"]["securitySchemes"]
    headers = {s["name"] for s in schemes.values() if s["type"] == "apiKey"}

    assert headers == {"appid", "apikey", "X-API-Key", "X-API-Secret", "X-User-HMAC"}
    assert {"type": "http", "scheme": "bearer"}.items() <= schemes["bearer"].items()
