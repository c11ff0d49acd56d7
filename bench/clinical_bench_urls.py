"""The product's URLconf plus /bench/direct-chart/<id>/: the same chart
queries as the gateway's `chart_read`, on unencrypted copies of the rows
(`bench_plain_*`, written by bench/clinical_chart.py), without the policy,
decryption or audit. Same middleware, same authentication, same permission
declaration and the same JSON renderer as the real chart API. Mounted only
by clinical_bench_settings."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward.identity.permissions import Perm
from safeward.urls import urlpatterns as product_urlpatterns

SECTIONS = (
    (
        "encounters",
        "SELECT e.*, d.name AS department_name, u.first_name, u.last_name FROM bench_plain_encounter e "
        "JOIN identity_department d ON d.id = e.department_id "
        "LEFT JOIN identity_user u ON u.id = e.attending_id "
        "WHERE e.patient_id = %s ORDER BY e.started_at DESC LIMIT 50",
    ),
    (
        "notes",
        "SELECT n.*, u.first_name, u.last_name FROM bench_plain_clinicalnote n "
        "LEFT JOIN identity_user u ON u.id = n.author_id "
        "WHERE n.patient_id = %s ORDER BY n.created_at DESC LIMIT 50",
    ),
    (
        "problems",
        "SELECT * FROM bench_plain_condition WHERE patient_id = %s "
        "ORDER BY clinical_status, recorded_at DESC",
    ),
    (
        "medications",
        "SELECT m.*, u.first_name, u.last_name FROM bench_plain_medicationrequest m "
        "LEFT JOIN identity_user u ON u.id = m.requester_id WHERE m.patient_id = %s "
        "ORDER BY m.status, m.authored_at DESC",
    ),
    (
        "allergies",
        "SELECT * FROM bench_plain_allergyintolerance WHERE patient_id = %s ORDER BY recorded_at DESC",
    ),
    (
        "results",
        "SELECT * FROM bench_plain_observation WHERE patient_id = %s ORDER BY effective_at DESC LIMIT 500",
    ),
    (
        "appointments",
        "SELECT a.*, d.name AS department_name FROM bench_plain_appointment a "
        "JOIN identity_department d ON d.id = a.department_id WHERE a.patient_id = %s "
        "ORDER BY a.starts_at DESC LIMIT 30",
    ),
    (
        "documents",
        "SELECT * FROM bench_plain_document WHERE patient_id = %s ORDER BY created_at DESC LIMIT 50",
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


urlpatterns = [
    path("bench/direct-chart/<uuid:patient_id>/", DirectChart.as_view()),
    *product_urlpatterns,
]
