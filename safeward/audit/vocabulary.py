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
    # Authentication and sessions.
    LOGIN = "login"
    LOGOUT = "logout"
    LOGIN_THROTTLED = "login_throttled"
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
