"""SafeWard settings. Everything that differs between deployments comes from the
environment through `safeward.config.env`; production refuses to start without
a real secret key, allowed hosts and a key provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from safeward.config import database_from_url, env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env.path("SAFEWARD_VAR_DIR", BASE_DIR / "var")

# --- Deployment mode -------------------------------------------------------
SAFEWARD_ENV = env.choice("SAFEWARD_ENV", ("production", "development", "test"), "development")
PRODUCTION = SAFEWARD_ENV == "production"
SAFEWARD_DEMO = env.boolean("SAFEWARD_DEMO", default=False)
if SAFEWARD_DEMO and PRODUCTION:
    raise ImproperlyConfigured(
        "SAFEWARD_DEMO is set together with SAFEWARD_ENV=production. The demo hospital "
        "uses published credentials and must never run with production settings."
    )
DEBUG = env.boolean("SAFEWARD_DEBUG", default=False)
if DEBUG and PRODUCTION:
    raise ImproperlyConfigured("SAFEWARD_DEBUG cannot be on with SAFEWARD_ENV=production.")

# A fixed, clearly marked key for development and tests only; `safeward check`
# and the production branch below refuse it.
INSECURE_DEVELOPMENT_SECRET_KEY = "insecure-development-key-never-use-in-production-0123456789"  # noqa: S105


def _secret_key() -> str:
    key = env.optional_str("SAFEWARD_SECRET_KEY")
    key_file = env.optional_str("SAFEWARD_SECRET_KEY_FILE")
    if key is None and key_file is not None:
        try:
            key = Path(key_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ImproperlyConfigured(
                f"SAFEWARD_SECRET_KEY_FILE={key_file} cannot be read ({error.strerror})."
            ) from None
    if key is None:
        if PRODUCTION:
            raise ImproperlyConfigured(
                "SAFEWARD_SECRET_KEY (or SAFEWARD_SECRET_KEY_FILE) must be set in production: "
                "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
            )
        return INSECURE_DEVELOPMENT_SECRET_KEY
    if PRODUCTION and (len(key) < 50 or "insecure" in key):
        raise ImproperlyConfigured("SAFEWARD_SECRET_KEY is too short or a development key.")
    return key


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env.items(
    "SAFEWARD_ALLOWED_HOSTS", () if PRODUCTION else ("127.0.0.1", "localhost", "testserver")
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("SAFEWARD_ALLOWED_HOSTS must list the host names SafeWard serves.")
CSRF_TRUSTED_ORIGINS = env.items("SAFEWARD_CSRF_TRUSTED_ORIGINS")

# --- Keys ------------------------------------------------------------------
# Which key-encryption-key provider wraps the data keys: file, env or vault.
SAFEWARD_KEY_PROVIDER = env.optional_str("SAFEWARD_KEY_PROVIDER") or ("" if PRODUCTION else "file")
if PRODUCTION and not SAFEWARD_KEY_PROVIDER:
    raise ImproperlyConfigured(
        "SAFEWARD_KEY_PROVIDER must be set in production (file, env or vault); see docs/operations.md."
    )
SAFEWARD_KEY_DIR = env.path("SAFEWARD_KEY_DIR", VAR_DIR / "keys")

# --- Applications ----------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # allauth's list of security keys (/accounts/2fa/webauthn/) loads the humanize tags.
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "drf_spectacular",
    "oauth2_provider",
    "safeward.audit",
    "safeward.crypto",
    "safeward.identity",
    "safeward.workforce",
    "safeward.detection",
    "safeward.incidents",
    "safeward.assets",
    "safeward.devices",
    "safeward.vendors",
    "safeward.facilities",
    "safeward.continuity",
    "safeward.assessments",
    "safeward.policies",
    "safeward.patching",
    "safeward.clinical",
    "safeward.fhir",
    "safeward.web",
    "safeward.demo",
    "safeward.oversight",
]

AUTH_USER_MODEL = "identity.User"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost after SecurityMiddleware, so responses that later middleware
    # returns early (refusals, redirects, static files) carry these headers too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "safeward.web.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "safeward.identity.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Before allauth's in answering ReauthenticationRequired: a bounded `next`.
    "safeward.identity.middleware.ReauthenticationRedirectMiddleware",
    "safeward.identity.middleware.SessionGuardMiddleware",
    # The device a session comes from (client certificate via a trusted proxy, issue 14).
    "safeward.devices.identity.DeviceIdentityMiddleware",
    "safeward.workforce.middleware.WorkforceAccessMiddleware",
    # Django's, keeping the sign-in redirect within bounds for a very long address.
    "safeward.identity.middleware.LoginRequiredMiddleware",
    "safeward.identity.middleware.RequireMFAMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "safeward.policies.middleware.PolicyAcknowledgementMiddleware",
    "safeward.continuity.middleware.DowntimeReadOnlyMiddleware",
]

ROOT_URLCONF = "safeward.urls"
WSGI_APPLICATION = "safeward.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "safeward" / "web" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "safeward.web.context_processors.safeward",
                "safeward.workforce.context_processors.workforce_banner",
                "safeward.policies.context_processors.policy_banner",
                "safeward.continuity.context_processors.downtime_banner",
                "safeward.clinical.context_processors.clinical_banners",
            ],
        },
    }
]

# --- Database and cache ----------------------------------------------------
DATABASE_URL = env.optional_str("SAFEWARD_DATABASE_URL") or env.optional_str("DATABASE_URL")
_default_db: dict[str, Any]
if DATABASE_URL:
    _default_db = database_from_url(DATABASE_URL)
else:
    if PRODUCTION:
        raise ImproperlyConfigured("SAFEWARD_DATABASE_URL must point at PostgreSQL in production.")
    # The embedded database for the demo and quick local runs; its folder is
    # private to the service account.
    VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    _default_db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "safeward.sqlite3")}
if _default_db["ENGINE"] == "django.db.backends.sqlite3":
    _default_db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
if _default_db["ENGINE"] == "django.db.backends.postgresql":
    # Django disables server-side prepared statements; SafeWard prepares only
    # the few hot statements it runs through `safeward.prepared` (ADR 0591).
    # Django's own cursors bind on the client and never prepare, so this
    # threshold only lets that cursor prepare when it asks; None would turn
    # preparing off altogether (set it so behind a transaction pooler).
    _default_db["OPTIONS"].setdefault("prepare_threshold", 2**31 - 1)
    if _default_db["OPTIONS"]["prepare_threshold"] is not None:
        # Those statements have one good plan whatever their values (index
        # look-ups by patient, actor, time); left to choose, PostgreSQL kept
        # re-planning the facts statement for a one-patient chart on every
        # execution (0.8 ms of planning for 0.2 ms of work, ADR 1634).
        # Django's own statements are not prepared, so this setting is ours only.
        startup = str(_default_db["OPTIONS"].get("options", ""))
        if "plan_cache_mode" not in startup:
            _default_db["OPTIONS"]["options"] = f"{startup} -c plan_cache_mode=force_generic_plan".strip()
_default_db["TEST"] = {"NAME": env.optional_str("SAFEWARD_TEST_DATABASE_NAME")}
DATABASES = {"default": _default_db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.optional_str("SAFEWARD_REDIS_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        # Shared by every worker process: TOTP replay markers and login throttles
        # must not live in one process's memory.
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "safeward_cache"}
    )
}

# --- Authentication --------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "safeward.identity.backends.RolePermissionBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = ["safeward.identity.hashers.SafeWardArgon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "safeward.identity.passwords.MaximumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "safeward.identity.passwords.BlocklistValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "web:dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_ADAPTER = "safeward.identity.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
# SafeWard's own throttle (identity.throttle) replaces allauth's password
# limit (AccountAdapter.pre_authenticate does not call allauth's), which would
# let an attacker lock any account out from anywhere. allauth.mfa reuses the
# "login_failed" limit for second-factor codes; its per-user part would let
# anyone who knows a password block the user's second factor everywhere, so
# only its per-address part stays, and the code forms (identity.mfa_forms)
# count wrong codes in SafeWard's throttle, per account and address (ADR 0008).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip"}

MFA_ADAPTER = "safeward.identity.adapters.MFAAdapter"
MFA_FORMS = {
    "authenticate": "safeward.identity.mfa_forms.ThrottledAuthenticateForm",
    "reauthenticate": "safeward.identity.mfa_forms.ThrottledReauthenticateForm",
}
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_TOTP_ISSUER = "SafeWard"
MFA_TOTP_TOLERANCE = 1
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env.boolean("SAFEWARD_WEBAUTHN_ALLOW_INSECURE_ORIGIN", default=False)
MFA_RECOVERY_CODE_COUNT = 10

# Sessions: idle time-out and absolute lifetime are enforced by
# identity.middleware.SessionGuardMiddleware against the injected clock.
SAFEWARD_SESSION_IDLE_MINUTES = env.integer("SAFEWARD_SESSION_IDLE_MINUTES", 15, minimum=1, maximum=24 * 60)
SAFEWARD_SESSION_ABSOLUTE_HOURS = env.integer(
    "SAFEWARD_SESSION_ABSOLUTE_HOURS", 12, minimum=1, maximum=7 * 24
)
SAFEWARD_STEP_UP_MINUTES = env.integer("SAFEWARD_STEP_UP_MINUTES", 5, minimum=1, maximum=60)
SAFEWARD_REMOTE_MFA_WINDOW_MINUTES = env.integer("SAFEWARD_REMOTE_MFA_WINDOW_MINUTES", 60, minimum=1)
# Django's database store; its per-request read is a prepared statement (ADR 0309).
SESSION_ENGINE = "safeward.identity.sessions"
# Flash messages live in the database-backed session, never in a cookie (a
# signed cookie is readable by whoever holds it); they carry no PHI either.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_AGE = SAFEWARD_SESSION_ABSOLUTE_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Workforce (issue 7): overdue training makes clinical access read-only after
# this many days, and blocks the account (training page only) after that many;
# access-review items move up one level each time this many days pass undecided.
SAFEWARD_TRAINING_READ_ONLY_AFTER_DAYS = env.integer(
    "SAFEWARD_TRAINING_READ_ONLY_AFTER_DAYS", 14, minimum=0, maximum=365
)
SAFEWARD_TRAINING_BLOCK_AFTER_DAYS = env.integer(
    "SAFEWARD_TRAINING_BLOCK_AFTER_DAYS", 30, minimum=0, maximum=365
)
SAFEWARD_REVIEW_ESCALATION_DAYS = env.integer("SAFEWARD_REVIEW_ESCALATION_DAYS", 7, minimum=1, maximum=90)

# Control tests (issue 18, ADR 0920): the thresholds the apps' controls.py
# judge live state against. Documented in docs/operations.md.
SAFEWARD_CONTROL_SESSION_IDLE_MAX_MINUTES = env.integer(
    "SAFEWARD_CONTROL_SESSION_IDLE_MAX_MINUTES", 15, minimum=1, maximum=24 * 60
)
SAFEWARD_CONTROL_SESSION_ABSOLUTE_MAX_HOURS = env.integer(
    "SAFEWARD_CONTROL_SESSION_ABSOLUTE_MAX_HOURS", 12, minimum=1, maximum=7 * 24
)
SAFEWARD_KEY_ROTATION_DAYS = {
    "data": env.integer("SAFEWARD_KEY_ROTATION_DAYS_DATA", 365, minimum=1),
    "blind_index": env.integer("SAFEWARD_KEY_ROTATION_DAYS_BLIND_INDEX", 730, minimum=1),
    "signing": env.integer("SAFEWARD_KEY_ROTATION_DAYS_SIGNING", 365, minimum=1),
}
SAFEWARD_CONTROL_CIPHERTEXT_SAMPLE = env.integer(
    "SAFEWARD_CONTROL_CIPHERTEXT_SAMPLE", 200, minimum=1, maximum=10_000
)
SAFEWARD_CONTROL_AUDIT_VERIFY_HOURS = env.integer("SAFEWARD_CONTROL_AUDIT_VERIFY_HOURS", 24, minimum=1)
SAFEWARD_CONTROL_SEAL_LAG_SECONDS = env.integer("SAFEWARD_CONTROL_SEAL_LAG_SECONDS", 300, minimum=1)
SAFEWARD_CONTROL_SIEM_EXPORT_MINUTES = env.integer("SAFEWARD_CONTROL_SIEM_EXPORT_MINUTES", 15, minimum=1)
# The SIEM sinks (`safeward audit export --name`) that must be current; every sink
# that has exported is judged too. None and no export ever: not applicable.
SAFEWARD_CONTROL_SIEM_SINKS = env.items("SAFEWARD_CONTROL_SIEM_SINKS")
SAFEWARD_CONTROL_DETECTION_LAG_SECONDS = env.integer("SAFEWARD_CONTROL_DETECTION_LAG_SECONDS", 60, minimum=1)
SAFEWARD_ALERT_TRIAGE_SLA_MINUTES = {
    "critical": env.integer("SAFEWARD_ALERT_TRIAGE_SLA_MINUTES_CRITICAL", 15, minimum=1),
    "high": env.integer("SAFEWARD_ALERT_TRIAGE_SLA_MINUTES_HIGH", 60, minimum=1),
    "medium": env.integer("SAFEWARD_ALERT_TRIAGE_SLA_MINUTES_MEDIUM", 4 * 60, minimum=1),
    "low": env.integer("SAFEWARD_ALERT_TRIAGE_SLA_MINUTES_LOW", 24 * 60, minimum=1),
}
SAFEWARD_CONTROL_LOOKBACK_DAYS = env.integer("SAFEWARD_CONTROL_LOOKBACK_DAYS", 30, minimum=1, maximum=366)
SAFEWARD_BREAK_GLASS_REVIEW_DAYS = env.integer("SAFEWARD_BREAK_GLASS_REVIEW_DAYS", 7, minimum=1, maximum=90)
SAFEWARD_ACCESS_REVIEW_INTERVAL_DAYS = env.integer(
    "SAFEWARD_ACCESS_REVIEW_INTERVAL_DAYS", 365, minimum=1, maximum=3 * 365
)
# Policies (issue 18, ADR 0930): a person who has not acknowledged the current
# revision of a policy required for their role loses that role's permissions
# this many days after the revision was published (a banner and an
# interstitial until then).
SAFEWARD_POLICY_ACKNOWLEDGE_GRACE_DAYS = env.integer(
    "SAFEWARD_POLICY_ACKNOWLEDGE_GRACE_DAYS", 14, minimum=0, maximum=365
)

# Login throttling (identity.throttle).
SAFEWARD_THROTTLE_WINDOW_MINUTES = env.integer("SAFEWARD_THROTTLE_WINDOW_MINUTES", 15, minimum=1)
SAFEWARD_THROTTLE_ACCOUNT_ADDRESS_FAILURES = env.integer(
    "SAFEWARD_THROTTLE_ACCOUNT_ADDRESS_FAILURES", 5, minimum=1
)
SAFEWARD_THROTTLE_ADDRESS_FAILURES = env.integer("SAFEWARD_THROTTLE_ADDRESS_FAILURES", 20, minimum=1)
SAFEWARD_THROTTLE_ACCOUNT_FAILURES = env.integer("SAFEWARD_THROTTLE_ACCOUNT_FAILURES", 50, minimum=1)
# The vendor questionnaire link page (ADR 1215): requests per link and per client
# address in a fixed window; a vendor answering needs about ten.
SAFEWARD_VENDOR_LINK_WINDOW_SECONDS = env.integer(
    "SAFEWARD_VENDOR_LINK_WINDOW_SECONDS", 600, minimum=10, maximum=24 * 3600
)
SAFEWARD_VENDOR_LINK_PER_LINK = env.integer("SAFEWARD_VENDOR_LINK_PER_LINK", 30, minimum=1)
SAFEWARD_VENDOR_LINK_PER_ADDRESS = env.integer("SAFEWARD_VENDOR_LINK_PER_ADDRESS", 60, minimum=1)

# Network: client addresses are taken from X-Forwarded-For only when the
# direct peer is one of these proxies.
SAFEWARD_TRUSTED_PROXIES = env.networks("SAFEWARD_TRUSTED_PROXIES")
# Device identity (ADR 1011): the reverse proxies that verify a device's client
# certificate and forward its SHA-256 fingerprint in this header. The header is
# ignored (and audited) from any other peer; empty: no device is identified.
SAFEWARD_DEVICE_PROXIES = env.networks("SAFEWARD_DEVICE_PROXIES")
SAFEWARD_DEVICE_CERT_HEADER = env.optional_str("SAFEWARD_DEVICE_CERT_HEADER") or "X-Client-Cert-SHA256"
# Strict mode (ADR 1015): a session from a device nothing identifies is limited as an
# unmanaged one (no download, export or print). For deployments that issue device
# certificates to every managed device; off by default.
SAFEWARD_DEVICE_STRICT = env.boolean("SAFEWARD_DEVICE_STRICT", default=False)
# A wipe requested for a lost device and not confirmed by the MDM within this many
# hours fails `devices.lost_devices_contained` (ADR 1017).
SAFEWARD_WIPE_CONFIRM_HOURS = env.integer("SAFEWARD_WIPE_CONFIRM_HOURS", 48, minimum=1, maximum=720)
# A posture older than this many days counts as non-compliant (ADR 1010).
SAFEWARD_POSTURE_CHECK_IN_DAYS = env.integer("SAFEWARD_POSTURE_CHECK_IN_DAYS", 7, minimum=1, maximum=90)
# The watched folder of MDM exports (`safeward devices import-posture --watch`).
SAFEWARD_POSTURE_WATCH_DIR = env.path("SAFEWARD_POSTURE_WATCH_DIR", VAR_DIR / "posture-inbox")

# --- HTTP security ---------------------------------------------------------
SECURE_SSL_REDIRECT = env.boolean("SAFEWARD_SSL_REDIRECT", default=SAFEWARD_ENV != "test")
SECURE_REDIRECT_EXEMPT: list[str] = []
if SAFEWARD_TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.integer("SAFEWARD_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = False
# Preloading pins every subdomain of the hospital's domain to HTTPS in all
# browsers for good; that is the hospital's decision, not a default.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "__Host-safeward_session"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = "__Host-safeward_csrf"
CSRF_FAILURE_VIEW = "safeward.web.views.csrf_failure"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=(), "
    "publickey-credentials-get=(self), publickey-credentials-create=(self)"
)
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Uploads are never spooled to a plaintext temporary file: they stay in memory,
# at most this many bytes of files per request (the document cap). ADR 0537.
SAFEWARD_UPLOAD_MAX_BYTES = 25 * 1024 * 1024
FILE_UPLOAD_HANDLERS = ["safeward.upload_handlers.CappedMemoryUploadHandler"]

# --- REST API ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "safeward.identity.api_auth.OAuth2ClientAuthentication",
        "safeward.identity.api_auth.CsrfFirstSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "safeward.identity.api_permissions.DenyUnlessDeclared",
        "safeward.identity.api_permissions.TokenScope",
    ],
    # One JSON error shape, and every operation's error answers in the schema: safeward/web/api_errors.py.
    "DEFAULT_SCHEMA_CLASS": "safeward.web.api_errors.ErrorsAutoSchema",
    "EXCEPTION_HANDLER": "safeward.web.api_errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Depth-bounded JSON (safeward/web/json_input.py): deep nesting is a 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": ["safeward.web.json_input.BoundedJSONParser"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SafeWard API",
    "DESCRIPTION": "Hospital management information system, secure by construction.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get their own components, so they can say what input refuses (a blank
    # required text is `minLength: 1`): schemathesis' positive-data check holds the API to it.
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets whose field names other components use too (kind, criticality).
    "ENUM_NAME_OVERRIDES": {
        "AssetKindEnum": "safeward.assets.models.Asset.Kind",
        "AssetCriticalityEnum": "safeward.assets.models.Asset.Criticality",
        "AssetProtectionEnum": "safeward.assets.models.Asset.Protection",
        "AssessmentCampaignStatusEnum": "safeward.assessments.models.Campaign.Status",
        "AssessmentFindingStatusEnum": "safeward.assessments.models.Finding.Status",
        "RiskStatusEnum": "safeward.assessments.models.Risk.Status",
        "ControlOutcomeEnum": "safeward.assessments.models.ControlResult.Outcome",
        "VerificationOutcomeEnum": "safeward.clinical.api.VERIFY_OUTCOMES",
        "PolicyDocumentKindEnum": "safeward.policies.models.PolicyDocument.Kind",
        "VendorStatusEnum": "safeward.vendors.models.Vendor.Status",
        "VendorAgreementStatusEnum": "safeward.vendors.models.Agreement.Status",
        "VendorAgreementKindEnum": "safeward.vendors.models.Agreement.Kind",
        "VendorCredentialKindEnum": "safeward.vendors.models.Credential.Kind",
        # One choice set (critical, high, medium, low) shared by incidents and vulnerability findings.
        "SeverityLevelEnum": "safeward.patching.models.Severity",
        "VulnFindingStateEnum": "safeward.patching.models.Finding.State",
        "VulnJustificationEnum": "safeward.patching.models.Finding.Justification",
        "VulnExceptionStatusEnum": "safeward.patching.models.RiskException.Status",
        "VulnDecisionEnum": "safeward.patching.models.RiskException.Decision",
        "VulnTargetEnum": "safeward.patching.models.Target",
        "IncidentStatusEnum": "safeward.incidents.models.Incident.Status",
        "DeviceKindEnum": "safeward.devices.models.Device.Kind",
        "CompensatingControlKindEnum": "safeward.devices.models.CompensatingControl.Kind",
        "PostureSourceEnum": "safeward.devices.models.PostureSource",
        "DeviceLifecycleEnum": "safeward.devices.models.Device.Lifecycle",
    },
}


def _oidc_private_key() -> str:
    """The RS256 key for OpenID Connect id_tokens (ADR 0541): SAFEWARD_OIDC_KEY_FILE,
    or outside production one generated into the key folder. Production without
    the file issues no id_tokens, and `safeward check` reports it (safeward.W540)."""
    from safeward.fhir.signing_key import SigningKeyError, load_or_create_signing_key, read_signing_key

    key_file = env.optional_str("SAFEWARD_OIDC_KEY_FILE")
    try:
        if key_file is not None:
            return read_signing_key(Path(key_file))
        if PRODUCTION:
            return ""
        return load_or_create_signing_key(SAFEWARD_KEY_DIR / "oidc-rs256.pem")
    except SigningKeyError as error:
        raise ImproperlyConfigured(f"SAFEWARD_OIDC_KEY_FILE: {error}") from None


OIDC_RSA_PRIVATE_KEY = _oidc_private_key()
OAUTH2_PROVIDER = {
    # OpenID Connect for SMART's `openid fhirUser`: RS256 id_tokens, discovery and JWKS at /o/.
    "OIDC_ENABLED": bool(OIDC_RSA_PRIVATE_KEY),
    "OIDC_RSA_PRIVATE_KEY": OIDC_RSA_PRIVATE_KEY,
    "OAUTH2_VALIDATOR_CLASS": "safeward.fhir.oidc.SmartValidator",
    "ID_TOKEN_EXPIRE_SECONDS": 300,
    "PKCE_REQUIRED": True,
    "ALLOWED_GRANT_TYPES": ["authorization-code", "client-credentials"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 8 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    # RFC 9700 (OAuth 2.0 Security Best Current Practice), all of it.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    # SMART on FHIR v2 scopes (patient/*.rs, user/Observation.rs, ...): safeward/clinical/scopes.py
    "SCOPES_BACKEND_CLASS": "safeward.fhir.smart.SmartScopes",
}

# --- Static files, i18n, logging ------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if SAFEWARD_ENV == "test"
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Tests serve static files straight from the apps (no collectstatic step).
WHITENOISE_USE_FINDERS = SAFEWARD_ENV == "test"
WHITENOISE_AUTOREFRESH = SAFEWARD_ENV == "test"
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.string("SAFEWARD_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

_SMTP = "django.core.mail.backends.smtp.EmailBackend"
_FILE_MAIL = "django.core.mail.backends.filebased.EmailBackend"
# Development prints mail on the console; the demo writes each message to a
# file under var/mail so its one-time codes (vendor questionnaire links, ADR
# 1214) can be read without a mail server; production sends by SMTP.
_email_backend = env.string(
    "SAFEWARD_EMAIL_BACKEND",
    _FILE_MAIL if SAFEWARD_DEMO else "django.core.mail.backends.console.EmailBackend",
)
_email_options: dict[str, object] = {}
if _email_backend == _SMTP:
    _email_password_file = env.optional_str("SAFEWARD_EMAIL_PASSWORD_FILE")
    _email_security = env.choice("SAFEWARD_EMAIL_SECURITY", ("starttls", "tls", "none"), "starttls")
    _email_options = {
        "host": env.string("SAFEWARD_EMAIL_HOST", "localhost"),
        "port": env.integer("SAFEWARD_EMAIL_PORT", 587, minimum=1, maximum=65535),
        "username": env.string("SAFEWARD_EMAIL_USER", ""),
        "password": (
            Path(_email_password_file).read_text(encoding="utf-8").strip()
            if _email_password_file
            else env.string("SAFEWARD_EMAIL_PASSWORD", "")
        ),
        "use_tls": _email_security == "starttls",
        "use_ssl": _email_security == "tls",
        "timeout": env.integer("SAFEWARD_EMAIL_TIMEOUT_SECONDS", 10, minimum=1, maximum=300),
    }
elif _email_backend == _FILE_MAIL:
    _email_options = {"file_path": str(env.path("SAFEWARD_EMAIL_FILE_PATH", VAR_DIR / "mail"))}
MAILERS = {"default": {"BACKEND": _email_backend, "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = env.string("SAFEWARD_FROM_EMAIL", "safeward@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # No query string in any log line (search criteria may arrive in one): safeward/log_privacy.py.
    "filters": {"no_query_strings": {"()": "safeward.log_privacy.StripQueryStrings"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["no_query_strings"]}
    },
    "root": {"handlers": ["console"], "level": env.string("SAFEWARD_LOG_LEVEL", "INFO")},
    "loggers": {
        # runserver's request lines (development only) go through the same filter.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Request logs would carry URLs and bodies; SafeWard's own audit trail
        # records accesses instead.
        "django.request": {"level": "ERROR"},
        "django.security": {"level": "WARNING"},
        # WeasyPrint logs each rendering step at INFO (policy snapshots, reports).
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
