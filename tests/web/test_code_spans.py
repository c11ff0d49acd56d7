"""Operator hints mark commands with backticks; pages show them as <code>
and escape everything else."""

from __future__ import annotations

from django.template import Context, Template


def test_backtick_spans_become_code_and_the_rest_is_escaped():
    rendered = Template("{% load safeward_text %}{{ hint|code_spans }}").render(
        Context({"hint": "Run `safeward x <y>` for <b>you</b>, then ` alone"})
    )
    assert rendered == ("Run <code>safeward x &lt;y&gt;</code> for &lt;b&gt;you&lt;/b&gt;, then ` alone")
