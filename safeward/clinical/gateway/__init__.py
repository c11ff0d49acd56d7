"""The one door to patient data.

Every read, search, create, update, export and print of protected health
information goes through a function of this package. Each takes keyword-only
`actor` (a `User`, or a `SystemActor` for the import), `session`
(`SessionContext`) and `purpose` (`PurposeOfUse`); asks
`safeward.clinical.policy.decide`; writes its audit event in the same
transaction; decrypts only the fields the decision's mask allows; and returns
plain dataclasses from `safeward.clinical.types` (never model instances).
Not allowed and not found raise the same `NotFound`.

This package is the only code that imports `safeward.clinical.models` or
calls `reveal` / `decrypt_field` (tests/architecture/test_one_door.py).
The API is documented in docs/clinical.md.
"""

from safeward.clinical.gateway._admission import (
    admission_admit,
    admission_clinicians,
    admission_current,
    admission_desk,
    admission_transfer,
    beds_free,
    ward_beds,
    ward_census,
    ward_create,
    ward_update,
    wards_list,
)
from safeward.clinical.gateway._amendments import (
    amendment_disagreement_attach,
    amendment_request_deny,
    amendment_request_record,
)
from safeward.clinical.gateway._banners import page_banners
from safeward.clinical.gateway._breach import (
    BreachRecipient,
    BreachResidence,
    breach_letter_recipients,
    breach_residence,
    breach_scope_identifiers,
    manifest_patient_identifiers,
)
from safeward.clinical.gateway._breakglass import (
    break_glass_end,
    break_glass_end_for_user,
    break_glass_review,
    break_glass_review_queue,
    break_glass_start,
)
from safeward.clinical.gateway._corrections import (
    allergy_set_status,
    condition_resolve,
    medication_discontinue,
    note_amend,
    result_correct,
)
from safeward.clinical.gateway._discovery import discovery_match
from safeward.clinical.gateway._downtime import KIT_ACTOR as KIT_ACTOR  # the kit writer's actor name
from safeward.clinical.gateway._downtime import DowntimeKitData, KitPatient, downtime_kit
from safeward.clinical.gateway._import import patient_import
from safeward.clinical.gateway._late_entries import (
    PaperDose,
    PaperVital,
    paper_entry_chart,
    paper_mar_chart,
    paper_mar_verify,
    paper_vitals_chart,
)
from safeward.clinical.gateway._orders import lab_worklist, order_result
from safeward.clinical.gateway._patients import (
    chart_export,
    chart_print,
    chart_read,
    patient_labels,
    patient_read,
    patient_register,
    patient_search,
    patient_update,
)
from safeward.clinical.gateway._pharmacy import medication_orders_to_verify, medication_verify
from safeward.clinical.gateway._restrictions import (
    restriction_create,
    restriction_lift,
    restriction_list,
    staff_choices,
)
from safeward.clinical.gateway._scheduling import (
    appointment_book,
    appointment_cancel,
    appointment_check_in,
    clinicians_list,
    departments_list,
    schedule_day,
    slots_create,
)
from safeward.clinical.gateway._visitors import visitor_patient_lookup, visitor_patient_visit
from safeward.clinical.gateway._worklists import (
    arrivals_today,
    physician_worklist,
    result_notification_acknowledge,
)
from safeward.clinical.gateway._writes import (
    allergy_create,
    care_team_add,
    condition_create,
    document_open,
    document_upload,
    encounter_finish,
    encounter_start,
    medication_request_create,
    note_create,
    observation_record,
    order_create,
)
from safeward.clinical.gateway.detection import (
    AccessFacts,
    AccessQuery,
    StaffKeys,
    detection_access_facts,
    detection_patients_known,
)
from safeward.clinical.types import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    SessionContext,
    SystemActor,
    VisitorPatient,
)

__all__ = [
    "AccessFacts",
    "AccessQuery",
    "BreachRecipient",
    "BreachResidence",
    "Conflict",
    "DowntimeKitData",
    "Forbidden",
    "InvalidInput",
    "KitPatient",
    "NotFound",
    "PaperDose",
    "PaperVital",
    "SessionContext",
    "StaffKeys",
    "SystemActor",
    "VisitorPatient",
    "admission_admit",
    "admission_clinicians",
    "admission_current",
    "admission_desk",
    "admission_transfer",
    "allergy_create",
    "allergy_set_status",
    "amendment_disagreement_attach",
    "amendment_request_deny",
    "amendment_request_record",
    "appointment_book",
    "appointment_cancel",
    "appointment_check_in",
    "arrivals_today",
    "beds_free",
    "breach_letter_recipients",
    "breach_residence",
    "breach_scope_identifiers",
    "break_glass_end",
    "break_glass_end_for_user",
    "break_glass_review",
    "break_glass_review_queue",
    "break_glass_start",
    "care_team_add",
    "chart_export",
    "chart_print",
    "chart_read",
    "clinicians_list",
    "condition_create",
    "condition_resolve",
    "departments_list",
    "detection_access_facts",
    "detection_patients_known",
    "discovery_match",
    "document_open",
    "document_upload",
    "downtime_kit",
    "encounter_finish",
    "encounter_start",
    "lab_worklist",
    "manifest_patient_identifiers",
    "medication_discontinue",
    "medication_orders_to_verify",
    "medication_request_create",
    "medication_verify",
    "note_amend",
    "note_create",
    "observation_record",
    "order_create",
    "order_result",
    "page_banners",
    "paper_entry_chart",
    "paper_mar_chart",
    "paper_mar_verify",
    "paper_vitals_chart",
    "patient_import",
    "patient_labels",
    "patient_read",
    "patient_register",
    "patient_search",
    "patient_update",
    "physician_worklist",
    "restriction_create",
    "restriction_lift",
    "restriction_list",
    "result_correct",
    "result_notification_acknowledge",
    "schedule_day",
    "slots_create",
    "staff_choices",
    "visitor_patient_lookup",
    "visitor_patient_visit",
    "ward_beds",
    "ward_census",
    "ward_create",
    "ward_update",
    "wards_list",
]
