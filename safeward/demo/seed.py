"""The demo hospital's seed: an ordered list of steps, each idempotent.

`seed_demo()` runs every step of `SEED_STEPS` in one transaction and then
writes the demo credentials file. To add data (patients, encounters...),
write a function that takes a `SeedContext` and append it to `SEED_STEPS`;
it must leave the database as it found it when run a second time.

Demo only: every entry point refuses unless `SAFEWARD_DEMO` is on.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import generate_totp_secret
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from safeward.audit import context as audit_context
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.demo.tls import write_private
from safeward.identity import services as identity_services
from safeward.identity.models import Department, NetworkZone, Role, RoleAssignment, User
from safeward.identity.roles import CATALOG, RoleSpec

CREDENTIALS_FILENAME = "demo-credentials.json"
LOGIN_PATH = "/accounts/login/"

# (code, name): the hospital's departments. Codes are stable; seeding again
# keeps existing rows.
DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("emergency", "Emergency department"),
    ("internal-medicine", "Internal medicine"),
    ("surgery", "Surgery"),
    ("pediatrics", "Pediatrics"),
    ("radiology", "Radiology"),
    ("laboratory", "Laboratory"),
    ("pharmacy", "Pharmacy"),
    ("administration", "Administration and registration"),
    ("finance", "Finance and billing"),
    ("it", "Information technology"),
    ("hr", "Human resources"),
    ("compliance", "Compliance, privacy and audit"),
    ("biomedical-engineering", "Biomedical engineering"),
    ("facilities", "Facilities and security"),
)

# role code -> (first name, last name, department code, job title). Synthetic
# names, no real people.
DEMO_STAFF: dict[str, tuple[str, str, str, str]] = {
    "physician": ("Amara", "Lindqvist", "internal-medicine", "Attending physician"),
    "nurse": ("Tomasz", "Oyelaran", "emergency", "Registered nurse"),
    "registration_clerk": ("Priya", "Halvorsen", "administration", "Registration clerk"),
    "billing_clerk": ("Mateo", "Kowalczyk", "finance", "Billing clerk"),
    "lab_technician": ("Ines", "Abernathy", "laboratory", "Laboratory technician"),
    "pharmacist": ("Kenji", "Mbeki", "pharmacy", "Clinical pharmacist"),
    "hr_officer": ("Sofia", "Delacroix-Nyberg", "hr", "HR officer"),
    "it_admin": ("Rafael", "Okonkwo", "it", "IT administrator"),
    "security_officer": ("Hana", "Villanueva", "it", "Information security officer"),
    "privacy_officer": ("Olumide", "Strand", "compliance", "Privacy officer"),
    "auditor": ("Greta", "Achterberg", "compliance", "Internal auditor"),
    "compliance_officer": ("Yusuf", "Marchetti-Lund", "compliance", "Compliance officer"),
    "biomedical_engineer": ("Noor", "Castellanos-Berg", "biomedical-engineering", "Biomedical engineer"),
    "security_desk": ("Dmitri", "Achebe-Lindgren", "facilities", "Security desk officer"),
    "vendor": ("Luca", "Ferreira-Sato", "it", "Vendor support engineer"),
}

DEMO_ZONE = "demo-loopback"
DEMO_ZONE_CIDRS = ["127.0.0.0/8", "::1/128"]


def demo_username(role_code: str) -> str:
    return f"demo.{role_code}"


@dataclass
class DemoCredential:
    username: str
    password: str
    role: str
    role_name: str
    full_name: str
    department: str
    totp_secret: str

    def otpauth_uri(self, user: User) -> str:
        return str(get_mfa_adapter().build_totp_url(user, self.totp_secret))


@dataclass
class SeedContext:
    """What the steps share. `previous` holds the credentials file as it was
    before this run (empty when there was none); `credentials` is what the
    staff step writes for this run."""

    write: Callable[[str], None]
    previous: dict[str, dict[str, Any]]
    credentials: list[tuple[DemoCredential, User]] = field(default_factory=list)
    departments: dict[str, Department] = field(default_factory=dict)


def require_demo_mode() -> None:
    if not settings.SAFEWARD_DEMO:
        raise ImproperlyConfigured(
            "The demo hospital runs only in demo mode: set SAFEWARD_DEMO=1 (never in production)."
        )
    if settings.PRODUCTION:  # settings.py refuses this too; belt and braces
        raise ImproperlyConfigured("The demo hospital never runs with production settings.")


def credentials_path() -> Path:
    return Path(settings.VAR_DIR) / CREDENTIALS_FILENAME


def load_credentials(path: Path) -> dict[str, dict[str, Any]]:
    """The users of an earlier credentials file by username; empty when the
    file is missing or unreadable (the seed then issues new credentials)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {entry["username"]: entry for entry in data["users"] if isinstance(entry, dict)}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _new_password() -> str:
    # 4 groups of 6 characters from a 64-symbol alphabet: 144 bits.
    token = secrets.token_urlsafe(18)
    return "-".join(token[i : i + 6] for i in range(0, 24, 6))


# --- Steps -------------------------------------------------------------------


# Departments that run no clinic and no ward (issue 12: only clinical ones are offered as clinics).
NON_CLINICAL = frozenset(
    {
        "laboratory",
        "pharmacy",
        "administration",
        "finance",
        "it",
        "hr",
        "compliance",
        "biomedical-engineering",
        "facilities",
    }
)


def seed_departments(ctx: SeedContext) -> None:
    created = 0
    for code, name in DEPARTMENTS:
        clinical = code not in NON_CLINICAL
        department, was_created = Department.objects.get_or_create(
            code=code, defaults={"name": name, "clinical": clinical}
        )
        if department.clinical != clinical:  # a database seeded before departments were marked
            department.clinical = clinical
            department.save(update_fields=["clinical"])
            audit_record(
                action=Action.CONFIG_CHANGE,
                resource_type="Department",
                resource_id=department.pk,
                detail={"department": code, "clinical": clinical, "demo": True},
            )
        ctx.departments[code] = department
        if was_created:
            created += 1
            # identity has no department service yet; record the change here.
            audit_record(
                action=Action.CONFIG_CHANGE,
                resource_type="Department",
                resource_id=department.pk,
                detail={"department": code, "created": True, "demo": True},
            )
    ctx.write(f"departments: {len(DEPARTMENTS)} ({created} new)")


def seed_network_zone(ctx: SeedContext) -> None:
    """The demo runs on loopback, so loopback is the clinical network."""
    zone = NetworkZone.objects.filter(name=DEMO_ZONE).first()
    if zone is None or sorted(zone.cidrs) != sorted(DEMO_ZONE_CIDRS) or not zone.clinical:
        identity_services.zone_save(
            actor=None,
            name=DEMO_ZONE,
            cidrs=DEMO_ZONE_CIDRS,
            clinical=True,
            description="Demo hospital: this machine's loopback addresses are the clinical network.",
        )
        ctx.write(f"network zone {DEMO_ZONE}: {', '.join(DEMO_ZONE_CIDRS)} (clinical)")
    else:
        ctx.write(f"network zone {DEMO_ZONE}: unchanged")


def _ensure_totp(user: User, secret: str | None) -> str:
    """The user's TOTP authenticator holds `secret` (a new one when None)."""
    adapter = get_mfa_adapter()
    existing = list(Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP))
    if secret is not None and len(existing) == 1:
        try:
            matches = adapter.decrypt(existing[0].data["secret"]) == secret
        except Exception:  # an undecryptable secret (key gone) is re-enrolled below
            matches = False
        if matches:
            return secret
    secret = secret or generate_totp_secret()
    if existing:
        Authenticator.objects.filter(pk__in=[a.pk for a in existing]).delete()
        audit_record(
            action=Action.MFA_REMOVE, resource_type="User", resource_id=user.pk, detail={"demo": True}
        )
    Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": adapter.encrypt(secret)}
    )
    audit_record(
        action=Action.MFA_ENROL,
        resource_type="User",
        resource_id=user.pk,
        detail={"factor": "totp", "demo": True},
    )
    return secret


def _seed_one(ctx: SeedContext, spec: RoleSpec) -> tuple[DemoCredential, User, bool]:
    first, last, department_code, job_title = DEMO_STAFF.get(
        spec.code, ("Demo", spec.name, "administration", spec.name)
    )
    username = demo_username(spec.code)
    department = ctx.departments.get(department_code) or Department.objects.get(code=department_code)
    previous = ctx.previous.get(username)
    user = User.objects.filter(username=username).first()
    changed = False
    if user is None:
        password = _new_password()
        user = identity_services.user_create(
            actor=None,
            username=username,
            first_name=first,
            last_name=last,
            email=f"{username}@demo-hospital.invalid",
            department=department,
            job_title=job_title,
            password=password,
        )
        secret = None
        changed = True
    elif previous is None or not user.check_password(str(previous.get("password", ""))):
        # The file was lost or the password changed since: issue new credentials.
        password = _new_password()
        identity_services.user_set_password(actor=None, user=user, password=password)
        secret = None
        changed = True
    else:
        password = str(previous["password"])
        secret = str(previous.get("totp_secret") or "") or None
    new_secret = _ensure_totp(user, secret)
    changed = changed or new_secret != secret
    role = Role.objects.get(code=spec.code)
    if not RoleAssignment.objects.filter(
        user=user, role=role, status__in=[RoleAssignment.Status.ACTIVE, RoleAssignment.Status.PENDING]
    ).exists():
        _grant(user, role)
        changed = True
    credential = DemoCredential(
        username=username,
        password=password,
        role=spec.code,
        role_name=spec.name,
        full_name=f"{first} {last}",
        department=department.name,
        totp_secret=new_secret,
    )
    return credential, user, changed


# The hospital's first administrator is granted at the command line; every
# other privileged role is requested by HR and approved by that first
# administrator, as the two-person control expects (identity.controls,
# ADR 0920). The one command-line grant is the demo's honest failure of it.
BOOTSTRAP_ROLE = "privacy_officer"
REQUESTER_ROLE = "hr_officer"


def _grant(user: User, role: Role) -> None:
    if not role.privileged or role.code == BOOTSTRAP_ROLE:
        identity_services.role_request(actor=None, user=user, role=role, reason="demo hospital seed")
        return
    requester = User.objects.get(username=demo_username(REQUESTER_ROLE))
    approver = User.objects.get(username=demo_username(BOOTSTRAP_ROLE))
    assignment = identity_services.role_request(
        actor=requester, user=user, role=role, reason="demo hospital seed"
    )
    identity_services.role_approve(actor=approver, assignment=assignment)


def seed_staff(ctx: SeedContext) -> None:
    """One demo user for every role of the catalog, each with a password, an
    enrolled TOTP authenticator and its role: ordinary roles and the first
    administrator's granted by the command line, the other privileged roles
    requested by HR and approved by that administrator (so they come last)."""
    changed = 0
    later = [spec for spec in CATALOG if spec.privileged and spec.code != BOOTSTRAP_ROLE]
    seeded = {}
    for spec in [spec for spec in CATALOG if spec not in later] + later:
        seeded[spec.code] = _seed_one(ctx, spec)
    for spec in CATALOG:
        credential, user, was_changed = seeded[spec.code]
        ctx.credentials.append((credential, user))
        changed += was_changed
    ctx.write(f"demo users: {len(CATALOG)} ({changed} new or updated)")


SeedStep = Callable[[SeedContext], None]

# The steps, in order. Later issues append their own (e.g. the clinical app's
# synthetic patients after the staff who care for them).
SEED_STEPS: list[SeedStep] = [seed_departments, seed_network_zone, seed_staff]


def seed_clinical(ctx: SeedContext) -> None:
    """Synthetic patients, charts, care teams and clinic slots (issue 5)."""
    from safeward.demo.clinical import seed_clinical as clinical_step

    clinical_step(ctx)


SEED_STEPS.append(seed_clinical)

DEMO_SMART_APP = "Demo growth chart (SMART app)"


def seed_smart_app(ctx: SeedContext) -> None:
    """One registered SMART app for the OAuth client page, owned by the demo
    IT administrator, if no client is registered yet (ADR 0606)."""
    import datetime as dt

    from safeward import clock
    from safeward.fhir.clients import client_register, clients_list

    if clients_list():
        return
    owner = User.objects.get(username=demo_username("it_admin"))
    client_register(
        actor=None,
        name=DEMO_SMART_APP,
        owner=owner,
        grant="authorization-code",
        client_type="public",
        scopes="openid fhirUser launch launch/patient patient/*.rs user/*.rs",
        redirect_uris="https://localhost/smart-demo/callback",
        expires_at=clock.now() + dt.timedelta(days=365),
    )
    ctx.write(f"SMART app registered: {DEMO_SMART_APP}")


SEED_STEPS.append(seed_smart_app)


def seed_workforce(ctx: SeedContext) -> None:
    """A workforce record for every demo account (issue 12)."""
    from safeward.demo.workforce import seed_workforce as workforce_step

    workforce_step(ctx)


SEED_STEPS.append(seed_workforce)


def seed_assets(ctx: SeedContext) -> None:
    """The asset register with its lapses, and SafeWard's own stores (issue 13)."""
    from safeward.demo.assets import seed_assets as assets_step

    assets_step(ctx)


SEED_STEPS.append(seed_assets)


def seed_patching(ctx: SeedContext) -> None:
    """Software inventories, Heartbleed on the interface engine, the pump's exception (issue 17)."""
    from safeward.demo.patching import seed_patching as patching_step

    patching_step(ctx)


SEED_STEPS.append(seed_patching)


def seed_incidents(ctx: SeedContext) -> None:
    """A snooping case with its breach clock, a closed lost laptop, an exercise (issue 19)."""
    from safeward.demo.incidents import seed_incidents as incidents_step

    incidents_step(ctx)


SEED_STEPS.append(seed_incidents)


# --- Running the seed --------------------------------------------------------


def write_credentials(path: Path, credentials: list[tuple[DemoCredential, User]]) -> None:
    """Atomically (re)write the credentials file, readable by its owner only."""
    document = {
        "warning": (
            "DEMO HOSPITAL ONLY. These are published demo credentials for synthetic data; "
            "never use them, or this mode, with real patient information."
        ),
        "login_path": LOGIN_PATH,
        "users": [
            {
                "username": credential.username,
                "password": credential.password,
                "role": credential.role,
                "role_name": credential.role_name,
                "name": credential.full_name,
                "department": credential.department,
                "totp_secret": credential.totp_secret,
                "otpauth_uri": credential.otpauth_uri(user),
            }
            for credential, user in credentials
        ],
    }
    write_private(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))


def seed_demo(*, write: Callable[[str], None] = lambda line: None) -> Path:
    """Run every seed step in one transaction, then write the credentials
    file. Returns the file's path."""
    require_demo_mode()
    path = credentials_path()
    ctx = SeedContext(write=write, previous=load_credentials(path))
    with audit_context.setup(), transaction.atomic():
        for step in SEED_STEPS:
            step(ctx)
    write_credentials(path, ctx.credentials)
    return path


def seed_phi_share(ctx: SeedContext) -> None:
    """The shared drive, registered, with its clean documents (issue 13)."""
    from safeward.demo.phi_share import seed_phi_share as share_step

    share_step(ctx)


SEED_STEPS.append(seed_phi_share)


def seed_campaigns(ctx: SeedContext) -> None:
    """Assessment campaigns (last year's signed off, this year's open) and the risk register (issue 18)."""
    from safeward.demo.campaigns import seed_campaigns as campaigns_step

    campaigns_step(ctx)


SEED_STEPS.append(seed_campaigns)


def seed_policies(ctx: SeedContext) -> None:
    """The policy library: an acknowledgement due, an overdue review (issue 18)."""
    from safeward.demo.policies import seed_policies as policies_step

    policies_step(ctx)


SEED_STEPS.append(seed_policies)


def seed_vendors(ctx: SeedContext) -> None:
    """Five vendors with their agreements and bound credentials (issue 16)."""
    from safeward.demo.vendors import seed_vendors as vendors_step

    vendors_step(ctx)


SEED_STEPS.append(seed_vendors)


def seed_devices(ctx: SeedContext) -> None:
    """Ward 3's devices, a legacy pump fleet with its MDS2 and controls, a CT scanner (issue 14)."""
    from safeward.demo.devices import seed_devices as devices_step

    devices_step(ctx)


SEED_STEPS.append(seed_devices)


def seed_facilities(ctx: SeedContext) -> None:
    """Secure areas, a day of door events, visitors, media waiting to leave (issue 15)."""
    from safeward.demo.facilities import seed_facilities as facilities_step

    facilities_step(ctx)


# Before the posture step: facilities places the records room's PC (an endpoint),
# which then has its posture from the first seed; a second seed finds nothing to report.
SEED_STEPS.append(seed_facilities)


def seed_device_posture(ctx: SeedContext) -> None:
    """Endpoint posture for the demo devices (issue 14); after the devices step."""
    from safeward.demo.device_posture import seed_device_posture as posture_step

    posture_step(ctx)


SEED_STEPS.append(seed_device_posture)


def seed_device_wipes(ctx: SeedContext) -> None:
    """Two ward phones reported lost: one wipe confirmed by the MDM, one pending (issue 14)."""
    from safeward.demo.device_wipes import seed_device_wipes as wipes_step

    wipes_step(ctx)


SEED_STEPS.append(seed_device_wipes)


def seed_device_clients(ctx: SeedContext) -> None:
    """A ward kiosk workstation and the SMART app linked to it (issue 14, ADR 1018)."""
    from safeward.demo.device_clients import seed_device_clients as clients_step

    clients_step(ctx)


SEED_STEPS.append(seed_device_clients)


def seed_continuity(ctx: SeedContext) -> None:
    """Nightly backup records and a passed restore test (issue 19)."""
    from safeward.demo.continuity import seed_continuity as continuity_step

    continuity_step(ctx)


SEED_STEPS.append(seed_continuity)


def seed_scheduled_runs(ctx: SeedContext) -> None:
    """The schedule's first tick: every periodic job that never succeeded runs once, for real (ADR 1506)."""
    from safeward.demo.continuity import seed_scheduled_runs as runs_step

    runs_step(ctx)


SEED_STEPS.append(seed_scheduled_runs)


def seed_phi_share_exports(ctx: SeedContext) -> None:
    """The clerk's export planted on the shared drive after the night's share scan (issue 13)."""
    from safeward.demo.phi_share import seed_phi_share_exports as exports_step

    exports_step(ctx)


# After the schedule's first tick (ADR 1506): the night's share scan read the
# clean documents, so the privacy officer's Scan now finds the export.
SEED_STEPS.append(seed_phi_share_exports)


def seed_compliance(ctx: SeedContext) -> None:
    """The first run of every control test, after every other step (issue 18)."""
    from safeward.demo.compliance import seed_compliance as compliance_step

    compliance_step(ctx)


SEED_STEPS.append(seed_compliance)
