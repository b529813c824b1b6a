"""A version's parts compiled once per process, and rendered with as little work as possible.

Every plain-text part goes into one "bundle" template (`{% set slot %}part{% endset %}` per
part), so a recipient costs one Jinja render for them all, plus one for the email HTML and one
for the text derived from it. If the bundle raises, the parts are rendered one by one to name
the failing part. Compiled versions are cached by (template id, version number).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Template, TemplateSyntaxError
from jinja2.runtime import Context

from templates_store.cache import BoundedCache
from templates_store.checks import JINJA_MARKERS, environment_for, iter_sources
from templates_store.errors import RenderFailed
from templates_store.html_text import html_to_text, text_template_source, tidy_text
from templates_store.limits import render_budget
from templates_store.models import TemplateVersion
from templates_store.sandbox import TEXT, TEXT_FROM_HTML

HTML_FIELD = "channels.email.html"
TEXT_FIELD = "channels.email.text"


@dataclass
class CompiledVersion:
    """Constants, per-part templates and the text bundle of one version."""

    constants: dict[str, str] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    text_fields: list[str] = field(default_factory=list)
    bundle: Template | None = None
    slots: dict[str, str] = field(default_factory=dict)
    derived_text: Template | None = None
    text_from_rendered_html: bool = False

    def render_fields(self, context: dict[str, Any]) -> dict[str, Any]:
        """Every part's output keyed by its field path (`channels.push.data.orderId`)."""
        with render_budget():
            return self._render_parts(context)

    def _render_parts(self, context: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.constants)
        if self.bundle is not None:
            out.update(self._render_bundle(context))
        else:
            for name in self.text_fields:
                out[name] = render_template(self.templates[name], context, name)
        if HTML_FIELD in self.templates:
            out[HTML_FIELD] = render_template(self.templates[HTML_FIELD], context, HTML_FIELD)
        if self.derived_text is not None:
            out[TEXT_FIELD] = tidy_text(render_template(self.derived_text, context, HTML_FIELD))
        elif self.text_from_rendered_html and out.get(HTML_FIELD) is not None:
            out[TEXT_FIELD] = html_to_text(out[HTML_FIELD])
        return out

    def _render_bundle(self, context: dict[str, Any]) -> dict[str, Any]:
        assert self.bundle is not None
        bundle_context = Context(TEXT, context, None, self.bundle.blocks)
        try:
            TEXT.concat(self.bundle.root_render_func(bundle_context))  # type: ignore[attr-defined]
        except Exception as exc:  # render the parts one by one to name the failing one
            for name in self.text_fields:
                render_template(self.templates[name], context, name)
            raise RenderFailed(f"Rendering failed: {exc}") from exc
        return {name: str(bundle_context.vars[slot]) for name, slot in self.slots.items()}


def render_template(template: Template, context: dict[str, Any], field_path: str) -> str:
    """`Template.render` without copying the context, which already holds Jinja's globals."""
    try:
        output = template.root_render_func(
            Context(template.environment, context, None, template.blocks)
        )
        return template.environment.concat(output)  # type: ignore[attr-defined,no-any-return]
    except Exception as exc:  # template code may raise anything; name the part instead
        raise RenderFailed(f"Rendering failed: {exc}", field=field_path) from exc


_compiled: BoundedCache[CompiledVersion] = BoundedCache(maxsize=256)


def compiled(version: TemplateVersion) -> CompiledVersion:
    """The version compiled, parsed once per process and kept in a bounded cache."""
    declared = (version.variable_schema or {}).get("properties") or {}
    return _compiled.get_or_build(
        version.cache_key, lambda: compile_channels(version.channels, declared=declared)
    )


def compile_cache() -> BoundedCache[CompiledVersion]:
    """The process-wide cache of compiled versions (for inspection and tests)."""
    return _compiled


def compile_channels(
    channels: Mapping[str, Any], *, declared: Iterable[str] = ()
) -> CompiledVersion:
    """Compile every part; `declared` variable names are kept clear of the bundle's slots."""
    result = CompiledVersion()
    for channel, part, field_path, source in iter_sources(channels):
        if not any(marker in source for marker in JINJA_MARKERS):
            result.constants[field_path] = source
            continue
        env = environment_for(channel, part)
        result.templates[field_path] = env.from_string(source)
        if env is TEXT:
            result.text_fields.append(field_path)
    if result.text_fields:
        try:
            result.bundle, result.slots = _bundle(channels, result.text_fields, set(declared))
        except TemplateSyntaxError:  # not expected for checked parts; render them one by one
            result.bundle = None
    email = channels.get("email") or {}
    if isinstance(email.get("html"), str) and email.get("text") is None:
        _derive_text(result, email["html"])
    return result


def _bundle(
    channels: Mapping[str, Any], fields: list[str], declared: set[str]
) -> tuple[Template, dict[str, str]]:
    sources = {field_path: source for _c, _p, field_path, source in iter_sources(channels)}
    prefix = "herald_part_"
    while any(name.startswith(prefix) for name in declared):
        prefix += "x"
    slots = {name: f"{prefix}{index}" for index, name in enumerate(fields)}
    body = "".join(
        f"{{% set {slots[name]} %}}{_without_final_newline(sources[name])}{{% endset %}}"
        for name in fields
    )
    return TEXT.from_string(body), slots


def _without_final_newline(source: str) -> str:
    """As Jinja drops a template's final newline, so must each part inside the bundle."""
    for ending in ("\r\n", "\n", "\r"):
        if source.endswith(ending):
            return source[: -len(ending)]
    return source


def _derive_text(result: CompiledVersion, html_source: str) -> None:
    try:
        source = text_template_source(TEXT_FROM_HTML.lex(html_source))
        if source is not None and not any(m in source for m in JINJA_MARKERS):
            result.constants[TEXT_FIELD] = tidy_text(source)
            return
        if source is not None:
            result.derived_text = TEXT_FROM_HTML.from_string(source)
            return
    except TemplateSyntaxError:
        pass
    result.text_from_rendered_html = True
