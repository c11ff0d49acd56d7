"""The product's URLconf plus two direct chart paths on unencrypted copies
of the rows (`bench_plain_*`, written by bench/clinical_chart.py), without
the policy, relationship facts, decryption or audit. Same middleware, same
authentication, same permission declaration and the same JSON renderer as
the real chart API. Mounted only by clinical_bench_settings.

* /bench/direct-chart/<id>/: the chart's queries as raw SQL, rows returned
  as dicts (the original baseline);
* /bench/direct-orm-chart/<id>/: the same query layer as the gateway: the
  gateway's chart querysets (same filters, select_related, orderings and
  limits) through the Django ORM on unmanaged models over the plain tables
  (bench_plain/models.py), the product's view dataclasses and the product's
  output serializer (`chart_data`: `ChartOutput`'s fields, built once),
  after the gateway's probe of which sections hold rows (ADR 1630: an empty
  section costs no query on either path).
  What differs from the gateway is exactly the security cost: policy,
  relationship facts, decryption, audit and the export manifest (and the
  transaction the audit event and the manifest share with the read)."""

from __future__ import annotations

import json
from typing import Any

from bench_plain.models import PLAIN
from django.db import connection
from django.db.models import Q, QuerySet
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward import clock
from safeward.clinical.api import chart_data
from safeward.clinical.policy import Section
from safeward.clinical.types import (
    AllergyView,
    AppointmentView,
    CareTeamView,
    Chart,
    ConditionView,
    DocumentView,
    EncounterView,
    MedicationView,
    NoteView,
    ObservationView,
    PatientView,
)
from safeward.identity.permissions import Perm
from safeward.urls import urlpatterns as product_urlpatterns

SECTIONS = (
    (
        "encounters",
        "SELECT e.*, d.name AS department_name, u.first_name, u.last_name FROM bench_plain_encounter e "
        "JOIN identity_department d ON d.id = e.department_id "
        "LEFT JOIN identity_user u ON u.id = e.attending_id "
        "WHERE e.patient_id = %s ORDER BY e.started_at DESC, e.id DESC LIMIT 50",
    ),
    (
        "notes",
        "SELECT n.*, u.first_name, u.last_name FROM bench_plain_clinicalnote n "
        "LEFT JOIN identity_user u ON u.id = n.author_id "
        "WHERE n.patient_id = %s ORDER BY n.created_at DESC, n.id DESC LIMIT 50",
    ),
    (
        "problems",
        "SELECT * FROM bench_plain_condition WHERE patient_id = %s "
        "ORDER BY clinical_status, recorded_at DESC, id DESC",
    ),
    (
        "medications",
        "SELECT m.*, u.first_name, u.last_name FROM bench_plain_medicationrequest m "
        "LEFT JOIN identity_user u ON u.id = m.requester_id WHERE m.patient_id = %s "
        "ORDER BY m.status, m.authored_at DESC, m.id DESC",
    ),
    (
        "allergies",
        "SELECT * FROM bench_plain_allergyintolerance WHERE patient_id = %s "
        "ORDER BY recorded_at DESC, id DESC",
    ),
    (
        "results",
        "SELECT * FROM bench_plain_observation WHERE patient_id = %s "
        "ORDER BY effective_at DESC, id DESC LIMIT 500",
    ),
    (
        "appointments",
        "SELECT a.*, d.name AS department_name FROM bench_plain_appointment a "
        "JOIN identity_department d ON d.id = a.department_id WHERE a.patient_id = %s "
        "ORDER BY a.starts_at DESC, a.id DESC LIMIT 30",
    ),
    (
        "documents",
        "SELECT * FROM bench_plain_document WHERE patient_id = %s ORDER BY created_at DESC, id DESC LIMIT 50",
    ),
    (
        "care_team",
        "SELECT c.*, u.first_name, u.last_name FROM bench_plain_careteammembership c "
        "JOIN identity_user u ON u.id = c.user_id WHERE c.patient_id = %s",
    ),
)


def _rows(sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class DirectChart(APIView):
    required_permission = Perm.CLINICAL_PATIENT_READ

    def get(self, request: Request, patient_id: str) -> Response:
        patient = _rows("SELECT * FROM bench_plain_patient WHERE id = %s", [patient_id])
        if not patient:
            return Response({"detail": "Not found."}, status=404)
        chart: dict[str, Any] = {"patient": patient[0]}
        for name, sql in SECTIONS:
            chart[name] = _rows(sql, [patient_id])
        return Response(chart)


# --- the same query layer as the gateway ---------------------------------------------------------
# Mirrors safeward/clinical/gateway/_patients.py `_build_chart` (querysets,
# limits) and its view functions, reading the plain columns instead of
# decrypting. Keep the two in step.
LIMITS = {"encounters": 50, "notes": 50, "observations": 500, "appointments": 30, "documents": 50}
USER_LABEL = ("first_name", "last_name", "username")


def _with_labels(query: QuerySet[Any], *relations: str) -> QuerySet[Any]:
    """As the gateway's `_with_labels`: select_related reading only the labels
    of the people and the names of the departments joined."""
    own = [f.name for f in query.model._meta.concrete_fields]
    related = [
        f"{relation}__{column}"
        for relation in relations
        for column in (("name",) if relation == "department" else USER_LABEL)
    ]
    return query.select_related(*relations).only(*own, *related)


def _label(user: Any) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.get_username())


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _patient_view(p: Any) -> PatientView:
    flags = tuple(
        n
        for n, on in (("vip", p.is_vip), ("employee", p.is_employee), ("confidential", p.is_confidential))
        if on
    )
    return PatientView(
        id=str(p.pk),
        sections=frozenset({Section.DEMOGRAPHICS, Section.CONTACT, Section.NATIONAL_ID, Section.INSURANCE}),
        mrn=p.mrn,
        given_name=p.given_name,
        family_name=p.family_name,
        birth_date=p.birth_date,
        sex=p.sex,
        gender_identity=p.gender_identity,
        deceased=p.deceased,
        deceased_date=p.deceased_date,
        flags=flags,
        address=_json(p.address),
        phone=p.phone,
        email=p.email,
        national_id=p.national_id,
        insurance=_json(p.insurance),
    )


def _observation(o: Any) -> ObservationView:
    return ObservationView(
        id=str(o.pk),
        category=o.category,
        status=o.status,
        code=o.code,
        display=o.display,
        value=o.value,
        unit=o.unit,
        effective_at=o.effective_at,
        sensitivity=o.sensitivity,
    )


# The tables the gateway probes for the sections the bench reads (ADR 1630):
# every plain copy but the patient's own.
PROBED = tuple(name for name in PLAIN if name != "Patient")
_PROBE = "EXISTS (SELECT 1 FROM {} WHERE patient_id = %s)"
PROBE_SQL = "SELECT " + ", ".join(_PROBE.format(PLAIN[name]._meta.db_table) for name in PROBED)


def _held(patient_id: Any) -> set[str]:
    """As the gateway's probe: which sections' tables hold a row of the
    patient, in one statement, so that an empty section costs no query."""
    with connection.cursor() as cursor:
        cursor.execute(PROBE_SQL, [patient_id] * len(PROBED))
        row = cursor.fetchone()
    return {name for name, held in zip(PROBED, row, strict=True) if held}


def _read(held: set[str], query: QuerySet[Any]) -> list[Any]:
    """The section's rows, or none without a query when the probe found none."""
    name = str(query.model._meta.object_name).removeprefix("Plain")
    return list(query) if name in held else []


def orm_chart(patient_id: Any) -> Chart | None:
    patient = PLAIN["Patient"].objects.filter(pk=patient_id).first()
    if patient is None:
        return None
    now = clock.now()
    held = _held(patient.pk)
    encounters = [
        EncounterView(
            id=str(e.pk),
            kind=e.kind,
            status=e.status,
            department=e.department.name,
            attending=_label(e.attending),
            started_at=e.started_at,
            ended_at=e.ended_at,
            reason=e.reason,
            sensitivity=e.sensitivity,
        )
        for e in _read(
            held,
            _with_labels(
                PLAIN["Encounter"].objects.filter(patient=patient), "department", "attending"
            ).order_by("-started_at", "-id")[: LIMITS["encounters"]],
        )
    ]
    notes = [
        NoteView(
            id=str(n.pk),
            kind=n.kind,
            title=n.title,
            text=n.text,
            author=_label(n.author),
            created_at=n.created_at,
            encounter_id=str(n.encounter_id) if n.encounter_id else None,
            sensitivity=n.sensitivity,
        )
        for n in _read(
            held,
            _with_labels(PLAIN["ClinicalNote"].objects.filter(patient=patient), "author").order_by(
                "-created_at", "-id"
            )[: LIMITS["notes"]],
        )
    ]
    problems = [
        ConditionView(
            id=str(c.pk),
            code_system=c.code_system,
            code=c.code,
            display=c.display,
            clinical_status=c.clinical_status,
            onset=c.onset,
            recorded_at=c.recorded_at,
            sensitivity=c.sensitivity,
        )
        for c in _read(
            held,
            PLAIN["Condition"]
            .objects.filter(patient=patient)
            .order_by("clinical_status", "-recorded_at", "-id"),
        )
    ]
    medications = [
        MedicationView(
            id=str(m.pk),
            medication=m.medication,
            rxnorm=m.rxnorm,
            dosage=m.dosage,
            status=m.status,
            authored_at=m.authored_at,
            requester=_label(m.requester),
            sensitivity=m.sensitivity,
        )
        for m in _read(
            held,
            _with_labels(PLAIN["MedicationRequest"].objects.filter(patient=patient), "requester").order_by(
                "status", "-authored_at", "-id"
            ),
        )
    ]
    allergies = [
        AllergyView(
            id=str(a.pk),
            substance=a.substance,
            reaction=a.reaction,
            criticality=a.criticality,
            clinical_status=a.clinical_status,
            recorded_at=a.recorded_at,
        )
        for a in _read(
            held,
            PLAIN["AllergyIntolerance"]
            .objects.filter(patient=patient)
            .order_by("clinical_status", "-recorded_at", "-id"),
        )
    ]
    observations = _read(
        held,
        PLAIN["Observation"]
        .objects.filter(patient=patient)
        .order_by("-effective_at", "-id")[: LIMITS["observations"]],
    )
    appointments = [
        AppointmentView(
            id=str(a.pk),
            patient_id=str(a.patient_id),
            patient=None,
            department=a.department.name,
            department_id=a.department_id,
            clinician=_label(a.clinician),
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            status=a.status,
            reason=a.reason,
            encounter_id=str(a.encounter_id) if a.encounter_id else None,
        )
        for a in _read(
            held,
            _with_labels(
                PLAIN["Appointment"].objects.filter(patient=patient), "department", "clinician"
            ).order_by("-starts_at", "-id")[: LIMITS["appointments"]],
        )
    ]
    care_team = [
        CareTeamView(id=str(m.pk), user_id=m.user_id, name=_label(m.user), role=m.role, ends_at=m.ends_at)
        for m in _read(
            held,
            _with_labels(
                PLAIN["CareTeamMembership"]
                .objects.filter(patient=patient, starts_at__lte=now)
                .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now)),
                "user",
            ).order_by("starts_at", "id"),
        )
    ]
    documents = [
        DocumentView(
            id=str(d.pk),
            title=d.title,
            content_type=d.content_type,
            size=d.size,
            created_at=d.created_at,
            sensitivity=d.sensitivity,
        )
        for d in _read(
            held,
            PLAIN["Document"]
            .objects.filter(patient=patient)
            .order_by("-created_at", "-id")[: LIMITS["documents"]],
        )
    ]
    return Chart(
        patient=_patient_view(patient),
        sections=frozenset(Section),
        emergency=False,
        encounters=encounters,
        notes=notes,
        problems=problems,
        medications=medications,
        allergies=allergies,
        orders=[_observation(o) for o in observations if o.status == "registered"],
        results=[_observation(o) for o in observations if o.status not in ("registered", "cancelled")],
        appointments=appointments,
        documents=documents,
        care_team=care_team,
    )


class DirectOrmChart(APIView):
    required_permission = Perm.CLINICAL_PATIENT_READ

    def get(self, request: Request, patient_id: str) -> Response:
        chart = orm_chart(patient_id)
        if chart is None:
            return Response({"detail": "No such record."}, status=404)
        return Response(chart_data(chart))


urlpatterns = [
    path("bench/direct-chart/<uuid:patient_id>/", DirectChart.as_view()),
    path("bench/direct-orm-chart/<uuid:patient_id>/", DirectOrmChart.as_view()),
    *product_urlpatterns,
]
