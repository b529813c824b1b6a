"""Interactive API docs at /docs: Swagger UI over /openapi.json, from packaged files only.

Swagger UI's distribution ships inside the `flask-swagger-ui` package (its `dist` folder); this
module serves those files itself, with a page and a start-up script of its own, so the page
loads nothing from another host and works offline. "Try it out" calls this server (the
document names no other), with the credentials given to "Authorize": the document's security
schemes are the headers the API reads. The page's Content-Security-Policy allows this origin
only, so a browser would refuse any other host even if a script asked for one.
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path

from flask import Blueprint, Response, abort, send_from_directory, url_for

from app.families import INBOX_API, serving

bp = serving(INBOX_API, Blueprint("apidocs", __name__))

SWAGGER_UI_DIST = Path(str(files("flask_swagger_ui") / "dist"))
# The distribution's files the page uses; nothing else of the package is served.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"})

# Swagger UI sets inline styles and draws its icons as data: URIs; all else is this origin.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'none'",
    )
)

# No validator badge (it would load from another host); secrets are not kept in the browser's
# storage (`persistAuthorization` stays off): authorize again after a reload.
START_SCRIPT = """\
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    filter: true,
    validatorUrl: null
  });
});
"""

PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Herald API</title>
<link rel="stylesheet" href="{css}">
<link rel="icon" type="image/png" href="{icon}">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec}"></div>
<script src="{bundle}"></script>
<script src="{start}"></script>
</body>
</html>
"""


@bp.get("/docs")
def docs_page() -> Response:
    """Swagger UI over the OpenAPI document: schemas, examples, and "Try it out"."""
    page = PAGE.format(
        css=_asset_url("swagger-ui.css"),
        icon=_asset_url("favicon-32x32.png"),
        spec=html.escape(url_for("openapi.openapi_json")),
        bundle=_asset_url("swagger-ui-bundle.js"),
        start=html.escape(url_for("apidocs.docs_start_script")),
    )
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@bp.get("/docs/herald-docs.js")
def docs_start_script() -> Response:
    """The script that starts Swagger UI on the page."""
    return Response(START_SCRIPT, mimetype="text/javascript")


@bp.get("/docs/swagger-ui/<filename>")
def docs_asset(filename: str) -> Response:
    """One of Swagger UI's packaged files."""
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(SWAGGER_UI_DIST, filename)


def _asset_url(filename: str) -> str:
    return html.escape(url_for("apidocs.docs_asset", filename=filename))
