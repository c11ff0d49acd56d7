"""API pulls are exports (ADR 0811): every FHIR read or search page and
every clinical REST read that holds a patient writes a manifest of the bytes
the renderer produced, naming the OAuth client that pulled it and, when the
register links that client to an asset, the asset as its destination."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.core.management import call_command

from safeward import clock
from safeward.assets import services
from safeward.assets.models import Asset, AssetClient, ExportManifest
from safeward.audit import manifests as audit_manifests
from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.fhir import clients
from tests.clinical.conftest import WARD, clinical_zone, new_patient, relate  # noqa: F401  # autouse fixture
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.fhir.helpers import app, bearer, token

pytestmark = pytest.mark.django_db
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def doctor(make_user):
    return make_user("physician")


def _sealed(manifest: ExportManifest) -> None:
    assert manifest.audit_event_id is not None
    event = AuditEvent.objects.get(pk=manifest.audit_event_id)
    assert event.resource_type == "ExportManifest"
    assert event.detail["manifest_sha256"] == manifest.manifest_sha256
    from safeward.assets.manifests import manifest_verify

    assert manifest_verify(manifest=manifest)


def test_each_fhir_search_page_is_a_manifest_naming_its_client_and_the_linked_asset(doctor, client):
    patients = [new_patient(given="Ada", family=f"Quist{n}", mrn=f"MRN-PULL-{n}") for n in range(3)]
    for patient in patients:
        relate(doctor, patient, "care_team")
    application = app("Population health")
    raw = token(doctor, "user/*.rs", application=application)

    first = client.get("/fhir/Patient", {"name": "quist", "_count": "2"}, **bearer(raw))
    assert first.status_code == 200
    page_one = ExportManifest.objects.get()
    assert (page_one.kind, page_one.route, page_one.purpose) == ("fhir", "fhir:search", "TREAT")
    assert page_one.sha256 == hashlib.sha256(first.content).hexdigest()
    assert page_one.byte_count == len(first.content)
    assert page_one.patient_ids == sorted(e["resource"]["id"] for e in first.json()["entry"])
    assert page_one.patient_count == 2
    assert "demographics" in page_one.sections
    assert (page_one.client_id, page_one.destination_id) == (application.client_id, None)
    _sealed(page_one)

    # The register links the client to the asset it is: the next page names it as the destination.
    warehouse = services.asset_create(
        actor=None, values={"name": "Population health warehouse", "kind": Asset.Kind.APPLICATION}
    )
    services.asset_update(actor=None, asset_id=warehouse.pk, values={}, client_ids=[application.client_id])
    next_url = next(link["url"] for link in first.json()["link"] if link["relation"] == "next")
    second = client.get(next_url, **bearer(raw))
    assert second.status_code == 200
    page_two = ExportManifest.objects.exclude(pk=page_one.pk).get()
    assert page_two.sha256 == hashlib.sha256(second.content).hexdigest()
    assert page_two.patient_count == 1
    assert set(page_one.patient_ids) | set(page_two.patient_ids) == set(patients)
    assert page_two.destination_id == warehouse.pk
    assert AuditEvent.objects.get(pk=page_two.audit_event_id).detail["destination"] == warehouse.pk
    _sealed(page_two)


def test_a_page_saved_to_a_share_is_traced_back_by_whence(doctor, client, tmp_path, capsys):
    patient = new_patient(given="Ada", family="Quist", mrn="MRN-FOUND-1")
    relate(doctor, patient, "care_team")
    application = app("Exporter")
    raw = token(doctor, "user/*.rs", application=application)
    pulled = client.post("/fhir/Patient/_search", "name=quist", content_type=FORM, **bearer(raw))
    assert pulled.status_code == 200
    manifest = ExportManifest.objects.get()
    assert manifest.route == "fhir:search_post"
    found = tmp_path / "bundle.json"
    found.write_bytes(pulled.content)
    officer = UserFactory(roles=["privacy_officer"], totp_secret=True)
    call_command("assets", "whence", str(found), "--as", officer.username)
    out = capsys.readouterr().out
    assert f"export manifest {manifest.pk}: fhir from fhir:search_post" in out
    assert f"OAuth client {application.client_id}" in out
    assert f"{patient}\tMRN-FOUND-1" in out


def test_a_fhir_read_of_a_chart_item_names_the_patient_it_refers_to(doctor, client):
    patient = new_patient()
    relate(doctor, patient, "care_team")
    gateway.observation_record(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        category="vital-signs",
        code="8867-4",
        display="Heart rate",
        value="72",
        unit="/min",
        effective_at=dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC),
    )
    raw = token(doctor, "user/*.rs")
    bundle = client.get("/fhir/Observation", {"patient": f"Patient/{patient}"}, **bearer(raw)).json()
    observation = bundle["entry"][0]["resource"]["id"]
    ExportManifest.objects.all().delete()
    read = client.get(f"/fhir/Observation/{observation}", **bearer(raw))
    assert read.status_code == 200
    manifest = ExportManifest.objects.get()
    assert (manifest.route, manifest.patient_ids) == ("fhir:read", [patient])
    assert set(manifest.sections) == {"orders", "results"}
    assert manifest.sha256 == hashlib.sha256(read.content).hexdigest()


def test_responses_holding_no_patient_write_no_manifest(doctor, client):
    raw = token(doctor, "user/*.rs")
    empty = client.get("/fhir/Patient", {"name": "nobody-here"}, **bearer(raw))
    assert empty.status_code == 200
    assert not empty.json().get("entry")
    assert client.get("/fhir/metadata").status_code == 200
    assert client.get("/fhir/Patient/00000000-0000-4000-8000-000000000001", **bearer(raw)).status_code == 404
    assert client.get("/fhir/Patient", {"_count": "x"}, **bearer(raw)).status_code == 400
    assert not ExportManifest.objects.exists()


def test_the_rest_chart_search_patient_and_schedule_are_manifested(doctor, client):
    from safeward.identity.models import Department

    patient = new_patient(given="Ada", family="Quist")
    relate(doctor, patient, "care_team")
    sign_in(client, doctor)
    chart = client.get(f"/api/v1/clinical/patients/{patient}/chart/")
    assert chart.status_code == 200
    manifest = ExportManifest.objects.get()
    assert (manifest.kind, manifest.route, manifest.patient_ids) == ("api", "clinical_api:chart", [patient])
    assert manifest.client_id == ""  # a browser session: no OAuth client
    assert manifest.sha256 == hashlib.sha256(chart.content).hexdigest()
    assert "demographics" in manifest.sections

    raw = token(doctor, "user/*.rs")
    found = client.post(
        "/api/v1/clinical/patients/search/", {"name": "quist"}, content_type="application/json", **bearer(raw)
    )
    assert found.status_code == 200
    search = ExportManifest.objects.get(route="clinical_api:patient_search")
    assert search.patient_ids == [patient]
    assert search.client_id != ""
    assert search.sha256 == hashlib.sha256(found.content).hexdigest()

    assert client.get(f"/api/v1/clinical/patients/{patient}/").status_code == 200
    assert ExportManifest.objects.get(route="clinical_api:patient").patient_ids == [patient]

    scheduler = UserFactory(roles=["registration_clerk"], totp_secret=True)
    clinic = Department.objects.create(code="pull-clinic", name="Pull clinic")
    day = clock.now().date() + dt.timedelta(days=1)
    gateway.slots_create(
        actor=scheduler,
        session=WARD,
        department_id=clinic.pk,
        day=day,
        start=dt.time(9),
        end=dt.time(10),
        minutes=30,
    )
    sign_in(client, scheduler)
    query = {"department_id": clinic.pk, "day": day.isoformat()}
    slots = client.get("/api/v1/clinical/schedule/", query).json()
    assert not ExportManifest.objects.filter(route="clinical_api:schedule").exists()  # no one booked yet
    booking = {"patient_id": patient, "slot_id": slots[0]["id"], "reason": "check-up"}
    booked = client.post("/api/v1/clinical/appointments/", booking, content_type="application/json")
    assert booked.status_code == 201
    day_list = client.get("/api/v1/clinical/schedule/", query)
    schedule = ExportManifest.objects.get(route="clinical_api:schedule")
    assert schedule.patient_ids == [patient]
    assert "appointments" in schedule.sections
    assert schedule.sha256 == hashlib.sha256(day_list.content).hexdigest()


def test_a_pull_with_no_manifest_writer_is_refused(doctor, client, monkeypatch):
    patient = new_patient()
    relate(doctor, patient, "care_team")
    monkeypatch.setattr(audit_manifests, "_writer", [])
    with pytest.raises(audit_manifests.ManifestWriterMissing):
        client.get(f"/fhir/Patient/{patient}", **bearer(token(doctor, "user/*.rs")))
    assert not ExportManifest.objects.exists()


def test_the_rest_chart_commits_its_manifest_with_its_read_event_or_neither(doctor, client, monkeypatch):
    """The chart's manifest is written in the READ event's transaction (ADR
    1631): a manifest that cannot be written takes the event with it, and
    the chart does not leave."""
    from django.db import DatabaseError

    patient = new_patient()
    relate(doctor, patient, "care_team")
    sign_in(client, doctor)

    def refused(**_: object) -> None:
        raise DatabaseError("the manifest could not be written")

    monkeypatch.setattr(audit_manifests, "_writer", [refused])
    with pytest.raises(DatabaseError):
        client.get(f"/api/v1/clinical/patients/{patient}/chart/")
    assert not AuditEvent.objects.filter(resource_type="Chart", resource_id=patient).exists()
    assert not ExportManifest.objects.exists()


def test_two_identical_pulls_in_one_instant_are_two_manifests(doctor, client, frozen_clock):
    patient = new_patient()
    relate(doctor, patient, "care_team")
    sign_in(client, doctor)
    first = client.get(f"/api/v1/clinical/patients/{patient}/")
    second = client.get(f"/api/v1/clinical/patients/{patient}/")
    assert first.content == second.content
    manifests = list(ExportManifest.objects.all())
    assert len(manifests) == 2
    assert manifests[0].created_at == manifests[1].created_at
    assert manifests[0].manifest_sha256 != manifests[1].manifest_sha256


# --- linking a client to an asset --------------------------------------------------------------------
@pytest.fixture
def registered(make_user):
    admin = make_user("it_admin")
    return clients.client_register(
        actor=admin,
        name="Growth charts",
        owner=admin,
        grant="authorization-code",
        client_type="public",
        scopes="launch/patient patient/*.rs",
        redirect_uris="https://app.example.test/callback",
        expires_at=clock.now() + dt.timedelta(days=365),
    ).registration.application


def _post_edit(client, asset: Asset, **extra):
    return client.post(
        f"/assets/{asset.pk}/edit/",
        {"name": asset.name, "kind": "application", "hosting": "vendor", "encrypted_at_rest": "yes",
         "encrypted_in_transit": "yes", "criticality": "high", **extra},
    )  # fmt: skip


def test_the_asset_page_links_a_registered_client_and_refuses_a_second_owner(client, registered):
    officer = UserFactory(roles=["privacy_officer"], totp_secret=True)
    sign_in(client, officer)
    growth = services.asset_create(actor=None, values={"name": "Growth charts app", "kind": "application"})
    other = services.asset_create(actor=None, values={"name": "Another app", "kind": "application"})
    assert _post_edit(client, growth, client_ids=[registered.client_id]).status_code == 302
    link = AssetClient.objects.get()
    assert (link.asset_id, link.client_id) == (growth.pk, registered.client_id)
    updates = AuditEvent.objects.filter(resource_type="Asset", resource_id=str(growth.pk), action="update")
    event = updates.last()
    assert event is not None
    assert event.detail["clients"] == [registered.client_id]
    page = client.get(f"/assets/{growth.pk}/").content.decode()
    assert f"Growth charts (<code>{registered.client_id}</code>)" in page
    assert registered.client_id in client.get(f"/assets/{growth.pk}/edit/").content.decode()

    taken = _post_edit(client, other, client_ids=[registered.client_id])
    assert taken.status_code == 400
    assert "already linked to asset Growth charts app" in taken.content.decode()
    unknown = _post_edit(client, other, client_ids=["not-a-client"])
    assert unknown.status_code == 400
    assert "Select a valid choice." in unknown.content.decode()
    assert list(AssetClient.objects.values_list("asset_id", flat=True)) == [growth.pk]

    # Unselecting every client unlinks them.
    assert _post_edit(client, growth).status_code == 302
    assert not AssetClient.objects.exists()
