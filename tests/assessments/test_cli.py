"""`safeward controls`: list, run with progress, report files, verify (online
and offline), exceptions, and clear errors."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from safeward.assessments.models import ControlRun, ResourceResult
from tests.assessments.guard_helpers import signed_run_guard_dropped

pytestmark = pytest.mark.django_db


def _call(*args):
    out = StringIO()
    call_command("controls", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_run_shows_progress_and_a_summary(registered):
    output = _call("run", "--scheduled")
    assert "[1/3] audit.broken: not_applicable" in output
    assert re.search(r"Run \d+: 3 test\(s\)", output)
    assert "1 passed, 1 failed" in output
    assert "Signed: SHA-256" in output
    assert ControlRun.objects.get().trigger == "scheduled"
    assert "identity.mfa: fail" in _call("run", "--only", "identity.mfa")
    with pytest.raises(CommandError, match=r"No control test 'nope\.x'"):
        _call("run", "--only", "nope.x")


def test_report_writes_the_files(registered, tmp_path):
    _call("run")
    output = _call(
        "report",
        "hicp",
        "--pdf",
        str(tmp_path / "h.pdf"),
        "--csv",
        str(tmp_path / "h.csv"),
        "--oscal",
        str(tmp_path / "h.json"),
        "--entries-csv",
        str(tmp_path / "e.csv"),
    )
    assert (tmp_path / "h.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "h.csv").read_text().startswith("clause,")
    assert json.loads((tmp_path / "h.json").read_text())["assessment-results"]["results"]
    assert "entries assessed" in output
    with pytest.raises(CommandError, match="No framework"):
        _call("report", "nonsense", "--pdf", str(tmp_path / "x.pdf"))
    with pytest.raises(CommandError, match="Say what to write"):
        _call("report", "hicp")
    with pytest.raises(CommandError, match="cannot write"):
        _call("report", "hicp", "--csv", str(tmp_path / "missing" / "x.csv"))


def test_verify_online_and_offline(registered, tmp_path, seal_key):
    _call("run")
    run = ControlRun.objects.get()
    assert "verifies" in _call("verify", str(run.pk))
    pem = tmp_path / "key.pem"
    _call("snapshot", str(run.pk), str(tmp_path / "run.json"), "--public-key", str(pem))
    assert pem.read_text() == next(iter(seal_key.public_keys_pem().values()))
    assert "verifies" in _call(
        "verify", str(run.pk), "--snapshot", str(tmp_path / "run.json"), "--public-key", str(pem)
    )
    edited = json.loads((tmp_path / "run.json").read_text())
    edited["document"]["results"][2]["resources"][1]["passed"] = True
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    with pytest.raises(CommandError, match="does NOT verify"):
        _call("verify", str(run.pk), "--snapshot", str(tmp_path / "edited.json"), "--public-key", str(pem))
    with signed_run_guard_dropped():
        ResourceResult.objects.filter(resource_id="2").update(evidence={})
    with pytest.raises(CommandError, match="does NOT verify"):
        _call("verify", str(run.pk))
    with pytest.raises(CommandError, match="No control run 99"):
        _call("verify", "99")
    with pytest.raises(CommandError, match="needs both"):
        _call("verify", str(run.pk), "--snapshot", str(tmp_path / "run.json"))
    with pytest.raises(CommandError, match="cannot read"):
        _call("verify", str(run.pk), "--snapshot", str(tmp_path / "none.json"), "--public-key", str(pem))
    with pytest.raises(CommandError, match="not a snapshot or not an Ed25519"):
        _call(
            "verify",
            str(run.pk),
            "--snapshot",
            str(tmp_path / "run.json"),
            "--public-key",
            str(tmp_path / "run.json"),
        )


def test_list_and_exceptions(registered):
    assert "0 exception(s)." in _call("exceptions")
