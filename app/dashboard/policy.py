"""The Content-Security-Policy of the dashboard's pages."""

from __future__ import annotations

_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
)
# Everything from this origin, nothing inline: the pages' scripts are files under static/.
CONTENT_SECURITY_POLICY = "; ".join((*_DIRECTIVES, "style-src 'self'"))
# A preview's email is shown in a sandboxed `srcdoc` frame (no scripts, an opaque origin),
# which inherits the page's policy; emails are styled inline, so that page allows inline
# styles, and still no script and no other host.
PREVIEW_CONTENT_SECURITY_POLICY = "; ".join((*_DIRECTIVES, "style-src 'self' 'unsafe-inline'"))
