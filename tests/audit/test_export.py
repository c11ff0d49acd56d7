"""SIEM export: syslog over TLS and TCP to a real receiver, exactly once and in
order through an outage; JSON lines; CEF; FHIR AuditEvent validation."""

from __future__ import annotations

import json
import re
import ssl

import pytest
from django.core.management import call_command

from safeward.audit import export
from safeward.audit.fhir import fhir_audit_event, fhir_validate
from safeward.audit.models import AuditEvent, AuditExportCursor
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome, PurposeOfUse
from tests.audit.conftest import seal_all
from tests.audit.helpers import record_reads
from tests.audit.syslog_receiver import SyslogReceiver, make_certificate

pytestmark = pytest.mark.django_db

RFC5424 = re.compile(
    rb"^<(\d{1,3})>1 (\S+) (\S+) safeward - (IHE\+FHIR|CHECKPOINT) "
    rb"(\[safeward@32473 [^\]]*\]) \xef\xbb\xbf(.*)$",
    re.DOTALL,
)


def _encode(item):
    return export.item_syslog(item, hostname="testhost")


def _sequence(messages):
    """[("event", seq) | ("checkpoint", seal), ...] from received syslog messages."""
    out = []
    for message in messages:
        match = RFC5424.match(message)
        assert match, message[:120]
        sd = match.group(5).decode()
        if match.group(4) == b"IHE+FHIR":
            out.append(("event", int(re.search(r'seq="(\d+)"', sd).group(1))))
            fhir_validate(json.loads(match.group(6)))
        else:
            out.append(("checkpoint", int(re.search(r'seal="(\d+)"', sd).group(1))))
    return out


def _expected():
    """Every sealed event, seal by seal, each seal closed by its checkpoint."""
    from safeward.audit import chain
    from safeward.audit.models import AuditSeal

    out = []
    for seal in AuditSeal.objects.order_by("number"):
        out += [("event", event_id) for event_id in chain.range_ids(seal.ranges)]
        out.append(("checkpoint", seal.number))
    return out


@pytest.fixture
def tls_pair(tmp_path):
    cert, key = make_certificate(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = export.syslog_tls_context(ca_file=str(cert), cert_file=None, key_file=None)
    return server, client


@pytest.mark.parametrize("use_tls", [True, False], ids=["tls", "tcp"])
def test_syslog_exactly_once_in_order_through_an_outage(use_tls, tls_pair):
    server_tls, client_tls = tls_pair
    receiver = SyslogReceiver(tls=server_tls if use_tls else None)
    receiver.start()
    sink = export.SyslogSink(
        host="127.0.0.1", port=receiver.port, tls=client_tls if use_tls else None, timeout=5
    )
    try:
        record_reads(5)
        seal_all()
        assert export.audit_export_pending(sink=sink, encode=_encode, limit=4) > 0
        receiver.stop()
        record_reads(7)
        seal_all()
        with pytest.raises(OSError, match=r"refused|reset|closed|Errno"):
            export.audit_export_pending(sink=sink, encode=_encode, limit=4)
        assert AuditExportCursor.objects.get(sink="syslog").last_error
        with pytest.raises(OSError, match=r"refused|reset|closed|Errno"):
            export.audit_export_pending(sink=sink, encode=_encode, limit=4)
        receiver.start()
        export.audit_export_pending(sink=sink, encode=_encode, limit=4)
        assert export.audit_export_pending(sink=sink, encode=_encode, limit=4) == 0
    finally:
        receiver.stop()
    received = _sequence(receiver.messages)
    assert received == _expected()
    events = [seq for kind, seq in received if kind == "event"]
    assert len(events) == len(set(events)) == AuditEvent.objects.count()


def test_syslog_header_priority_and_checkpoint_body():
    audit_record(action=Action.READ, outcome=Outcome.DENIED, patient_id="p-1")
    seal_all()
    sink = export.MemorySink()
    export.audit_export_pending(sink=sink, encode=_encode)
    frames = [message.split(b" ", 1)[1] for message in sink.messages]
    denied = next(frame for frame in frames if b'outcome="denied"' in frame)
    assert RFC5424.match(denied).group(1) == b"85"  # authpriv (10) * 8 + notice (5)
    checkpoint = json.loads(RFC5424.match(frames[-1]).group(6))
    assert checkpoint["type"] == "safeward-audit-checkpoint"
    assert checkpoint["signature"]


def test_json_lines_sink_and_command(tmp_path):
    record_reads(3)
    seal_all()
    path = tmp_path / "out.jsonl"
    call_command("audit", "export", "--sink", "jsonl", "--path", str(path))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["type"] for line in lines][-1] == "safeward-audit-checkpoint"
    assert sum(1 for line in lines if line["type"] == "safeward-audit-event") == AuditEvent.objects.count()
    call_command("audit", "export", "--sink", "jsonl", "--path", str(path))
    assert len(path.read_text().splitlines()) == len(lines)


def test_cef_line_escapes():
    event = audit_record(
        action=Action.READ, patient_id="p=1|x", resource_type="Note", resource_id=7, reason="a\nb"
    )
    line = export.event_cef(event)
    assert line.startswith("CEF:0|SafeWard|SafeWard|1|read|read success|3|")
    assert "cs1=p\\=1|x" in line
    assert "\n" not in line


@pytest.mark.parametrize("action", list(Action))
def test_every_action_maps_to_a_valid_fhir_audit_event(action, make_user):
    event = audit_record(
        action=action,
        outcome=Outcome.SUCCESS,
        resource_type="Patient",
        resource_id="42",
        patient_id="42",
        purpose=PurposeOfUse.TREATMENT,
        reason="follow-up",
        fields=["birth_date"],
    )
    resource = fhir_audit_event(event)
    fhir_validate(resource)
    assert resource["action"] in {"C", "R", "U", "D", "E"}


def test_fhir_audit_event_with_user_and_denied_outcome(make_user):
    user = make_user("physician")
    event = audit_record(action=Action.READ, outcome=Outcome.DENIED, actor=user, patient_id="p-7")
    resource = fhir_audit_event(event)
    fhir_validate(resource)
    assert resource["outcome"] == "4"
    assert resource["agent"][0]["role"][0]["coding"][0]["code"] == "physician"
    assert resource["entity"][0]["what"]["identifier"]["value"] == "p-7"


def test_sinks_and_signers_conform_to_their_protocols(tmp_path):
    from safeward.audit import signing

    sinks = [
        export.SyslogSink(host="127.0.0.1", port=1),
        export.JsonLinesSink(tmp_path / "x.jsonl"),
        export.MemorySink(),
    ]
    assert all(isinstance(sink, export.SiemSink) for sink in sinks)
    local = signing.LocalEd25519Signer(tmp_path / "seal.pem", create=True)
    offline = signing.PublicKeyVerifier.from_pem([next(iter(local.public_keys_pem().values())).encode()])
    for signer in (signing.get_signer(), local, offline):
        assert isinstance(signer, signing.SealSigner)
    key_id, signature = local.sign(b"block")
    assert offline.verify(key_id, b"block", signature)
    assert not offline.verify(key_id, b"other", signature)
    key_id, signature = signing.get_signer().sign(b"x")
    assert signing.get_signer().verify(key_id, b"x", signature)
