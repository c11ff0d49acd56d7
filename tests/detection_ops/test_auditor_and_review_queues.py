"""Issue 12: the auditor reads alerts, incidents and the review history and
changes nothing; review forms preset no decision; the privacy office sees
the review queues' patients by name, everyone else by record id."""

from __future__ import annotations

import pytest

from safeward.audit.models import AuditEvent
from safeward.clinical import gateway
from safeward.detection.models import AccessReview, Alert
from safeward.detection.triage import alert_version
from safeward.incidents.models import Incident
from tests.clinical.conftest import WARD, clinical_zone, new_patient  # noqa: F401  # the zone fixture
from tests.conftest import sign_in
from tests.detection_ops.factories import AccessReviewFactory, alert_about

pytestmark = pytest.mark.django_db
NO_PRESET = '<option value="" selected>Choose…</option>'


@pytest.fixture
def world(client, make_user):
    """An alert with an incident, an open access review and a pending
    break-glass use, about one named patient."""
    nurse = make_user("nurse")
    patient = new_patient(given="Ada", family="Quist", mrn="MRN-Q1")
    alert = alert_about(nurse, severity="critical")
    officer = make_user("security_officer")
    sign_in(client, officer)
    client.post(
        f"/detection/alerts/{alert.pk}/incident/",
        {"version": alert_version(alert), "title": "Snooping on ward 3", "severity": "high", "summary": "s"},
    )
    client.logout()
    review = AccessReviewFactory(user_id=nurse.pk, username=nurse.username, patient_id=patient)
    doctor = make_user("physician")
    grant = gateway.break_glass_start(
        actor=doctor,
        session=WARD,
        patient_id=patient,
        reason_kind="emergency_care",
        justification="Collapsed in the corridor, no records to hand.",
    )
    alert.refresh_from_db()
    return {
        "alert": alert,
        "incident": Incident.objects.get(),
        "review": review,
        "grant": grant,
        "patient": patient,
    }


def test_the_auditor_reads_alerts_incidents_and_reviews_and_changes_nothing(client, make_user, world):
    fresh = alert_about(make_user("nurse"))
    sign_in(client, make_user("security_officer"))
    assert "Start triage" in client.get(f"/detection/alerts/{fresh.pk}/").content.decode()
    auditor = make_user("auditor")
    sign_in(client, auditor)
    fresh_page = client.get(f"/detection/alerts/{fresh.pk}/").content.decode()
    assert "Start triage" not in fresh_page
    assert "Dismiss alert" not in fresh_page
    alert, incident, review, grant = world["alert"], world["incident"], world["review"], world["grant"]
    before = (alert.status, alert.assignee_id, incident.status)
    assert alert.title in client.get("/detection/alerts/", {"status": "all"}).content.decode()
    page = client.get(f"/detection/alerts/{alert.pk}/").content.decode()
    assert "Start triage" not in page
    assert "Dismiss alert" not in page
    assert f"/detection/alerts/{alert.pk}/patients/" not in page
    assert AuditEvent.objects.filter(actor_id=auditor.pk, resource_type="Alert", action="read").exists()
    version = alert_version(alert)
    for action in ("triage", "assign", "dismiss", "confirm"):
        response = client.post(
            f"/detection/alerts/{alert.pk}/{action}/", {"version": version, "reason": "x" * 30}
        )
        assert response.status_code == 403, action
    assert client.get(f"/detection/alerts/{alert.pk}/contain/").status_code == 403
    assert client.get(f"/detection/alerts/{alert.pk}/patients/").status_code == 403
    assert "Snooping on ward 3" in client.get("/incidents/").content.decode()
    detail = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Snooping on ward 3" in detail
    assert "Update status" not in detail
    assert client.post(f"/incidents/{incident.pk}/status/", {"status": "contained"}).status_code == 403
    assert client.get(f"/incidents/{incident.pk}/patients/").status_code == 403
    reviews = client.get("/detection/reviews/").content.decode()
    assert review.username in reviews
    assert 'name="decision"' not in reviews
    response = client.post(
        f"/detection/reviews/{review.pk}/", {"decision": "appropriate", "comment": "x" * 20}
    )
    assert response.status_code == 403
    breakglass = client.get("/clinical/break-glass/review/").content.decode()
    assert "Collapsed in the corridor" in breakglass
    assert 'name="decision"' not in breakglass
    response = client.post(f"/clinical/break-glass/review/{grant.id}/", {"decision": "justified"})
    assert response.status_code == 403
    alert.refresh_from_db()
    incident.refresh_from_db()
    review.refresh_from_db()
    assert (alert.status, alert.assignee_id, incident.status) == before
    assert review.status == AccessReview.Status.OPEN
    assert alert.status != Alert.Status.DISMISSED


def test_review_forms_preset_no_decision(client, make_user, world):
    privacy = make_user("privacy_officer")
    sign_in(client, privacy)
    review, grant = world["review"], world["grant"]
    for path in ("/detection/reviews/", "/clinical/break-glass/review/"):
        page = client.get(path).content.decode()
        select = page[page.index('name="decision"') :].split("</select>")[0]
        assert NO_PRESET in select, path
        assert select.count("selected") == 1, path
    response = client.post(
        f"/detection/reviews/{review.pk}/", {"decision": "", "comment": "Seen on the rota."}
    )
    assert response.status_code == 400
    review.refresh_from_db()
    assert review.status == AccessReview.Status.OPEN
    client.post(f"/clinical/break-glass/review/{grant.id}/", {"note": "Looks fine."})
    assert gateway.break_glass_review_queue(actor=privacy, session=WARD)[0].id == grant.id  # still pending


@pytest.mark.parametrize(
    ("role", "named"), [("privacy_officer", True), ("auditor", False), ("security_officer", False)]
)
def test_review_queues_name_patients_for_the_privacy_office_only(client, make_user, world, role, named):
    user = make_user(role)
    sign_in(client, user)
    paths = ["/detection/reviews/", "/clinical/break-glass/review/"] if role != "security_officer" else []
    for path in paths:
        page = client.get(path).content.decode()
        assert ("QUIST, Ada · MRN-Q1" in page) == named, path
        assert "MRN-Q1" in page or not named
    listing = AuditEvent.objects.filter(actor_id=user.pk, action="search", resource_type="Patient")
    if named:
        assert listing.count() == 2
        assert {event.purpose_of_use for event in listing} == {"HCOMPL"}
        assert all(event.detail["listing"] for event in listing)
    else:
        assert not listing.exists()
