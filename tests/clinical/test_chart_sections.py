"""Immunizations, procedures and diagnostic reports in the chart, per role
(issue 12): the page, the printable record and the REST chart show exactly
the sections the role's permissions disclose (docs/clinical-policy.md,
table section-permissions), sensitive items need a direct relationship,
and a payer restriction keeps procedures from billing."""

from __future__ import annotations

import pytest

from safeward import clock
from safeward.identity.roles import CATALOG
from tests.clinical.chart_items import patient_with_items
from tests.clinical.conftest import relate
from tests.conftest import sign_in
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db
NEW = ("immunizations", "procedures", "reports")
# Written out, not computed: the minimum-necessary decision of issue 12.
SHOWN: dict[str, tuple[str, ...] | None] = {
    "physician": ("immunizations", "procedures", "reports"),
    "nurse": ("immunizations", "procedures", "reports"),
    "registration_clerk": (),
    "billing_clerk": ("procedures",),
    "lab_technician": ("reports",),
    "pharmacist": ("immunizations", "reports"),
    # No clinical:patient:read: no chart at all.
    "hr_officer": None,
    "it_admin": None,
    "security_officer": None,
    "privacy_officer": None,
    "auditor": None,
    "compliance_officer": None,
    "biomedical_engineer": None,
    "security_desk": None,
    "vendor": None,
}


def test_every_role_has_a_row():
    assert set(SHOWN) == {spec.code for spec in CATALOG}


@pytest.mark.parametrize("role", list(SHOWN))
def test_the_chart_shows_the_new_sections_the_role_may_read(role, client, make_user):
    patient = patient_with_items(2)
    user = make_user(role)
    relate(user, patient, "care_team")
    sign_in(client, user)
    page = client.get(f"/clinical/patients/{patient}/")
    api = client.get(f"/api/v1/clinical/patients/{patient}/chart/")
    expected = SHOWN[role]
    if expected is None:
        assert page.status_code == api.status_code == 403
        return
    assert page.status_code == api.status_code == 200
    html = page.content.decode()
    body = api.json()
    for section in NEW:
        assert (f'id="{section}"' in html) == (section in expected), (role, section)
        assert (body[section] is not None) == (section in expected), (role, section)
        assert (section in body["sections"]) == (section in expected), (role, section)
        if section in expected:
            assert len(body[section]) == 2
    if "immunizations" in expected:
        assert "Influenza, seasonal, injectable" in html
    if "procedures" in expected:
        assert "Appendectomy" in html
        assert "Acute appendicitis" in html
    if "reports" in expected:
        assert "Complete blood count panel" in html
        assert all(len(r["result_ids"]) == 2 for r in body["reports"])
        # The report's results are named where the reader sees results too.
        assert "Hemoglobin: <strong>13.9</strong>" in html
    printed = client.get(f"/clinical/patients/{patient}/print/").content.decode()
    assert ("Appendectomy" in printed) == ("procedures" in expected)
    assert ("Influenza, seasonal" in printed) == ("immunizations" in expected)


def test_sensitive_items_need_a_direct_relationship(client, make_user):
    patient = patient_with_items(1, sensitive=True)
    nurse = make_user("nurse")
    relate(nurse, patient, "department")
    sign_in(client, nurse)
    body = client.get(f"/api/v1/clinical/patients/{patient}/chart/").json()
    assert [len(body[s]) for s in NEW] == [1, 1, 1]
    assert body["withheld_sensitive"] >= 3
    relate(nurse, patient, "care_team")
    body = client.get(f"/api/v1/clinical/patients/{patient}/chart/").json()
    assert [len(body[s]) for s in NEW] == [2, 2, 2]
    assert {i["sensitivity"] for i in body["procedures"]} == {"", "mental_health"}


def test_a_payer_restriction_keeps_procedures_from_billing_not_from_care(client, make_user):
    from safeward.clinical.models import PatientRestriction

    patient = patient_with_items(1)
    with clinical_test_data():
        PatientRestriction.objects.create(patient_id=patient, kind="no_payer", starts_at=clock.now())
    billing = make_user("billing_clerk")
    sign_in(client, billing)
    body = client.get(f"/api/v1/clinical/patients/{patient}/chart/").json()
    assert body["procedures"] is None
    assert "procedures" not in body["sections"]
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    sign_in(client, doctor)
    assert len(client.get(f"/api/v1/clinical/patients/{patient}/chart/").json()["procedures"]) == 1


def test_the_chart_read_is_audited_with_the_new_fields(client, make_user):
    from safeward.audit.models import AuditEvent

    patient = patient_with_items(1)
    pharmacist = make_user("pharmacist")
    sign_in(client, pharmacist)
    assert client.get(f"/clinical/patients/{patient}/").status_code == 200
    event = AuditEvent.objects.filter(actor_id=pharmacist.pk, resource_type="Chart").latest("id")
    assert {"immunization", "diagnostic_report"} <= set(event.fields)
    assert "procedure" not in event.fields
