"""The relationship facts the policy decides on, read in one statement for
any number of patients (gateway `_core.facts_for`), and the chart endpoint's
query count, bounded whatever the chart holds (no N+1)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.gateway._core import PatientFacts, facts_for
from safeward.clinical.models import (
    Appointment,
    BreakGlassGrant,
    CareTeamMembership,
    Encounter,
    PatientRestriction,
    Slot,
)
from safeward.clinical.policy import Relationship
from safeward.identity.models import Department, StaffProfile
from tests.clinical.chart_items import patient_with_items
from tests.clinical.conftest import IMPORTER, WARD, new_patient, relate
from tests.conftest import sign_in
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rows_straight_to_the_tables():
    """These tests build relationship rows and call the facts statement
    (`_core.facts_for`, inside the gateway) directly."""
    with clinical_test_data():
        yield


def _facts(actor, *patients: str) -> dict[uuid.UUID, PatientFacts]:
    return facts_for(actor, [uuid.UUID(p) for p in patients])


def _one(actor, patient: str) -> PatientFacts:
    return _facts(actor, patient)[uuid.UUID(patient)]


@pytest.fixture
def ward():
    department, _ = Department.objects.get_or_create(code="ward-a", defaults={"name": "Ward A"})
    return department


@pytest.mark.parametrize("relationship", ["care_team", "attending", "department", "appointment_today"])
def test_each_relationship_is_found(make_user, relationship):
    user = make_user("physician")
    patient, other = new_patient(), new_patient(mrn="OTHER-1")
    relate(user, patient, relationship)
    facts = _facts(user, patient, other)
    assert facts[uuid.UUID(patient)].relationships == {Relationship(relationship)}
    assert facts[uuid.UUID(other)] == PatientFacts(set())


def test_many_patients_cost_one_query(make_user, django_assert_num_queries):
    user = make_user("physician")
    patients = [new_patient(mrn=f"MANY-{n}") for n in range(12)]
    for patient, relationship in zip(patients, ["care_team", "attending", "department"] * 4, strict=True):
        relate(user, patient, relationship)
    with django_assert_num_queries(1):
        facts = _facts(user, *patients)
    assert all(f.relationships for f in facts.values())
    assert facts_for(user, []) == {}


def test_the_facts_statement_is_one_text_for_any_number_of_patients(make_user, django_assert_num_queries):
    """The patients are one array parameter: the statement's text (built once,
    parsed once by the driver) and its parameter count are the same for 2
    patients as for 150, and the answers are still each patient's."""
    from safeward.clinical.gateway._relationships import relationship_statement

    user = make_user("physician")
    related = new_patient(mrn="ARRAY-0")
    relate(user, related, "care_team")
    unrelated = new_patient(mrn="ARRAY-1")
    unknown = [str(uuid.uuid4()) for _ in range(148)]  # ids of no patient: asked, never found
    now = clock.now()
    statements = [
        relationship_statement([user.pk], [uuid.UUID(p) for p in ids], now, now)
        for ids in ([related, unrelated], [related, *unknown, unrelated])
    ]
    (small_sql, small_params), (large_sql, large_params) = statements
    assert small_sql == large_sql
    assert len(small_params) == len(large_params)
    with django_assert_num_queries(1):
        facts = _facts(user, related, *unknown, unrelated)
    assert facts[uuid.UUID(related)].relationships == {Relationship.CARE_TEAM}
    assert [pid for pid, f in facts.items() if f.relationships] == [uuid.UUID(related)]


def test_ended_or_future_care_team_membership_does_not_count(make_user):
    user = make_user("nurse")
    patient = new_patient()
    now = clock.now()
    CareTeamMembership.objects.create(
        patient_id=patient, user=user, role="nurse", starts_at=now - dt.timedelta(days=9), ends_at=now
    )
    CareTeamMembership.objects.create(
        patient_id=patient, user=user, role="nurse", starts_at=now + dt.timedelta(hours=1)
    )
    assert _one(user, patient).relationships == set()


def test_attending_keeps_the_relationship_for_two_weeks_after_discharge(make_user, ward):
    user = make_user("physician")
    recent, old = new_patient(), new_patient(mrn="OLD-1")
    now = clock.now()
    for patient, ended in ((recent, now - dt.timedelta(days=13)), (old, now - dt.timedelta(days=15))):
        Encounter.objects.create(
            patient_id=patient,
            kind="inpatient",
            department=ward,
            attending=user,
            status="finished",
            started_at=ended - dt.timedelta(days=3),
            ended_at=ended,
        )
    facts = _facts(user, recent, old)
    assert facts[uuid.UUID(recent)].relationships == {Relationship.ATTENDING}
    assert facts[uuid.UUID(old)].relationships == set()


def test_department_needs_an_active_encounter_in_the_users_department(make_user, ward):
    user = make_user("nurse")
    StaffProfile.objects.update_or_create(user=user, defaults={"department": ward})
    elsewhere = Department.objects.create(code="ward-b", name="Ward B")
    finished, other_ward, active = new_patient(), new_patient(mrn="B-1"), new_patient(mrn="C-1")
    now = clock.now()
    Encounter.objects.create(
        patient_id=finished,
        kind="emergency",
        department=ward,
        status="finished",
        started_at=now,
        ended_at=now,
    )
    Encounter.objects.create(
        patient_id=other_ward, kind="emergency", department=elsewhere, status="arrived", started_at=now
    )
    Encounter.objects.create(
        patient_id=active, kind="emergency", department=ward, status="in_progress", started_at=now
    )
    facts = _facts(user, finished, other_ward, active)
    assert facts[uuid.UUID(finished)].relationships == set()
    assert facts[uuid.UUID(other_ward)].relationships == set()
    assert facts[uuid.UUID(active)].relationships == {Relationship.DEPARTMENT}


def test_a_cancelled_or_other_day_appointment_does_not_count(make_user, ward):
    user = make_user("physician")
    cancelled, tomorrow = new_patient(), new_patient(mrn="TMRW-1")
    now = clock.now()
    for patient, starts, status in (
        (cancelled, now, Appointment.Status.CANCELLED),
        (tomorrow, now + dt.timedelta(days=1), Appointment.Status.BOOKED),
    ):
        slot = Slot.objects.create(
            department=ward, clinician=user, starts_at=starts, ends_at=starts + dt.timedelta(minutes=20)
        )
        Appointment.objects.create(
            patient_id=patient,
            slot=slot,
            department=ward,
            clinician=user,
            starts_at=starts,
            ends_at=slot.ends_at,
            booked_at=now,
            status=status,
        )
    facts = _facts(user, cancelled, tomorrow)
    assert all(f.relationships == set() for f in facts.values())


def test_restrictions_and_break_glass_grants(make_user, ward):
    user, colleague = make_user("physician"), make_user("physician")
    StaffProfile.objects.update_or_create(user=colleague, defaults={"department": ward})
    patient = new_patient()
    now = clock.now()
    PatientRestriction.objects.create(patient_id=patient, kind="exclude_user", user=user, starts_at=now)
    PatientRestriction.objects.create(
        patient_id=patient, kind="exclude_department", department=ward, starts_at=now
    )
    grant = BreakGlassGrant.objects.create(
        user=user,
        patient_id=patient,
        reason_kind="emergency_care",
        justification="Unconscious in the emergency department.",
        started_at=now,
        expires_at=now + dt.timedelta(hours=1),
    )
    BreakGlassGrant.objects.create(  # expired: ignored
        user=user,
        patient_id=patient,
        reason_kind="emergency_care",
        justification="Earlier.",
        started_at=now - dt.timedelta(hours=3),
        expires_at=now - dt.timedelta(hours=2),
    )
    mine = _one(user, patient)
    assert mine.excluded
    assert not mine.payer_restricted
    assert mine.grant_id == str(grant.pk)
    theirs = _one(colleague, patient)  # excluded through the department
    assert theirs.excluded
    assert theirs.grant_id is None
    outsider = _one(make_user("physician"), patient)
    assert not outsider.excluded


def test_an_ended_restriction_and_the_payer_restriction(make_user):
    user = make_user("billing_clerk")
    patient = new_patient()
    now = clock.now()
    PatientRestriction.objects.create(
        patient_id=patient,
        kind="exclude_user",
        user=user,
        starts_at=now - dt.timedelta(days=2),
        ends_at=now - dt.timedelta(days=1),
    )
    PatientRestriction.objects.create(patient_id=patient, kind="no_payer", starts_at=now)
    facts = _one(user, patient)
    assert not facts.excluded
    assert facts.payer_restricted
    # A system actor has no relationships; the payer restriction still shows.
    system = _one(IMPORTER, patient)
    assert system == PatientFacts(set(), payer_restricted=True)


# --- the chart endpoint's query count -------------------------------------------------------------
# Session, user, user session, workforce state, roles, the policy
# acknowledgement gate (issue 18, ADR 0930), patient, facts, the nine chart
# sections, immunizations, procedures, reports and their result links, the
# corrections and the amendment requests (issue 12), and the audit insert: 24
# when every section holds rows, plus the probe of which sections hold any
# (ADR 1630: a section without rows then costs no query; this chart has no
# appointments, documents, corrections or amendment requests),
# plus the savepoint pair of the chart's transaction inside the test's; and the
# response's export manifest (ADR 0811: its insert, its audit event and the
# link between them): 3, in the chart's own transaction, without a savepoint
# or a transaction of its own (ADR 1631); the vendor credential check costs
# a non-vendor account nothing (ADR 1210: a flag on the account row). Fixed: it must
# not grow with the rows on the chart (one more query per row or per author fails).
CHART_QUERY_BOUND = 29


def _fill_chart(patient: str, authors: list, rows: int) -> None:
    for n in range(rows):
        common = {
            "actor": authors[n % len(authors)],
            "session": WARD,
            "purpose": PurposeOfUse.TREATMENT,
            "patient_id": patient,
        }
        gateway.note_create(**common, title=f"Day {n}", text="Stable.")
        gateway.condition_create(**common, code="I10", display="Essential hypertension")
        gateway.allergy_create(**common, substance=f"Substance {n}")
        gateway.medication_request_create(**common, medication="Amlodipine 5 mg", dosage="once daily")
        gateway.observation_record(
            **common, category="vital-signs", code="8867-4", display="Heart rate", value="72", unit="/min"
        )
        gateway.order_create(**common, code="2345-7", display="Glucose")


@pytest.mark.parametrize("rows", [1, 6])
def test_the_chart_query_count_does_not_grow_with_the_chart(
    make_user, client, rows, django_assert_max_num_queries
):
    authors = [make_user("physician") for _ in range(3)]
    doctor = authors[0]
    patient = patient_with_items(rows)
    for author in authors:
        relate(author, patient, "care_team")
    relate(doctor, patient, "attending")
    _fill_chart(patient, authors, rows)
    sign_in(client, doctor)
    client.get(f"/api/v1/clinical/patients/{patient}/chart/")  # warm: MFA flag in the session
    before = AuditEvent.objects.filter(resource_type="Chart").count()
    with django_assert_max_num_queries(CHART_QUERY_BOUND):
        body = client.get(f"/api/v1/clinical/patients/{patient}/chart/").json()
    assert len(body["notes"]) == rows
    assert len(body["immunizations"]) == len(body["procedures"]) == len(body["reports"]) == rows
    assert all(len(report["result_ids"]) == 2 for report in body["reports"])
    assert len(body["care_team"]) == 3
    assert {n["author"] for n in body["notes"]} <= {a.get_full_name() for a in authors}
    assert AuditEvent.objects.filter(resource_type="Chart").count() == before + 1


def test_a_chart_section_without_rows_costs_no_query_of_its_own(make_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    doctor = make_user("physician")
    patient = new_patient()
    relate(doctor, patient, "care_team")
    gateway.note_create(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        title="Day 1",
        text=".",
    )
    with CaptureQueriesContext(connection) as queries:
        chart = gateway.chart_read(
            actor=doctor, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient
        )
    assert len(chart.notes or []) == 1
    assert chart.medications == chart.results == chart.appointments == chart.reports == []
    assert chart.corrections == []
    # A statement prepared on the server (the sections, ADR 1632) is logged as `QUERY = '...'`.
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().removeprefix("QUERY = ").lstrip("'\"").upper().startswith("SELECT")
    ]
    (probe,) = [sql for sql in reads if "EXISTS (SELECT 1 FROM" in sql]
    for table in (
        "clinical_medicationrequest",
        "clinical_observation",
        "clinical_appointment",
        "clinical_document",
    ):
        assert table in probe
        # Only the probe names the empty section's table.
        assert [sql for sql in reads if f'"{table}"' in sql] == []
    assert any('"clinical_clinicalnote"' in sql for sql in reads)  # the note's section is read


def test_a_search_page_costs_the_same_queries_for_one_or_many_patients(
    make_user, django_assert_max_num_queries
):
    clerk = make_user("registration_clerk")
    for n in range(15):
        new_patient(family="Pageworth", mrn=f"PAGE-{n}")
    # Roles, workforce state, the policy acknowledgement gate (ADR 0930),
    # candidates, facts, audit insert, its patient index (one bulk insert,
    # ADR 0208) (+ savepoints).
    with django_assert_max_num_queries(9):
        page = gateway.patient_search(
            actor=clerk,
            session=WARD,
            purpose=PurposeOfUse.OPERATIONS,
            name="Pagew",
            birth_date=dt.date(1980, 2, 3),  # a name alone finds only the clerk's own patients
        )
    assert len(page.results) == 15


def test_the_facts_statement_is_prepared_on_the_server_on_postgresql(make_user):
    """The facts statement runs on every list and chart: PostgreSQL parses and
    plans it once per connection, then only binds it (ADR 0591)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("server-side prepared statements are PostgreSQL's")
    user = make_user("physician")
    patient = new_patient(mrn="PREPARED-0")
    relate(user, patient, "care_team")
    for _ in range(2):
        assert _one(user, patient).relationships == {Relationship.CARE_TEAM}
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cursor.fetchall()]
    assert [sql for sql in prepared if sql.startswith("WITH related_patients")], prepared


def test_the_time_zone_is_looked_up_once_whatever_the_number_of_patients(make_user, monkeypatch):
    """Each patient's relationships count local days; the zone is looked up
    once for the statement's rows, not once a patient (ADR 0591)."""
    from django.utils import timezone

    user = make_user("physician")
    patients = [new_patient(mrn=f"ZONE-{n}") for n in range(12)]
    for patient in patients:
        relate(user, patient, "care_team")
    lookups: list[int] = []
    real = timezone.get_current_timezone

    def counted():
        lookups.append(1)
        return real()

    monkeypatch.setattr(timezone, "get_current_timezone", counted)
    counts = []
    for ids in (patients[:2], patients):
        lookups.clear()
        facts = _facts(user, *ids)
        assert all(f.relationships == {Relationship.CARE_TEAM} for f in facts.values())
        counts.append(len(lookups))
    assert counts[0] == counts[1], counts


def test_the_ended_day_indexes_are_computed_once_per_span_and_key_set(monkeypatch):
    """The keyed indexes of the fifteen end days a relationship may count are
    the same for every list of a day: computed once, and again for another
    key set (a blind-index rotation adds a key)."""
    import os

    from safeward.clinical.gateway import _relationships
    from safeward.crypto.fields import BlindIndexField, blind_index_keys, blind_indexes
    from safeward.crypto.keyring import LoadedKey

    _relationships._DAY_INDEXES.clear()
    now = clock.now()
    computed: list[int] = []
    real = BlindIndexField.compute

    def counted(self, value, *, key=None):
        computed.append(1)
        return real(self, value, key=key)

    monkeypatch.setattr(BlindIndexField, "compute", counted)
    first = _relationships.ended_day_indexes(now, now)
    assert first is not None
    assert len(computed) == len(first) == 15
    assert first[0] in blind_indexes(Encounter, "ended_day_index", _relationships._local_day(now))
    computed.clear()
    assert _relationships.ended_day_indexes(now, now) == first
    assert computed == []
    primary = blind_index_keys()[0]
    rotating = LoadedKey(
        purpose=primary.purpose, version=2, key_id=primary.key_id ^ 1, material=os.urandom(32)
    )
    monkeypatch.setattr(_relationships, "blind_index_keys", lambda: [primary, rotating])
    both = _relationships.ended_day_indexes(now, now)
    assert both is not None
    assert len(both) == 30
    assert set(first) < set(both)


def test_only_patients_with_a_grant_or_a_restriction_send_a_row_of_their_own(make_user):
    """A list's patients without a break-glass grant or a restriction (nearly
    all of them) come back as no row of their own, only their relationships:
    the facts are the same as if every patient had sent one."""
    from safeward.clinical.gateway._core import facts_statement
    from safeward.prepared import prepared_cursor

    user = make_user("physician")
    plain_ones = [new_patient(mrn=f"PLAIN-{n}") for n in range(5)]
    restricted = new_patient(mrn="RESTRICTED-1")
    relate(user, plain_ones[0], "care_team")
    PatientRestriction.objects.create(patient_id=restricted, kind="no_payer", starts_at=clock.now())
    ids = [uuid.UUID(p) for p in [*plain_ones, restricted]]
    with prepared_cursor() as cursor:
        cursor.execute(*facts_statement(user, ids, clock.now()))
        kinds = [row[0] for row in cursor.fetchall()]
    assert kinds.count("p") == 1
    facts = facts_for(user, ids)
    assert facts[uuid.UUID(restricted)] == PatientFacts(set(), payer_restricted=True)
    assert facts[uuid.UUID(plain_ones[0])] == PatientFacts({Relationship.CARE_TEAM})
    assert all(facts[uuid.UUID(p)] == PatientFacts(set()) for p in plain_ones[1:])


def test_the_census_decrypts_each_encounter_start_once(make_user, decryptions):
    """The facts decrypt an encounter's start to relate the reader, and the
    census row shows it: one decryption for both (`opened_once`)."""
    nurse = make_user("nurse")
    department, _ = Department.objects.get_or_create(code="ward-census", defaults={"name": "Census"})
    StaffProfile.objects.update_or_create(user=nurse, defaults={"department": department})
    ward = gateway.ward_create(
        actor=IMPORTER, department_id=department.pk, code="C1", name="C1", beds=["1", "2"]
    )
    beds = gateway.beds_free()
    for n, bed in enumerate(b for b in beds if b.ward_id == ward.id):
        gateway.admission_admit(
            actor=IMPORTER,
            session=WARD,
            purpose=PurposeOfUse.OPERATIONS,
            patient_id=new_patient(mrn=f"CENSUS-{n}"),
            bed_id=bed.id,
            attending_id=make_user("physician").pk,
        )
    decryptions.clear()
    started = Encounter._meta.get_field("started_at")
    census = gateway.ward_census(actor=nurse, session=WARD, purpose=PurposeOfUse.TREATMENT, ward_id=ward.id)
    shown = [bed.occupant for bed in census.beds if bed.occupant is not None]
    assert len(shown) == 2
    assert all(o.admitted_at is not None for o in shown)
    starts = [ad for _, ad in decryptions if ad.startswith(started._ad_prefix)]
    assert len(starts) == 2, "each admitted encounter's start is decrypted once"


def test_a_one_patient_chart_runs_the_facts_statement_on_one_generic_plan(make_user):
    """PostgreSQL kept planning the facts statement for one patient afresh on
    every execution (its custom plans looked cheaper than the generic one):
    0.8 ms of planning for 0.2 ms of work a chart. SafeWard's connections keep
    one generic plan for their prepared statements (ADR 1634)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("server-side plans are PostgreSQL's")
    user = make_user("physician")
    patient = uuid.UUID(new_patient(mrn="ONE-PLAN-1"))
    relate(user, str(patient), "care_team")
    for _ in range(8):  # past the five custom plans `auto` would try first
        assert facts_for(user, [patient])[patient] == PatientFacts({Relationship.CARE_TEAM})
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("force_generic_plan",)
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%related_patients%"],
        )
        plans = cursor.fetchall()
    assert plans, "the facts statement is prepared"
    assert all(custom == 0 and generic >= 8 for generic, custom in plans)
