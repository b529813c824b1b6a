"""Rendering: every channel, recipient attributes, autoescaping, the sandbox and the cache."""

from __future__ import annotations

import functools
import subprocess
import sys
from typing import Any

import pytest

from templates_store.cache import BoundedCache
from templates_store.checks import check_channels
from templates_store.compiled import compile_cache, compile_channels
from templates_store.errors import RenderFailed
from templates_store.html_text import html_to_text
from templates_store.rendering import check_push_overrides, render
from templates_store.sandbox import GLOBALS, TEXT, RecipientView
from tests.support.template_factories import (
    ORDER_SCHEMA,
    ORDER_VARIABLES,
    make_version,
)

USER = {
    "external_id": "user-jane-123",
    "email": "jane@shop.test",
    "first_name": "Jane",
    "last_name": "Doe",
    "custom_attributes": {"plan": "gold", "address": {"city": "Lyon"}},
}
PROFILE = (
    "{{ user.first_name }} {{ user.last_name }} <{{ user.email }}> {{ user.external_id }} "
    "{{ user.custom_attributes.plan }} {{ user.custom_attributes.address.city }}"
)
PROFILE_TEXT = "Jane Doe <jane@shop.test> user-jane-123 gold Lyon"


def test_every_channel_renders_with_recipient_attributes():
    channels = {
        "in_app": {
            "title": PROFILE,
            "body": PROFILE,
            "action_url": "https://shop.test/u/{{ user.external_id }}",
            "category": "{{ user.custom_attributes.plan }}",
            "topic": "orders",
        },
        "email": {"subject": PROFILE, "html": f"<p>{PROFILE}</p>", "text": PROFILE},
        "push": {
            "title": PROFILE,
            "body": PROFILE,
            "data": {"who": "{{ user.external_id }}", "n": [1, "{{ orderId }}"], "flag": True},
            "icon": "https://shop.test/{{ user.custom_attributes.plan }}.png",
            "url": "https://shop.test/{{ orderId }}",
        },
    }

    rendered = render(make_version(channels), variables=ORDER_VARIABLES, user=USER)

    assert rendered.in_app == {
        "title": PROFILE_TEXT,
        "body": PROFILE_TEXT,
        "action_url": "https://shop.test/u/user-jane-123",
        "category": "gold",
        "topic": "orders",
    }
    assert rendered.email == {
        "subject": PROFILE_TEXT,
        "html": f"<p>{PROFILE_TEXT}</p>",
        "text": PROFILE_TEXT,
    }
    assert rendered.push == {
        "title": PROFILE_TEXT,
        "body": PROFILE_TEXT,
        "data": {"who": "user-jane-123", "n": [1, "ORD-12345"], "flag": True},
        "icon": "https://shop.test/gold.png",
        "url": "https://shop.test/ORD-12345",
    }
    assert rendered.channel_names == ["in_app", "email", "push"]


def test_missing_recipient_attributes_render_empty_and_take_defaults():
    channels = {
        "in_app": {
            "title": "Hi {{ user.first_name | default('there') }}!",
            "body": "[{{ user.custom_attributes.plan }}][{{ user.custom_attributes.a.b.c }}]",
        }
    }
    user = {"external_id": "u1", "first_name": None, "custom_attributes": {}}

    rendered = render(make_version(channels), variables=ORDER_VARIABLES, user=user)

    assert rendered.in_app is not None
    assert (rendered.in_app["title"], rendered.in_app["body"]) == ("Hi there!", "[][]")
    assert rendered.email is None and rendered.push is None


def test_only_email_html_is_autoescaped():
    text = "{{ customerName }}"
    channels = {
        "in_app": {"title": text, "body": text},
        "email": {"subject": text, "html": f"<b>{text}</b>", "text": text},
        "push": {"title": text, "body": text, "data": {"name": text}},
    }
    variables = {"customerName": "<script>alert('x')</script> & co", "orderId": "ORD-1"}

    rendered = render(make_version(channels), variables=variables, user={})

    raw = variables["customerName"]
    assert rendered.email is not None and rendered.in_app is not None and rendered.push
    assert rendered.email["html"] == (
        "<b>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co</b>"
    )
    assert rendered.email["subject"] == rendered.email["text"] == raw
    assert rendered.in_app["title"] == rendered.in_app["body"] == raw
    assert rendered.push["title"] == rendered.push["data"]["name"] == raw


def test_centering_safe_html_in_an_email_does_not_escape_it_again():
    html = (
        "{% macro greet(name) %}<b>{{ name }}</b>{% endmacro %}"
        "{{ greet(customerName) | center(30) }}"
    )
    channels = {"email": {"subject": "Hi", "html": html}}
    variables = {"customerName": "<i>", "orderId": "ORD-1"}

    rendered = render(make_version(channels), variables=variables, user={})

    assert rendered.email is not None
    assert rendered.email["html"].strip() == "<b>&lt;i&gt;</b>"


def test_email_text_is_derived_from_the_html_when_missing():
    html = (
        "<html><head><style>p{color:red}</style></head><body>"
        "<h1>Hello {{ customerName }}</h1><p>Your order <b>{{ orderId }}</b> ships\n  today.</p>"
        "<ul><li>Shoes</li><li>Socks &amp; more</li></ul>"
        '<p><a href="https://shop.test/o/{{ orderId }}">Track it</a><br>Thanks</p></body></html>'
    )
    channels = {"email": {"subject": "Order", "html": html}}

    rendered = render(make_version(channels), variables=ORDER_VARIABLES, user={})

    assert rendered.email is not None
    assert rendered.email["text"] == (
        "Hello Jane\n\nYour order ORD-12345 ships today.\n\n- Shoes\n- Socks & more\n\n"
        "Track it (https://shop.test/o/ORD-12345)\nThanks"
    )


def test_html_to_text_keeps_bare_links_and_drops_comments_and_scripts():
    source = '<!-- hidden --><script>x()</script><a href="https://a.test">https://a.test</a>'

    assert html_to_text(source) == "https://a.test"


def test_subjects_and_titles_are_kept_on_one_line():
    channels = {
        "email": {"subject": "Order\r\n{{ orderId }}\nBcc: x@evil.test", "text": "Body"},
        "push": {"title": "  Order\n{{ orderId }} "},
    }

    rendered = render(make_version(channels), variables=ORDER_VARIABLES, user={})

    assert rendered.email is not None and rendered.push is not None
    assert rendered.email["subject"] == "Order ORD-12345 Bcc: x@evil.test"
    assert rendered.push["title"] == "Order ORD-12345"


def test_push_overrides_replace_text_and_merge_data():
    version = make_version()
    overrides = {"title": "Flash", "data": {"promo": "SPRING"}, "badge": 3, "body": None}

    rendered = render(version, variables=ORDER_VARIABLES, user={}, push_overrides=overrides)

    assert rendered.push is not None
    assert rendered.push["title"] == "Flash"
    assert rendered.push["body"] == "ORD-12345 is on its way"
    assert rendered.push["data"] == {"orderId": "ORD-12345", "promo": "SPRING", "badge": 3}


def test_push_overrides_shape_is_checked_with_field_paths():
    problems = check_push_overrides({"title": 3, "data": "x"})

    assert [(p.field, p.code) for p in problems] == [
        ("template.notificationPushData.title", "ERR_BAD_REQUEST"),
        ("template.notificationPushData.data", "ERR_BAD_REQUEST"),
    ]
    assert check_push_overrides(None) == [] and check_push_overrides({"body": "ok"}) == []


def test_a_version_is_compiled_once_for_many_recipients():
    version = make_version()
    builds_before = compile_cache().builds

    for index in range(50):
        user = {"external_id": f"u{index}", "first_name": f"N{index}"}
        rendered = render(version, variables=ORDER_VARIABLES, user=user)
        assert rendered.email is not None and f"Hi N{index}," in rendered.email["html"]

    assert compile_cache().builds == builds_before + 1


def test_the_cache_keeps_only_the_most_recently_used():
    cache: BoundedCache[str] = BoundedCache(maxsize=2)
    cache.get_or_build("a", lambda: "A")
    cache.get_or_build("b", lambda: "B")
    cache.get_or_build("a", lambda: "A again")
    cache.get_or_build("c", lambda: "C")

    assert len(cache) == 2 and cache.builds == 3
    assert cache.get_or_build("a", lambda: "rebuilt") == "A"
    assert cache.get_or_build("b", lambda: "rebuilt") == "rebuilt"


def test_the_compile_cache_is_bounded():
    assert 0 < compile_cache().maxsize <= 1024


def test_derived_text_matches_converting_each_rendered_html():
    html = (
        "<h1>Hi {{ user.first_name | default('you') }}</h1>\n"
        "{% for line in lines %}<p>{{ line }}</p>{% endfor %}\n"
        "{% if user.custom_attributes.vip %}<p>VIP &amp; friends</p>{% endif %}"
        "<p><a href='{{ url }}'>Open</a> {{ note | safe }}</p>"
    )
    schema = {
        "type": "object",
        "properties": {
            "lines": {"type": "array", "items": {"type": "string"}},
            "url": {"type": "string"},
            "note": {"type": "string"},
        },
    }
    version = make_version({"email": {"subject": "S", "html": html}}, schema)
    variables = {"lines": ["a < b", "c"], "url": "https://x.test/?a=1&b=2", "note": "<b>bold</b>"}

    for user in ({"first_name": "Ann", "custom_attributes": {"vip": True}}, {}):
        email = render(version, variables=variables, user=user).email
        assert email is not None
        assert email["text"] == html_to_text(email["html"])


def test_text_is_converted_from_the_rendered_html_when_no_text_template_can_be_derived():
    html = "<html><head><title>{% if orderId %}x{% endif %}</title></head><p>{{ orderId }}</p>"
    version = make_version({"email": {"subject": "S", "html": html}})

    email = render(version, variables=ORDER_VARIABLES, user={}).email

    assert email is not None and email["text"] == "ORD-12345"


def test_assignments_in_one_part_never_reach_another():
    channels = {
        "in_app": {"title": "{% set orderId = 'changed' %}{{ orderId }}", "body": "{{ orderId }}"}
    }

    rendered = render(make_version(channels), variables=ORDER_VARIABLES, user={})

    assert rendered.in_app is not None
    assert (rendered.in_app["title"], rendered.in_app["body"]) == ("changed", "ORD-12345")


def test_variables_named_like_internal_slots_keep_their_values():
    schema = {"type": "object", "properties": {"herald_part_0": {"type": "string"}}}
    channels = {"in_app": {"title": "T {{ herald_part_0 }}", "body": "B {{ herald_part_0 }}"}}

    rendered = render(make_version(channels, schema), variables={"herald_part_0": "v"}, user={})

    assert rendered.in_app is not None
    assert (rendered.in_app["title"], rendered.in_app["body"]) == ("T v", "B v")


def test_a_final_newline_is_dropped_as_jinja_does():
    channels = {"in_app": {"title": "T", "body": "Hello {{ customerName }}\n"}}

    rendered = render(make_version(channels), variables=ORDER_VARIABLES, user={})

    assert rendered.in_app is not None and rendered.in_app["body"] == "Hello Jane"


def test_the_template_store_imports_no_flask():
    modules = "templates_store.service, templates_store.files, templates_store.rendering"
    code = f"import sys, {modules}; print(sorted(m for m in sys.modules if 'flask' in m))"
    command = [sys.executable, "-c", code]

    result = subprocess.run(command, capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"


def test_parts_render_the_same_one_by_one_as_in_the_bundle():
    version = make_version()
    bundled = compile_channels(version.channels)
    one_by_one = compile_channels(version.channels)
    one_by_one.bundle = None
    context = {**GLOBALS, **ORDER_VARIABLES, "user": RecipientView.of(USER)}

    assert bundled.bundle is not None
    assert one_by_one.render_fields(context) == bundled.render_fields(context)


def test_saving_a_template_runs_none_of_its_code(monkeypatch: pytest.MonkeyPatch):
    calls: list[tuple] = []
    replace = TEXT.filters["replace"]

    @functools.wraps(replace)  # keeps Jinja's pass_eval_context marker
    def recording_replace(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1:])
        return replace(*args, **kwargs)

    monkeypatch.setitem(TEXT.filters, "replace", recording_replace)
    huge = "{{ '" + "x" * 20_000 + "' | replace('', '" + "y" * 20_000 + "') | length }}"
    channels = {
        "in_app": {
            "title": huge,
            "body": "{% autoescape 'on' | replace('on', '') %}{{ 'ab' | replace('a', 'c') }}"
            "{% endautoescape %}",
        }
    }

    problems = check_channels(channels, ORDER_SCHEMA)

    assert problems == [] and calls == []
    version = make_version(channels)
    with pytest.raises(RenderFailed) as raised:
        render(version, variables=ORDER_VARIABLES, user={})
    assert "longer than 100000" in raised.value.details[0].message
    assert calls  # the filter runs when rendering, and only then
