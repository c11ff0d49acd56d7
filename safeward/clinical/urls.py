from django.urls import path

from safeward.clinical import views, views_ward

app_name = "clinical"

urlpatterns = [
    path("clinical/", views.search, name="search"),
    path("clinical/patients/new/", views.register, name="register"),
    path("clinical/patients/<uuid:patient_id>/", views.chart, name="chart"),
    path("clinical/patients/<uuid:patient_id>/print/", views.chart_print, name="chart_print"),
    path("clinical/patients/<uuid:patient_id>/notes/", views.note_add, name="note_add"),
    path("clinical/patients/<uuid:patient_id>/problems/", views.problem_add, name="problem_add"),
    path("clinical/patients/<uuid:patient_id>/allergies/", views.allergy_add, name="allergy_add"),
    path("clinical/patients/<uuid:patient_id>/vitals/", views.vitals_add, name="vitals_add"),
    path("clinical/patients/<uuid:patient_id>/medications/", views.medication_add, name="medication_add"),
    path(
        "clinical/patients/<uuid:patient_id>/documents/<uuid:document_id>/",
        views.document_download,
        name="document",
    ),
    path("clinical/patients/<uuid:patient_id>/documents/", views.document_upload, name="document_upload"),
    path("clinical/patients/<uuid:patient_id>/orders/", views.order_add, name="order_add"),
    path(
        "clinical/patients/<uuid:patient_id>/orders/<uuid:order_id>/result/",
        views.order_result,
        name="order_result",
    ),
    path("clinical/lab/", views.lab_worklist, name="lab_worklist"),
    path("clinical/patients/<uuid:patient_id>/encounters/", views.encounter_add, name="encounter_add"),
    path(
        "clinical/patients/<uuid:patient_id>/encounters/<uuid:encounter_id>/discharge/",
        views.encounter_discharge,
        name="encounter_discharge",
    ),
    path("clinical/patients/<uuid:patient_id>/restrictions/", views.restriction_add, name="restriction_add"),
    path(
        "clinical/patients/<uuid:patient_id>/restrictions/<uuid:restriction_id>/lift/",
        views.restriction_lift,
        name="restriction_lift",
    ),
    path("clinical/patients/<uuid:patient_id>/break-glass/", views.break_glass, name="break_glass"),
    path("clinical/break-glass/<uuid:grant_id>/end/", views.break_glass_end, name="break_glass_end"),
    path("clinical/break-glass/review/", views.review_queue, name="review_queue"),
    path("clinical/break-glass/review/<uuid:grant_id>/", views.review_decide, name="review_decide"),
    path("clinical/disclosures/find/", views.disclosure_lookup, name="disclosure_lookup"),
    path("clinical/schedule/", views.schedule, name="schedule"),
    path("clinical/schedule/book/", views.book, name="book"),
    path(
        "clinical/appointments/<uuid:appointment_id>/cancel/",
        views.appointment_cancel,
        name="appointment_cancel",
    ),
    path(
        "clinical/appointments/<uuid:appointment_id>/check-in/",
        views.appointment_check_in,
        name="appointment_check_in",
    ),
    # corrections and amendments (issue 12)
    path("clinical/patients/<uuid:patient_id>/edit/", views.patient_edit, name="patient_edit"),
    path(
        "clinical/patients/<uuid:patient_id>/notes/<uuid:note_id>/amend/", views.note_amend, name="note_amend"
    ),
    path(
        "clinical/patients/<uuid:patient_id>/medications/<uuid:medication_id>/discontinue/",
        views.medication_discontinue,
        name="medication_discontinue",
    ),
    path(
        "clinical/patients/<uuid:patient_id>/problems/<uuid:condition_id>/status/",
        views.problem_status,
        name="problem_status",
    ),
    path(
        "clinical/patients/<uuid:patient_id>/allergies/<uuid:allergy_id>/status/",
        views.allergy_status,
        name="allergy_status",
    ),
    path(
        "clinical/patients/<uuid:patient_id>/results/<uuid:observation_id>/correct/",
        views.result_correct,
        name="result_correct",
    ),
    path("clinical/patients/<uuid:patient_id>/amendments/", views.amendment_add, name="amendment_add"),
    path(
        "clinical/patients/<uuid:patient_id>/amendments/<uuid:request_id>/deny/",
        views.amendment_deny,
        name="amendment_deny",
    ),
    path(
        "clinical/patients/<uuid:patient_id>/amendments/<uuid:request_id>/disagreement/",
        views.amendment_disagreement,
        name="amendment_disagreement",
    ),
    # pharmacist verification
    path("clinical/pharmacy/", views.pharmacy_worklist, name="pharmacy_worklist"),
    path(
        "clinical/patients/<uuid:patient_id>/medications/<uuid:medication_id>/verify/",
        views.medication_verify,
        name="medication_verify",
    ),
    path("clinical/wards/", views_ward.wards, name="wards"),
    path("clinical/wards/<uuid:ward_id>/", views_ward.ward_census, name="ward_census"),
    path("clinical/wards/setup/", views_ward.ward_setup, name="ward_setup"),
    path("clinical/wards/setup/<uuid:ward_id>/", views_ward.ward_edit, name="ward_edit"),
    path("clinical/patients/<uuid:patient_id>/admission/", views_ward.admission, name="admission"),
    path(
        "clinical/patients/<uuid:patient_id>/admission/transfer/",
        views_ward.admission_transfer,
        name="admission_transfer",
    ),
    path(
        "clinical/results/notifications/<uuid:notification_id>/acknowledge/",
        views_ward.result_acknowledge,
        name="result_acknowledge",
    ),
]
