"""The clinical REST API's routes, mounted at /api/v1/clinical/ (opaque ids only)."""

from django.urls import path

from safeward.clinical import api

app_name = "clinical_api"

urlpatterns = [
    path("patients/", api.PatientCollection.as_view(), name="patients"),
    path("patients/search/", api.PatientSearch.as_view(), name="patient_search"),
    path("patients/<uuid:patient_id>/", api.PatientDetail.as_view(), name="patient"),
    path("patients/<uuid:patient_id>/chart/", api.ChartDetail.as_view(), name="chart"),
    path("patients/<uuid:patient_id>/notes/", api.NoteCreate.as_view(), name="note_create"),
    path("patients/<uuid:patient_id>/conditions/", api.ConditionCreate.as_view(), name="condition_create"),
    path("patients/<uuid:patient_id>/allergies/", api.AllergyCreate.as_view(), name="allergy_create"),
    path(
        "patients/<uuid:patient_id>/allergies/<uuid:allergy_id>/status/",
        api.AllergyStatusUpdate.as_view(),
        name="allergy_status",
    ),
    path(
        "patients/<uuid:patient_id>/amendment-requests/",
        api.AmendmentRequestCreate.as_view(),
        name="amendment_request_create",
    ),
    path(
        "patients/<uuid:patient_id>/amendment-requests/<uuid:request_id>/deny/",
        api.AmendmentRequestDeny.as_view(),
        name="amendment_request_deny",
    ),
    path(
        "patients/<uuid:patient_id>/amendment-requests/<uuid:request_id>/disagreement/",
        api.AmendmentDisagreement.as_view(),
        name="amendment_disagreement",
    ),
    path(
        "medication-orders/to-verify/", api.MedicationOrdersToVerify.as_view(), name="medications_to_verify"
    ),
    path(
        "patients/<uuid:patient_id>/medications/<uuid:medication_id>/verify/",
        api.MedicationVerify.as_view(),
        name="medication_verify",
    ),
    path("schedule/", api.ScheduleDay.as_view(), name="schedule"),
    path("appointments/", api.AppointmentBook.as_view(), name="appointment_book"),
    path(
        "appointments/<uuid:appointment_id>/cancel/",
        api.AppointmentCancel.as_view(),
        name="appointment_cancel",
    ),
    path(
        "appointments/<uuid:appointment_id>/check-in/",
        api.AppointmentCheckIn.as_view(),
        name="appointment_check_in",
    ),
]
