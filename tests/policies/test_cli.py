"""`safeward policies`: list, show, publish-file (two people), acknowledgements, overdue."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from safeward.policies.models import PolicyRevision
from tests.factories import UserFactory
from tests.policies.conftest import new_document

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("policies", *args, stdout=out)
    return out.getvalue()


def test_publish_file_needs_a_second_person_and_then_publishes(tmp_path, officer, approver, frozen_clock):
    document = new_document(officer, code="backup")
    path = tmp_path / "backup.md"
    path.write_text("# Backups\n\nNightly, encrypted, restored every quarter.\n")
    with pytest.raises(CommandError, match="second person"):
        _run(
            "publish-file", "backup", str(path), "--author", officer.username, "--approver", officer.username
        )
    assert not PolicyRevision.objects.exists()
    out = _run(
        "publish-file", "backup", str(path), "--author", officer.username, "--approver", approver.username
    )
    assert "revision 1 of backup published" in out
    document.refresh_from_db()
    assert document.current_revision.approved_by == approver
    assert "backup" in _run("list")
    assert "r1\tpublished\tby comply, approved by privacy" in _run("show", "backup")


def test_bad_input_is_a_clear_error(tmp_path, officer):
    new_document(officer, code="backup")
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    for args, message in (
        (("show", "nope"), "no document"),
        (("publish-file", "backup", str(tmp_path / "missing"), "--author", officer.username), "cannot read"),
        (("publish-file", "backup", str(binary), "--author", officer.username), "not UTF-8"),
        (("publish-file", "backup", str(binary), "--author", "ghost"), "no active SafeWard account"),
        (("acknowledgements", "backup"), "no published revision"),
    ):
        with pytest.raises(CommandError, match=message):
            _run(*args)
    assert not PolicyRevision.objects.exists()


def test_acknowledgements_and_overdue(frozen_clock, aup):  # the policy published on the frozen clock
    UserFactory(roles=["nurse"], username="nurse.bo")
    out = _run("acknowledgements", "acceptable-use")
    assert "outstanding\tnurse.bo" in out
    assert "0 acknowledged; 1 of 1 required still outstanding." in out
    assert "0 review(s) overdue." in _run("overdue")
    frozen_clock.advance(days=400)
    out = _run("overdue", "--sweep")
    assert "acceptable-use" in out
    assert "1 overdue review(s) recorded" in out
