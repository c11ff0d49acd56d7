"""Every permission SafeWard knows, named `scope:resource:action` and sorted.
Roles are sets of these (see roles.py); code checks them with
`user.has_perm(Perm.X)` or the `requires` decorator, never by role name."""

from enum import StrEnum


class Perm(StrEnum):
    ASSESSMENT_CAMPAIGN_MANAGE = "assessment:campaign:manage"
    ASSESSMENT_CONTROL_RUN = "assessment:control:run"
    ASSESSMENT_EXCEPTION_APPROVE = "assessment:exception:approve"
    ASSESSMENT_RESULT_READ = "assessment:result:read"
    ASSESSMENT_RISK_MANAGE = "assessment:risk:manage"
    ASSETS_ASSET_MANAGE = "assets:asset:manage"
    ASSETS_ASSET_READ = "assets:asset:read"
    ASSETS_DISCOVERY_RUN = "assets:discovery:run"
    ASSETS_FINDING_READ = "assets:finding:read"
    ASSETS_FINDING_TRIAGE = "assets:finding:triage"
    ASSETS_MANIFEST_READ = "assets:manifest:read"
    AUDIT_DISCLOSURE_READ = "audit:disclosure:read"
    AUDIT_EVENT_READ = "audit:event:read"
    AUDIT_REPORT_EXPORT = "audit:report:export"
    AUDIT_REVIEW_READ = "audit:review:read"
    CLINICAL_ALLERGY_READ = "clinical:allergy:read"
    CLINICAL_AMENDMENT_DECIDE = "clinical:amendment:decide"
    CLINICAL_APPOINTMENT_MANAGE = "clinical:appointment:manage"
    CLINICAL_APPOINTMENT_READ = "clinical:appointment:read"
    CLINICAL_BREAKGLASS_REVIEW = "clinical:breakglass:review"
    CLINICAL_BREAKGLASS_USE = "clinical:breakglass:use"
    CLINICAL_CENSUS_READ = "clinical:census:read"
    CLINICAL_CHART_READ = "clinical:chart:read"
    CLINICAL_CHART_WRITE = "clinical:chart:write"
    CLINICAL_CODING_READ = "clinical:coding:read"
    CLINICAL_ENCOUNTER_DISCHARGE = "clinical:encounter:discharge"
    CLINICAL_INSURANCE_READ = "clinical:insurance:read"
    CLINICAL_MEDICATION_ADMINISTER = "clinical:medication:administer"
    CLINICAL_MEDICATION_DISPENSE = "clinical:medication:dispense"
    CLINICAL_MEDICATION_PRESCRIBE = "clinical:medication:prescribe"
    CLINICAL_MEDICATION_READ = "clinical:medication:read"
    CLINICAL_NOTE_READ = "clinical:note:read"
    CLINICAL_NOTE_WRITE = "clinical:note:write"
    CLINICAL_ORDER_READ = "clinical:order:read"
    CLINICAL_ORDER_WRITE = "clinical:order:write"
    CLINICAL_PATIENT_READ = "clinical:patient:read"
    CLINICAL_PATIENT_REGISTER = "clinical:patient:register"
    CLINICAL_RESULT_READ = "clinical:result:read"
    CLINICAL_RESULT_WRITE = "clinical:result:write"
    CONTINUITY_BACKUP_MANAGE = "continuity:backup:manage"
    CONTINUITY_DOWNTIME_DECLARE = "continuity:downtime:declare"
    CONTINUITY_KIT_READ = "continuity:kit:read"
    CONTINUITY_SCHEDULE_RUN = "continuity:schedule:run"
    CONTINUITY_STATUS_READ = "continuity:status:read"
    CRYPTO_KEY_MANAGE = "crypto:key:manage"
    CRYPTO_KEY_READ = "crypto:key:read"
    DETECTION_ACCESS_REVIEW = "detection:access:review"
    DETECTION_ALERT_CONTAIN = "detection:alert:contain"
    DETECTION_ALERT_READ = "detection:alert:read"
    DETECTION_ALERT_TRIAGE = "detection:alert:triage"
    DEVICES_DEVICE_MANAGE = "devices:device:manage"
    DEVICES_DEVICE_READ = "devices:device:read"
    DEVICES_NETWORK_MANAGE = "devices:network:manage"
    FACILITY_AREA_MANAGE = "facility:area:manage"
    FACILITY_AREA_READ = "facility:area:read"
    FACILITY_CUSTODY_MANAGE = "facility:custody:manage"
    FACILITY_CUSTODY_READ = "facility:custody:read"
    FACILITY_VISITOR_MANAGE = "facility:visitor:manage"
    FACILITY_VISITOR_READ = "facility:visitor:read"
    FACILITY_WARD_MANAGE = "facility:ward:manage"
    FHIR_CLIENT_MANAGE = "fhir:client:manage"
    IDENTITY_ROLE_APPROVE = "identity:role:approve"
    IDENTITY_ROLE_REQUEST = "identity:role:request"
    IDENTITY_SESSION_REVOKE = "identity:session:revoke"
    IDENTITY_USER_MANAGE = "identity:user:manage"
    IDENTITY_USER_VIEW = "identity:user:view"
    IDENTITY_ZONE_MANAGE = "identity:zone:manage"
    INCIDENT_BREACH_MANAGE = "incident:breach:manage"
    INCIDENT_RECORD_MANAGE = "incident:record:manage"
    INCIDENT_RECORD_READ = "incident:record:read"
    PATCHING_EXCEPTION_APPROVE = "patching:exception:approve"
    PATCHING_FINDING_READ = "patching:finding:read"
    PATCHING_FINDING_TRIAGE = "patching:finding:triage"
    PATCHING_INVENTORY_IMPORT = "patching:inventory:import"
    POLICY_DOCUMENT_APPROVE = "policy:document:approve"
    POLICY_DOCUMENT_MANAGE = "policy:document:manage"
    SECURITY_CONFIG_MANAGE = "security:config:manage"
    VENDOR_ASSESSMENT_REVIEW = "vendor:assessment:review"
    VENDOR_PORTAL_ACCESS = "vendor:portal:access"
    VENDOR_VENDOR_MANAGE = "vendor:vendor:manage"
    VENDOR_VENDOR_READ = "vendor:vendor:read"
    WORKFORCE_PERSON_MANAGE = "workforce:person:manage"
    WORKFORCE_PERSON_READ = "workforce:person:read"
    WORKFORCE_REVIEW_ATTEST = "workforce:review:attest"
    WORKFORCE_TRAINING_MANAGE = "workforce:training:manage"

    @property
    def scope(self) -> str:
        return self.value.split(":", 1)[0]


CLINICAL_SCOPE = "clinical"

# The clinical permissions that change no patient record besides the reads
# (`clinical:*:read`): break-glass use opens a chart to read it, and the
# privacy officer's review of that use judges an access, not the chart.
CLINICAL_NON_WRITES = frozenset({Perm.CLINICAL_BREAKGLASS_USE, Perm.CLINICAL_BREAKGLASS_REVIEW})

# Every other clinical permission writes: "clinical read-only" (overdue
# training, docs/workforce.md) withdraws these. Derived from the catalog, not
# listed, so a clinical permission added later is withdrawn until someone
# decides here that it only reads (`clinical:encounter:discharge` was missed by
# a list of action names).
CLINICAL_WRITES = frozenset(
    perm
    for perm in Perm
    if perm.scope == CLINICAL_SCOPE and not perm.endswith(":read") and perm not in CLINICAL_NON_WRITES
)
