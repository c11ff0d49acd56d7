"""The audit vocabulary, aligned with HL7 FHIR AuditEvent and ASTM E2147 so an
export maps each value without guessing (see docs/audit.md)."""

from enum import StrEnum


class Action(StrEnum):
    # Access to records (FHIR AuditEvent.action C/R/U/D/E).
    READ = "read"
    SEARCH = "search"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"
    PRINT = "print"
    # A release of information outside the hospital (HIPAA 164.528 disclosure).
    DISCLOSE = "disclose"
    # Running a function that is neither create, read, update nor delete
    # (FHIR "E": execute), e.g. a report query.
    EXECUTE = "execute"
    # Authentication and sessions.
    LOGIN = "login"
    LOGOUT = "logout"
    LOGIN_THROTTLED = "login_throttled"
    # The password was right; the sign-in now waits for the second factor.
    LOGIN_PENDING_MFA = "login_pending_mfa"
    MFA_CHALLENGE = "mfa_challenge"
    MFA_ENROL = "mfa_enrol"
    MFA_REMOVE = "mfa_remove"
    STEP_UP = "step_up"
    PASSWORD_CHANGE = "password_change"  # noqa: S105 - an event name, not a password
    SESSION_TIMEOUT = "session_timeout"
    SESSION_END = "session_end"
    # Accounts and permissions.
    ACCOUNT_CREATE = "account_create"
    ACCOUNT_UPDATE = "account_update"
    ACCOUNT_LOCK = "account_lock"
    ACCOUNT_UNLOCK = "account_unlock"
    ROLE_REQUEST = "role_request"
    ROLE_GRANT = "role_grant"
    ROLE_APPROVE = "role_approve"
    ROLE_REJECT = "role_reject"
    ROLE_REVOKE = "role_revoke"
    ACCESS_DENIED = "access_denied"
    # Security operations.
    BREAK_GLASS = "break_glass"
    KEY_OPERATION = "key_operation"
    CONFIG_CHANGE = "config_change"
    # The audit trail's own maintenance (ASTM E2147 "audit log access").
    AUDIT_ARCHIVE = "audit_archive"
    AUDIT_VERIFY = "audit_verify"


class Outcome(StrEnum):
    # FHIR AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure.
    SUCCESS = "success"
    DENIED = "denied"
    ERROR = "error"


class PurposeOfUse(StrEnum):
    """HL7 v3 PurposeOfUse codes (terminology.hl7.org CodeSystem v3-ActReason)."""

    TREATMENT = "TREAT"
    EMERGENCY = "ETREAT"
    PAYMENT = "HPAYMT"
    OPERATIONS = "HOPERAT"
    SYSTEM_ADMIN = "SYSADMIN"
    SECURITY = "HSYSADMIN"
    AUDIT = "HCOMPL"
    PATIENT_REQUEST = "PATRQT"
    LEGAL = "HLEGAL"
    RESEARCH = "HRESCH"
    COVERAGE = "COVERAGE"
    PUBLIC_HEALTH = "PUBHLTH"
    QUALITY = "HQUALIMP"
