"""Owner, reviewer and evidence recipient are chosen from the people who work
incident cases (a labelled select), and the services refuse anyone else."""

from __future__ import annotations

import pytest

from safeward.detection.triage import TriageError
from safeward.incidents import case_services, selectors
from safeward.incidents.models import Incident
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def test_the_assign_form_offers_eligible_staff_by_name_and_refuses_others(client, make_user):
    officer = make_user("security_officer", first_name="Sam", last_name="Keeper")
    auditor = make_user("auditor", first_name="Ann", last_name="Reader")
    nurse = make_user("nurse", first_name="Nia", last_name="Ward")
    owners = dict(selectors.staff_choices(permission=selectors.OWNER_PERMISSION))
    reviewers = dict(selectors.staff_choices(permission=selectors.REVIEWER_PERMISSION))
    assert owners[officer.pk] == f"Sam Keeper ({officer.username})"
    assert auditor.pk not in owners  # reads cases, does not keep them
    assert auditor.pk in reviewers
    assert nurse.pk not in owners
    assert nurse.pk not in reviewers

    incident = case_services.incident_create(actor=officer, title="x", category="other", severity="high")
    sign_in(client, officer)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert '<label for="as-owner">Owner</label><select id="as-owner" name="owner">' in page
    assert f"Ann Reader ({auditor.username})" in page
    assert f"Nia Ward ({nurse.username})" not in page

    for data in (
        {"category": "other", "owner": str(nurse.pk)},  # not eligible: not among the choices
        {"category": "other", "reviewer": str(nurse.pk)},
        {"category": "other", "owner": str(auditor.pk)},
        {"category": "other", "owner": str(officer.pk), "reviewer": str(officer.pk)},
    ):
        response = client.post(f"/incidents/{incident.pk}/assign/", data)
        assert response.status_code == 400, data
    incident.refresh_from_db()
    assert (incident.owner_id, incident.reviewer_id) == (officer.pk, None)
    ok = client.post(
        f"/incidents/{incident.pk}/assign/",
        {"category": "snooping", "owner": str(officer.pk), "reviewer": str(auditor.pk)},
    )
    assert ok.status_code == 302
    incident = Incident.objects.get(pk=incident.pk)
    assert (incident.owner_id, incident.reviewer_id, incident.category) == (
        officer.pk,
        auditor.pk,
        "snooping",
    )


def test_the_services_refuse_people_outside_the_lists_even_without_the_form(make_user):
    officer = make_user("security_officer")
    nurse = make_user("nurse")
    with pytest.raises(TriageError, match="from the list"):
        case_services.incident_create(
            actor=officer, title="x", category="other", severity="low", owner_id=nurse.pk
        )
    incident = case_services.incident_create(actor=officer, title="x", category="other", severity="low")
    with pytest.raises(TriageError, match="from the list"):
        case_services.incident_assign(
            actor=officer, incident_id=incident.pk, owner_id=None, reviewer_id=nurse.pk, category="other"
        )
    former = make_user("privacy_officer", is_active=False)
    with pytest.raises(TriageError, match="from the list"):
        case_services.incident_assign(
            actor=officer, incident_id=incident.pk, owner_id=former.pk, reviewer_id=None, category="other"
        )


def test_evidence_goes_only_to_someone_who_keeps_cases(client, make_user, settings, tmp_path):
    import io

    settings.VAR_DIR = tmp_path
    officer = make_user("security_officer")
    privacy = make_user("privacy_officer")
    auditor = make_user("auditor")
    incident = case_services.incident_create(actor=officer, title="x", category="other", severity="low")
    evidence = case_services.evidence_add(
        actor=officer,
        incident_id=incident.pk,
        title="Log",
        filename="log.txt",
        content_type="text/plain",
        source=io.BytesIO(b"log lines"),
    )
    sign_in(client, officer)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'<label for="tr-to-{evidence.pk}">' in page
    url = f"/incidents/evidence/{evidence.pk}/transfer/"
    assert client.post(url, {"to_user": str(auditor.pk)}).status_code == 400  # reads cases, keeps no evidence
    assert client.post(url, {"to_user": "abc"}).status_code == 400
    evidence.refresh_from_db()
    assert evidence.holder_id == officer.pk
    assert client.post(url, {"to_user": str(privacy.pk), "note": "to legal"}).status_code == 302
    evidence.refresh_from_db()
    assert evidence.holder_id == privacy.pk
