"""The HL7 FHIR R4 `AuditEvent` representation of an audit event (and the
vocabulary mapping, so an export needs no guessing; see docs/audit.md).

Codes: event type from DICOM (DCM, as IHE ATNA and FHIR use), subtype from
FHIR restful-interaction for record access, action C/R/U/D/E, outcome
0/4/8, purpose of use from HL7 v3 ActReason, agent network type 2 (IP)."""

from __future__ import annotations

from typing import Any

from safeward.audit.chain import format_time
from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import Action, Outcome

DCM = "http://dicom.nema.org/resources/ontology/DCM"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
SAFEWARD_ACTIONS = "urn:safeward:audit-action"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ROLE_SYSTEM = "urn:safeward:role"
OAUTH_CLIENT_SYSTEM = "urn:safeward:oauth-client"

# action -> (DICOM event type code, display, FHIR action code, restful subtype or None)
_RECORD = ("110110", "Patient Record")
_AUTH = ("110114", "User Authentication")
_ALERT = ("110113", "Security Alert")
_AUDIT_LOG = ("110101", "Audit Log Used")
_ROLES = ("110136", "Security Roles Changed")
_USER_ATTRS = ("110137", "User Security Attributes Changed")

ACTION_MAP: dict[Action, tuple[tuple[str, str], str, str | None]] = {
    Action.READ: (_RECORD, "R", "read"),
    Action.SEARCH: (("110112", "Query"), "E", "search-type"),
    Action.CREATE: (_RECORD, "C", "create"),
    Action.UPDATE: (_RECORD, "U", "update"),
    Action.DELETE: (_RECORD, "D", "delete"),
    Action.EXPORT: (("110106", "Export"), "R", None),
    Action.PRINT: (("110106", "Export"), "R", None),
    Action.DISCLOSE: (("110106", "Export"), "R", None),
    Action.EXECUTE: (("110100", "Application Activity"), "E", None),
    Action.LOGIN: (_AUTH, "E", None),
    Action.LOGOUT: (_AUTH, "E", None),
    Action.LOGIN_THROTTLED: (_AUTH, "E", None),
    Action.LOGIN_PENDING_MFA: (_AUTH, "E", None),
    Action.MFA_CHALLENGE: (_AUTH, "E", None),
    Action.MFA_ENROL: (_USER_ATTRS, "U", None),
    Action.MFA_REMOVE: (_USER_ATTRS, "U", None),
    Action.STEP_UP: (_AUTH, "E", None),
    Action.PASSWORD_CHANGE: (_USER_ATTRS, "U", None),
    Action.SESSION_TIMEOUT: (_AUTH, "E", None),
    Action.SESSION_END: (_AUTH, "E", None),
    Action.ACCOUNT_CREATE: (_USER_ATTRS, "C", None),
    Action.ACCOUNT_UPDATE: (_USER_ATTRS, "U", None),
    Action.ACCOUNT_LOCK: (_USER_ATTRS, "U", None),
    Action.ACCOUNT_UNLOCK: (_USER_ATTRS, "U", None),
    Action.ROLE_REQUEST: (_ROLES, "C", None),
    Action.ROLE_GRANT: (_ROLES, "U", None),
    Action.ROLE_APPROVE: (_ROLES, "U", None),
    Action.ROLE_REJECT: (_ROLES, "U", None),
    Action.ROLE_REVOKE: (_ROLES, "U", None),
    Action.ACCESS_DENIED: (_ALERT, "E", None),
    Action.BREAK_GLASS: (("110113", "Security Alert"), "E", None),
    Action.KEY_OPERATION: (_ALERT, "E", None),
    Action.CONFIG_CHANGE: (("110100", "Application Activity"), "U", None),
    Action.AUDIT_ARCHIVE: (_AUDIT_LOG, "E", None),
    Action.AUDIT_VERIFY: (_AUDIT_LOG, "E", None),
}
OUTCOME_MAP = {Outcome.SUCCESS: "0", Outcome.DENIED: "4", Outcome.ERROR: "8"}


def fhir_audit_event(event: AuditEvent) -> dict[str, Any]:
    action = Action(event.action)
    (type_code, type_display), fhir_action, restful = ACTION_MAP[action]
    subtype = [{"system": SAFEWARD_ACTIONS, "code": action.value}]
    if restful is not None:
        subtype.insert(0, {"system": RESTFUL, "code": restful})
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
        "who": {
            "identifier": {"system": "urn:safeward:user", "value": str(event.actor_id or "")}
            if event.actor_id is not None
            else {"system": "urn:safeward:username", "value": event.actor_username or "unknown"},
            "display": event.actor_username or "unknown",
        },
        "requestor": True,
    }
    roles = [code for code in event.actor_roles.split(",") if code]
    if roles:
        agent["role"] = [{"coding": [{"system": ROLE_SYSTEM, "code": code}]} for code in roles]
    if event.client_ip:
        agent["network"] = {"address": event.client_ip, "type": "2"}
    if event.session_id:
        agent["altId"] = event.session_id
    if event.purpose_of_use:
        agent["purposeOfUse"] = [{"coding": [{"system": ACT_REASON, "code": event.purpose_of_use}]}]
    agents = [agent]
    if event.client_id:
        # The application a bearer token was issued to: it received what the event discloses.
        agents.append(
            {
                "type": {"coding": [{"system": DCM, "code": "110150", "display": "Application"}]},
                "who": {
                    "identifier": {"system": OAUTH_CLIENT_SYSTEM, "value": event.client_id},
                    "display": event.client_name or event.client_id,
                },
                "requestor": False,
            }
        )
    resource: dict[str, Any] = {
        "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
        "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
        "detail": [{"type": "request-id", "valueString": event.request_id or "-"}],
    }
    if event.resource_type or event.resource_id:
        resource["what"] = {
            "type": event.resource_type or None,
            "identifier": {"value": f"{event.resource_type}/{event.resource_id}"},
        }
        resource["what"] = {key: value for key, value in resource["what"].items() if value}
    if event.fields:
        resource["detail"].append({"type": "fields", "valueString": ",".join(event.fields)})
    if event.reason:
        resource["detail"].append({"type": "reason", "valueString": event.reason})
    # The patient the event names, or every patient an event about several
    # disclosed (ADR 0208): one Patient entity each.
    disclosed = event.detail.get("patients") if isinstance(event.detail, dict) else None
    patient_ids = [event.patient_id] if event.patient_id else []
    if isinstance(disclosed, list):
        patient_ids += [str(pid) for pid in disclosed if str(pid) not in patient_ids]
    entities = [
        {
            "what": {"type": "Patient", "identifier": {"value": patient_id}},
            "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
        }
        for patient_id in patient_ids
    ]
    entities.append(resource)
    resource_out: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(event.pk),
        "type": {"system": DCM, "code": type_code, "display": type_display},
        "subtype": subtype,
        "action": fhir_action,
        "recorded": format_time(event.occurred_at),
        "outcome": OUTCOME_MAP[Outcome(event.outcome)],
        "agent": agents,
        "source": {
            "site": event.network_zone or "safeward",
            "observer": {"display": f"SafeWard {event.source or 'system'}"},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
        "entity": entities,
    }
    if event.outcome != Outcome.SUCCESS:
        resource_out["outcomeDesc"] = event.outcome
    if event.purpose_of_use:
        resource_out["purposeOfEvent"] = [{"coding": [{"system": ACT_REASON, "code": event.purpose_of_use}]}]
    return resource_out


def fhir_validate(resource: dict[str, Any]) -> None:
    """Raise if `resource` is not a valid FHIR R4 AuditEvent (fhir.resources R4B)."""
    from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent

    FhirAuditEvent.model_validate(resource)
