"""Export manifests: every exporting route writes one (who, when, why,
which patients and sections, the SHA-256 of what left) with an audit event
carrying the manifest's hash; `safeward assets whence FILE` and the manifest
page find the export from a file's hash and name its patients through the
gateway, audited."""

from __future__ import annotations

import ast
import hashlib
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.signals import request_finished
from django.db import close_old_connections
from django.urls import get_resolver

import safeward
from safeward.assets.models import ExportManifest
from safeward.audit.models import AuditEvent
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.clinical import gateway
from tests.clinical.conftest import WARD, new_patient, relate
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_url_permissions import walk

pytestmark = pytest.mark.django_db


def _only_manifest() -> ExportManifest:
    manifest = ExportManifest.objects.get()
    assert manifest.audit_event_id is not None
    event = AuditEvent.objects.get(pk=manifest.audit_event_id)
    assert event.resource_type == "ExportManifest"
    assert event.detail["manifest_sha256"] == manifest.manifest_sha256
    assert event.detail["content_sha256"] == manifest.sha256
    return manifest


def test_a_printed_chart_is_manifested_and_whence_names_its_patient(client, tmp_path, capsys):
    doctor = UserFactory(roles=["physician"], totp_secret=True)
    patient = new_patient(given="Ada", family="Quist", mrn="MRN-WHENCE-1")
    relate(doctor, patient, "care_team")
    sign_in(client, doctor)
    page = client.get(f"/clinical/patients/{patient}/print/")
    assert page.status_code == 200
    manifest = _only_manifest()
    assert (manifest.kind, manifest.route, manifest.purpose) == ("print", "clinical:chart_print", "TREAT")
    assert manifest.actor_id == doctor.pk
    assert manifest.patient_ids == [patient]
    assert "demographics" in manifest.sections
    assert manifest.sha256 == hashlib.sha256(page.content).hexdigest()
    assert manifest.byte_count == len(page.content)

    found = tmp_path / "found-on-a-share.html"
    found.write_bytes(page.content)
    officer = UserFactory(roles=["privacy_officer"], totp_secret=True)
    call_command("assets", "whence", str(found), "--as", officer.username)
    out = capsys.readouterr().out
    assert f"export manifest {manifest.pk}: print from clinical:chart_print" in out
    assert f"{patient}\tMRN-WHENCE-1" in out
    lookup = AuditEvent.objects.get(action="read", resource_type="ExportManifest", actor_id=officer.pk)
    assert lookup.resource_id == str(manifest.pk)

    found.write_bytes(page.content + b" ")
    call_command("assets", "whence", str(found), "--as", officer.username)
    assert "No export manifest has this hash" in capsys.readouterr().out


def test_whence_refuses_unknown_users_people_without_the_permission_and_missing_files(tmp_path):
    target = tmp_path / "x.csv"
    target.write_bytes(b"a")
    with pytest.raises(CommandError, match="no active SafeWard account"):
        call_command("assets", "whence", str(target), "--as", "nobody")
    nurse = UserFactory(roles=["nurse"])
    with pytest.raises(CommandError, match="cannot read"):
        call_command("assets", "whence", str(tmp_path / "missing"), "--as", nurse.username)
    manifest_for(b"a")
    with pytest.raises(CommandError, match="may not read export manifests"):
        call_command("assets", "whence", str(target), "--as", nurse.username)


def manifest_for(content: bytes) -> ExportManifest:
    from safeward.audit.manifests import ManifestDraft, manifest_write

    return manifest_write(  # type: ignore[return-value]
        actor=None,
        draft=ManifestDraft(kind="csv", route="tests", purpose="HOPERAT", patient_ids=("p-1",)),
        content=content,
    )


def test_the_audit_report_csv_is_hashed_as_it_streams(client):
    officer = UserFactory(roles=["security_officer"], totp_secret=True)
    audit_record(action=Action.READ, patient_id="p-42", purpose=PurposeOfUse.TREATMENT)
    sign_in(client, officer)
    response = client.get("/audit/report.csv", {"patient": "p-42"})
    assert not ExportManifest.objects.exists()  # nothing has left yet
    body = b"".join(response.streaming_content)
    manifest = _only_manifest()
    assert manifest.route == "audit:report_csv"
    assert manifest.sha256 == hashlib.sha256(body).hexdigest()
    assert manifest.patient_ids == ["p-42"]
    assert manifest.complete


def test_a_document_download_is_manifested(client, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    doctor = UserFactory(roles=["physician"], totp_secret=True)
    patient = new_patient()
    relate(doctor, patient, "care_team")
    content = b"%PDF-1.4 " + b"letter " * 40_000
    view = gateway.document_upload(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        title="Discharge letter",
        content_type="application/pdf",
        source=io.BytesIO(content),
        size=len(content),
    )
    sign_in(client, doctor)
    whole = client.get(f"/clinical/patients/{patient}/documents/{view.id}/")
    assert b"".join(whole.streaming_content) == content
    complete = ExportManifest.objects.get()
    assert (complete.route, complete.complete, complete.sha256) == (
        "clinical:document",
        True,
        hashlib.sha256(content).hexdigest(),
    )


def test_a_stream_cut_short_is_manifested_with_what_did_leave():
    from django.http import StreamingHttpResponse

    from safeward.audit.manifests import ManifestDraft, manifest_response

    response = manifest_response(
        StreamingHttpResponse(iter([b"first chunk", b"second chunk"])),
        actor=None,
        draft=ManifestDraft(
            kind="document", route="clinical:document", purpose="TREAT", patient_ids=("p-1",)
        ),
    )
    first = next(iter(response))
    # What the server does when the client goes away (the request_finished signal
    # would close the test's database connection, as Django's test client knows).
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    cut = ExportManifest.objects.get()
    assert not cut.complete
    assert (cut.byte_count, cut.sha256) == (len(first), hashlib.sha256(first).hexdigest())


def test_the_manifest_page_looks_up_a_hash(client):
    manifest = manifest_for(b"exported,rows\n")
    officer = UserFactory(roles=["privacy_officer"], totp_secret=True)
    sign_in(client, officer)
    page = client.get("/assets/manifests/", {"sha256": manifest.sha256.upper()})
    assert page.status_code == 200
    assert f"Export manifest {manifest.pk}" in page.content.decode()
    assert "altered" not in page.content.decode()
    ExportManifest.objects.filter(pk=manifest.pk).update(patient_ids=["p-2"])
    assert (
        "altered since it was audited"
        in client.get("/assets/manifests/", {"sha256": manifest.sha256}).content.decode()
    )
    for bad in ("abc", "g" * 64, "0" * 65):
        assert client.get("/assets/manifests/", {"sha256": bad}).status_code == 400
    assert (
        "No export manifest has this hash"
        in client.get("/assets/manifests/", {"sha256": "0" * 64}).content.decode()
    )


# --- every exporting route writes a manifest ---------------------------------------------------
# Routes that let patient data leave SafeWard as a file, a print or a pull, and write a manifest.
MANIFESTED = {
    "clinical:chart_print",
    "clinical:document",
    "audit:report_csv",
    "audit:disclosures_print",
    "detection:alert_patients_csv",
    "incidents:evidence_download",
    "incidents:patients_csv",
    "incidents:letters_download",  # a batch of breach notification letters (PDF), each patient named
    "continuity:kits",  # the scheduled kit writer: each kit sealed to its ward (safeward continuity kits)
    "continuity:kit_download",  # an encrypted downtime kit (the scheduled writer manifests each kit too)
    # API pulls: each response (each page) that holds a patient (ADR 0811).
    "fhir:search",
    "fhir:search_post",
    "fhir:read",
    "clinical_api:chart",
    "clinical_api:patient",
    "clinical_api:patient_search",
    "clinical_api:schedule",
    "clinical_api:medications_to_verify",
}
# Routes that let patient data leave and do not write one yet, each with why (the list may only shrink).
NOT_YET: dict[str, str] = {}
# Routes whose names sound like exports but whose content holds no patient data.
NO_PATIENT_DATA = {
    "devices:evidence_download": "a compensating control's evidence file (a firewall screenshot, a photo)",
    "audit:report": "the audit report page (its CSV is audit:report_csv)",
    "mfa_download_recovery_codes": "a person's own MFA recovery codes",
    "workforce:review_report": "an access review's accounts and roles",
    "clinical:document_upload": "an upload: the document comes in",
    # Reporting a device lost or stolen (issue 14): a form and a write, about a device.
    "devices_posture:report_lost": "reports a device lost: names a device, never a patient",
    "posture_api:report_lost": "reports a device lost: names a device, never a patient",
    # Compliance reports name accounts, keys, assets and control results, never a patient.
    "assessments:report_pdf": "a framework's compliance report",
    "assessments:report_csv": "a framework's per-clause and per-entry tables",
    "assessments:report_oscal": "OSCAL assessment results of the control tests",
    # Software and vulnerability analyses (packages, advisories, VEX states), never a patient.
    "patching:vex_export": "VEX of the vulnerability findings",
    "vulns_api:vex_export": "VEX of the vulnerability findings, over REST",
    # The policy library's documents are policies, not medical records.
    "policies:document": "a policy document's page",
    "policies:document_new": "a new policy document",
    "policies:document_edit": "a policy document's settings",
    "policies:document_review": "a policy document's annual review",
    "policies:document_retire": "retiring a policy document",
    "policies_api:documents": "the published policies",
    "policies_api:document": "a published policy with its revisions",
    "continuity:recovery_report": "back-entered records by downtime number and username",
    # Network flow exports come in (addresses, ports, counts), never patient data.
    "devices:flow_export_import": "an upload of a firewall log or flow export",
    "devices_api:flow_export_import": "an upload of a firewall log or flow export",
    # Vendor agreements (BAAs) are contracts with a vendor, not medical records.
    "vendors:document_upload": "an upload of a vendor agreement document",
    "vendors:document_download": "a vendor agreement document (a BAA)",
    # A vendor's security-questionnaire evidence: its policies and certificates (ADR 1213).
    "vendors:evidence_download": "a vendor's questionnaire evidence file (a policy, a certificate)",
}
EXPORT_WORDS = ("print", "csv", "download", "export", "report", "document")


def test_every_exporting_route_writes_a_manifest_or_is_listed():
    names = {name for _, name, _ in walk(get_resolver())}
    exporting = {name for name in names if any(word in name for word in EXPORT_WORDS)} - set(NO_PATIENT_DATA)
    assert exporting <= MANIFESTED | set(NOT_YET), exporting - MANIFESTED - set(NOT_YET)
    assert MANIFESTED | set(NOT_YET) <= names
    assert not MANIFESTED & set(NOT_YET)
    assert _drafted_routes() == MANIFESTED


def _drafted_routes() -> set[str]:
    """The route names the code writes manifests under (each ManifestDraft's
    `route=`, and each API view's `manifest_route = ...`)."""
    routes: set[str] = set()
    for path in Path(safeward.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Assign)
                and [getattr(t, "id", "") for t in node.targets] == ["manifest_route"]
                and isinstance(node.value, ast.Constant)
                and node.value.value
            ):
                routes.add(str(node.value.value))
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ManifestDraft":
                for keyword in node.keywords:
                    if keyword.arg != "route":
                        continue
                    for constant in ast.walk(keyword.value):
                        if isinstance(constant, ast.Constant) and ":" in str(constant.value):
                            routes.add(str(constant.value))
    return routes


# The patient-data APIs' routes that hold no patient's data, or only echo what the caller sent.
API_NOT_PULLS = {
    "fhir:metadata": "the CapabilityStatement",
    "fhir:smart_configuration": "SMART discovery",
    "fhir:practitioner": "the caller's own account",
    "clinical_api:patients": "POST registers a patient (GET is a 405)",
    "clinical_api:note_create": "a write: the note the caller sent",
    "clinical_api:condition_create": "a write: the condition the caller sent",
    "clinical_api:allergy_create": "a write: the allergy the caller sent",
    "clinical_api:allergy_status": "a write",
    "clinical_api:amendment_request_create": "a write",
    "clinical_api:amendment_request_deny": "a write",
    "clinical_api:amendment_disagreement": "a write",
    "clinical_api:appointment_book": "a write: the appointment the caller booked",
    "clinical_api:appointment_cancel": "a write",
    "clinical_api:appointment_check_in": "a write",
    "clinical_api:medication_verify": "a write: the order the caller verified or queried",
}


def test_every_patient_data_api_route_manifests_its_pulls_or_is_listed():
    """A FHIR or clinical REST route (a view on either base) manifests its
    responses under its own name, or is listed as holding no pull."""
    from safeward.clinical.api import ClinicalAPIView
    from safeward.fhir.views import FhirView

    api_routes = {}
    for _, name, callback in walk(get_resolver()):
        view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if isinstance(view_class, type) and issubclass(view_class, FhirView | ClinicalAPIView):
            api_routes[name] = view_class
    assert set(API_NOT_PULLS) <= set(api_routes)
    for name, view_class in api_routes.items():
        if name in API_NOT_PULLS:
            assert not view_class.manifest_route, name
        else:
            assert view_class.manifest_route == name, name
            assert name in MANIFESTED, name


# The gateway's functions that release patient data for export or print, and the routes that manifest them.
GATEWAY_EXPORTS = {
    "chart_print": "clinical:chart_print",
    "chart_export": "NOT_YET: used by no route yet",
    "document_open": "clinical:document",
    "breach_scope_identifiers": "detection:alert_patients_csv, incidents:patients_csv",
    "breach_letter_recipients": "incidents:letters_download",
}


def test_every_gateway_export_function_is_manifested_or_listed():
    import inspect

    exporting = set()
    for name in gateway.__all__:
        source = inspect.getsource(getattr(gateway, name))
        if any(
            marker in source for marker in ("Action.PRINT", "Action.EXPORT", "AuditAction.EXPORT")
        ) or name in ("document_open",):
            exporting.add(name)
    assert exporting == set(GATEWAY_EXPORTS)
    for name, routes in GATEWAY_EXPORTS.items():
        if not routes.startswith("NOT_YET"):
            assert set(routes.split(", ")) <= MANIFESTED, name
