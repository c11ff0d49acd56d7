"""The shared form template: every id a field's aria-describedby names
exists (help text and errors), and a checkbox group has a legend, not a
label pointing nowhere."""

from __future__ import annotations

import re

from django.template.loader import render_to_string

from safeward.workforce.forms import CourseDefineForm, PositionDefineForm


def _missing_references(html: str) -> set[str]:
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    referenced = {ref for refs in re.findall(r'aria-describedby="([^"]+)"', html) for ref in refs.split()}
    return referenced - ids


def test_help_text_and_errors_are_where_aria_describedby_points(db):
    form = CourseDefineForm({"code": "not a slug", "title": "", "days_to_complete": "0"})
    assert not form.is_valid()
    html = render_to_string("identity/_form.html", {"form": form})
    assert 'aria-describedby="id_code_helptext id_code_error"' in html
    assert _missing_references(html) == set()
    assert _missing_references(render_to_string("identity/_form.html", {"form": CourseDefineForm()})) == set()


def test_a_checkbox_group_is_a_fieldset_with_a_legend(db):
    html = render_to_string("identity/_form.html", {"form": PositionDefineForm()})
    assert "<legend>Roles a person in this position gets</legend>" in html
    labelled = set(re.findall(r'<label for="([^"]*)"', html))
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    assert labelled <= ids
