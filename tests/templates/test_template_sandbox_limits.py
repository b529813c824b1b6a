"""The template sandbox and its render budget: code that escapes, or would run away with the
CPU or memory, is refused at save time or when it renders; ordinary templates still render."""

from __future__ import annotations

import pytest

from templates_store.checks import check_channels
from templates_store.errors import RenderFailed
from templates_store.rendering import render
from tests.support.template_factories import (
    ORDER_SCHEMA,
    ORDER_VARIABLES,
    make_version,
    render_refusal,
)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ customerName.__class__ }}",
        "{{ customerName|attr('__class__') }}",
        "{{ customerName|attr(orderId) }}",
        "{{ (customerName|list|map(attribute='__class__')|first) }}",
        "{{ customerName['__globals__'] }}",
        "{{ self._TemplateReference__context }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ '{0.__class__}'.format(customerName) }}",
        "{% extends 'base.html' %}",
        "{% import 'macros.html' as m %}",
        "{% from 'm.html' import x %}",
        "{% block title %}x{% endblock %}",
        "{{ self }}",
    ],
)
def test_sandbox_escapes_are_refused_at_save_time(source: str):
    problems = check_channels({"in_app": {"title": source}}, ORDER_SCHEMA)

    assert problems and {p.field for p in problems} == {"channels.in_app.title"}


def test_the_sandbox_also_blocks_internals_at_render_time():
    version = make_version({"in_app": {"title": "{{ customerName.__class__.__mro__ }}"}})

    with pytest.raises(RenderFailed) as raised:
        render(version, variables=ORDER_VARIABLES, user={})

    assert raised.value.details[0].field == "channels.in_app.title"
    assert "unsafe" in raised.value.details[0].message


def test_huge_repetitions_and_powers_are_refused_at_render_time():
    channels = {"in_app": {"title": "{{ customerName * 10000000 }}", "body": "{{ 2 ** 1000 }}"}}

    with pytest.raises(RenderFailed) as raised:
        render(make_version(channels), variables=ORDER_VARIABLES, user={})

    assert raised.value.details[0].field == "channels.in_app.title"


def test_nested_loops_over_huge_ranges_are_refused_at_render_time():
    nested = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    version = make_version({"in_app": {"title": "Hi", "body": nested}})

    with pytest.raises(RenderFailed) as raised:
        render(version, variables=ORDER_VARIABLES, user={})

    assert "at most 1000000 numbers" in raised.value.details[0].message


@pytest.mark.parametrize(
    "source",
    [
        "{{ customerName.center(1000000000) }}",
        "{{ customerName | center(1000000000) }}",
        "{{ orderId.zfill(width=100000000) }}",
        '{{ ("\t" * 10).expandtabs(100000) }}',
        '{{ "%1000000s" % customerName }}',
        '{{ "%*d" % (1000000, 1) }}',
        '{{ "%1000000s" | format(customerName) }}',
        "{{ customerName | indent(1000000) }}",
    ],
)
def test_padding_to_huge_widths_is_refused_at_render_time(source: str):
    assert "Padding to more than 100000 characters" in render_refusal(source)


def test_ordinary_formatting_and_padding_still_render():
    body = '{{ "%-10s|%.2f" % (orderId, 3.14159) }} {{ "%s!" | format(customerName) }}'
    version = make_version({"in_app": {"title": "{{ customerName.center(8, '*') }}", "body": body}})

    rendered = render(version, variables=ORDER_VARIABLES, user={})

    assert rendered.in_app is not None
    assert (rendered.in_app["title"], rendered.in_app["body"]) == (
        "**Jane**",
        "ORD-12345 |3.14 Jane!",
    )


def test_the_range_budget_is_per_render_not_per_process():
    version = make_version({"in_app": {"title": "{% for i in range(90000) %}{% endfor %}ok"}})

    for _ in range(20):  # 1.8 million numbers in all, 90,000 per render
        rendered = render(version, variables=ORDER_VARIABLES, user={})
        assert rendered.in_app is not None and rendered.in_app["title"] == "ok"


def test_runtime_failures_name_the_part():
    schema = {"type": "object", "properties": {"count": {"type": "integer"}}}
    version = make_version({"push": {"title": "{{ 10 / count }}"}}, schema)

    with pytest.raises(RenderFailed) as raised:
        render(version, variables={"count": 0}, user={})

    [problem] = raised.value.details
    assert (problem.code, problem.field) == ("ERR_RENDER_FAILED", "channels.push.title")


def test_unknown_filters_and_tests_are_refused_even_in_untaken_branches():
    channels = {
        "in_app": {
            "title": "{% if orderId %}{{ customerName | shout }}{% endif %}",
            "body": "{% if orderId is prime %}x{% endif %}",
        }
    }

    problems = check_channels(channels, ORDER_SCHEMA)

    assert [(p.field, p.message) for p in problems] == [
        ("channels.in_app.title", "No filter named 'shout' (line 1)."),
        ("channels.in_app.body", "No test named 'prime' (line 1)."),
    ]


def test_nested_names_must_be_declared_too():
    schema = {
        "type": "object",
        "properties": {
            "order": {
                "type": "object",
                "properties": {"lines": {"type": "array", "items": {"$ref": "#/$defs/line"}}},
            },
            "meta": {"type": "object"},
        },
        "$defs": {"line": {"type": "object", "properties": {"sku": {"type": "string"}}}},
    }
    ok = (
        "{{ order.lines[0].sku }}{{ meta.anything }}{% for l in order.lines %}{{ l.x }}{% endfor %}"
    )

    assert check_channels({"in_app": {"title": ok}}, schema) == []
    [problem] = check_channels({"in_app": {"title": "{{ order.lines[0].price }}"}}, schema)
    assert problem.message == "Variable 'order.lines.0.price' is not declared in variableSchema."


def test_user_cannot_be_declared_as_a_variable():
    schema = {"type": "object", "properties": {"user": {"type": "string"}}}

    [problem] = check_channels({"in_app": {"title": "Hi"}}, schema)

    assert problem.field == "variableSchema.properties.user"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ('x' * 10000) | replace('', 'y' * 1000) }}",
        "{{ ('x' * 10000).replace('', 'y' * 1000) }}",
        "{{ customerName.translate({74: 'y' * 100000}) }}",
        "{% set s = 'x' * 100000 %}{{ s ~ s }}",
        "{% set s = 'x' * 60000 %}{% set t = s ~ s ~ s %}{{ t | length }}",
        "{% set s = 'x' * 100000 %}{{ (s + s) | length }}",
        "{% set l = ['x'] * 60000 %}{{ (l + l) | length }}",
        "{{ (['x' * 1000] * 1000) | join }}",
        "{{ ([{'n': 'x' * 1000}] * 1000) | join(attribute='n') | length }}",
        "{{ ','.join(['x' * 1000] * 1000) | length }}",
        "{{ ('x\n' * 50000) | indent(10) | length }}",
        "{{ ('x ' * 50000) | wordwrap(1, wrapstring='y' * 100) | length }}",
        "{{ '%s%s' % ('x' * 100000, 'y') }}",
        "{{ '%s%s' | format('x' * 60000, 'y' * 60000) }}",
        "{{ ('&' * 60000) | escape | length }}",
        "{% set l = ['x'] * 60000 %}{% set _ = l.extend(l) %}{{ l | length }}",
        "{{ [1] | batch(100000000, 0) | list | length }}",
        "{{ (5).to_bytes(100000000, 'big') | length }}",
    ],
)
def test_strings_lists_and_bytes_cannot_grow_past_the_limit_at_render_time(source: str):
    # Refused as it grows (a result too long) or before (a repetition too long).
    assert "longer than 100000" in render_refusal(source)


_TRIPLED = "{{ s }}{{ s }}{{ s }}"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (  # captured blocks that each repeat the last: 100,000 x 3^5 characters
            "{% set s = 'x' * 100000 %}"
            + "".join(f"{{% set s %}}{_TRIPLED}{{% endset %}}" for _ in range(5))
            + "{{ s | length }}",
            "at most 10000000 characters",
        ),
        (
            "{% macro m(s) %}{{ s }}{{ s }}{% endmacro %}{% set s = 'x' * 100000 %}"
            "{% for _ in range(200) %}{{ m(s) }}{% endfor %}",
            "at most 10000000 characters",
        ),
        ("{% set s = 'x' * 100000 %}{{ [s] * 1000 }}", "longer than 100000"),
        ("{{ ([[1] * 100000] * 30) | sum(start=[]) | length }}", "longer than 100000"),
    ]
    + [  # a list that holds itself twice, 30 times over, is 2^30 items as text
        (
            "{% set ns = namespace(a=[1]) %}{% for _ in range(30) %}"
            "{% set ns.a = [ns.a, ns.a] %}{% endfor %}" + shown,
            "cannot be text",
        )
        for shown in ("{{ ns.a }}", "{{ ns.a | string }}", "{{ 'x' ~ ns.a }}", "{{ ns.a|tojson }}")
    ],
)
def test_text_built_by_blocks_macros_and_list_repetition_is_bounded(source: str, message: str):
    assert message in render_refusal(source)


def test_ordinary_replacing_joining_and_concatenating_still_render():
    body = (
        "{{ customerName | replace('J', 'j') }}|{{ orderId.replace('-', '/') }}|"
        "{{ ['a', 'b'] | join(', ') }}|{{ '-'.join(['c', 'd']) }}|{{ 'x' ~ orderId ~ 'y' }}|"
        "{{ 'p' + 'q' }}|{{ 1 + 2 }}|{{ ([1] + [2]) | length }}|{{ 'a\nb' | indent(2) }}|"
        "{{ 'one two' | wordwrap(3) }}|{{ [1, 2, 3] | batch(2, 0) | list }}"
    )
    version = make_version({"in_app": {"title": "Hi", "body": body}})

    rendered = render(version, variables=ORDER_VARIABLES, user={})

    assert rendered.in_app is not None
    assert rendered.in_app["body"] == (
        "jane|ORD/12345|a, b|c-d|xORD-12345y|pq|3|2|a\n  b|one\ntwo|[[1, 2], [3, 0]]"
    )


def test_a_long_variable_may_still_be_passed_through_and_shortened():
    schema = {"type": "object", "properties": {"article": {"type": "string"}}}
    article = "word " * 30_000  # 150,000 characters
    body = "{{ article }}|{{ article | replace('word', 'w') | length }}|{{ article | e | length }}"
    version = make_version({"in_app": {"title": "Hi", "body": body}}, schema)

    rendered = render(version, variables={"article": article}, user={})

    assert rendered.in_app is not None
    assert rendered.in_app["body"] == f"{article}|60000|150000"


@pytest.mark.parametrize(
    "source",
    [
        "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
        "{% for a in big %}{% for b in big %}{% endfor %}{% endfor %}",
        "{% for a in big %}{% for b in big if b %}{% endfor %}{% endfor %}",
        "{% for a in big %}{{ big | map('upper') | join | length }}{% endfor %}",
        "{% for a in big %}{{ big | sort | first }}{% endfor %}",
        "{% for a in big %}{% set _ = ''.join(big) %}{% endfor %}",
        "{% for a in [1] recursive %}{% if loop.depth == 1 %}"
        + "{{ loop(big) }}" * 11
        + "{% endif %}{% endfor %}",
        "{{ [1] | slice(100000000) | list | length }}",
    ],
)
def test_loops_and_iterating_filters_share_one_iteration_budget(source: str):
    schema = {"type": "object", "properties": {"big": {"type": "array"}}}
    version = make_version({"in_app": {"title": "Hi", "body": source}}, schema)

    with pytest.raises(RenderFailed) as raised:
        render(version, variables={"big": ["x"] * 100_000}, user={})

    assert "at most 1000000 items" in raised.value.details[0].message


def test_ordinary_loops_render_within_the_iteration_budget():
    schema = {"type": "object", "properties": {"rows": {"type": "array"}}}
    body = (
        "{% for a in rows %}{% for b in rows %}{% endfor %}{% endfor %}"
        "{% for r in rows | map('string') | select %}{% endfor %}"
        "{% for x in [[1, [2]]] recursive %}{% if x is iterable %}{{ loop(x) }}"
        "{% else %}{{ x }}{% endif %}{% endfor %}|"
        "{% for r in rows %}{% if loop.last %}{{ loop.length }}{% endif %}{% endfor %}"
    )
    version = make_version({"in_app": {"title": "Hi", "body": body}}, schema)

    for _ in range(3):  # the budget is per render
        rendered = render(version, variables={"rows": list(range(300))}, user={})
        assert rendered.in_app is not None and rendered.in_app["body"] == "12|300"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ((((9 ** 100) ** 100) ** 100) ** 30) > 1 }}",
        "{{ (2 ** 100) ** 100 }}",
        "{% set a = 9 ** 100 %}{% set b = a * a * a * a * a * a * a * a %}"
        "{% set c = b * b * b * b * b * b %}{{ c > 1 }}",
    ],
)
def test_huge_numbers_are_refused_before_they_are_computed(source: str):
    assert "Numbers larger than 10000 bits are not allowed" in render_refusal(source)


def test_rounding_to_a_huge_precision_is_refused_before_it_is_computed():
    assert "at most 100 digits" in render_refusal("{{ 5 | round(-1000000000) }}")


def test_ordinary_arithmetic_still_renders():
    body = "{{ 2 ** 10 }} {{ (9 ** 100) > 1 }} {{ 3 * 4 }} {{ 2 ** -1 }} {{ 1.5 ** 2 }}"
    version = make_version({"in_app": {"title": "Hi", "body": body}})

    rendered = render(version, variables=ORDER_VARIABLES, user={})

    assert rendered.in_app is not None and rendered.in_app["body"] == "1024 True 12 0.5 2.25"
