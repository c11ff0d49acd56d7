from __future__ import annotations

import ipaddress
import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

# Usernames with this prefix belong to attack-drill accounts only (see
# services.user_create and docs/drills.md).
DRILL_USERNAME_PREFIX = "drill."


class Department(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    # A clinical department treats patients: only it is offered as a clinic,
    # holds wards, and is chosen for an admission. Administrative ones
    # (registration, finance, IT, HR) are marked False.
    clinical = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A workforce account. `sessions_valid_after` ends every session started
    before it; `locked_at` refuses the account on its next request."""

    locked_at = models.DateTimeField(null=True, blank=True)
    lock_reason = models.CharField(max_length=200, blank=True)
    sessions_valid_after = models.DateTimeField(null=True, blank=True)
    # A registered credential check governs this account (a vendor's, ADR 1210):
    # only then does the request path pay for asking it. Set once, never cleared.
    credential_checked = models.BooleanField(default=False)

    class Meta:
        ordering = ["username"]

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    def has_perm(self, perm: str, obj: object = None) -> bool:
        # Django's default grants everything to superusers; SafeWard has no
        # superusers, only roles.
        from safeward.identity.selectors import user_permissions

        return self.is_active and self.locked_at is None and perm in user_permissions(user=self)

    def has_perms(self, perm_list: object, obj: object = None) -> bool:
        return all(self.has_perm(perm) for perm in perm_list)  # type: ignore[attr-defined]

    def has_module_perms(self, app_label: str) -> bool:
        return False


class StaffProfile(models.Model):
    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="profile")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, null=True, blank=True)
    job_title = models.CharField(max_length=120, blank=True)

    def __str__(self) -> str:
        return f"profile of {self.user.username}"


class Role(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    permissions = models.JSONField(default=list)
    privileged = models.BooleanField(default=False)
    remote_access = models.BooleanField(
        default=False, help_text="May reach patient data from outside the clinical network."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RoleAssignment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        ACTIVE = "active", "Active"
        REJECTED = "rejected", "Rejected"
        REVOKED = "revoked", "Revoked"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="role_assignments")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(max_length=10, choices=Status.choices)
    reason = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        help_text="Null when granted by the command line at bootstrap.",
    )
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=Q(status__in=["pending", "active"]),
                name="one_open_assignment_per_user_role",
            ),
        ]
        indexes = [models.Index(fields=["user", "status"])]

    def __str__(self) -> str:
        return f"{self.role.code} for user {self.user_id} ({self.status})"


class UserSession(models.Model):
    """SafeWard's record of a signed-in session, checked on every request."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="safeward_sessions")
    session_key = models.CharField(max_length=40, db_index=True)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    mfa_at = models.DateTimeField(null=True, blank=True)
    client_ip = models.GenericIPAddressField(null=True)
    network_zone = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "ended_at"]),
            # The session control reads the sessions begun in its look-back window (ADR 0920).
            models.Index(fields=["created_at"], name="identity_session_created"),
        ]

    def __str__(self) -> str:
        return f"session {self.id} of user {self.user_id}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class NetworkZone(models.Model):
    """A named set of networks. `clinical` zones are inside the hospital's
    clinical network; everything else is remote."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=200, blank=True)
    cidrs = models.JSONField(default=list, help_text="CIDR ranges, e.g. 10.20.0.0/16")
    clinical = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(cidr, strict=False) for cidr in self.cidrs]


class SingleSessionRole(models.Model):
    """A role whose holders may have one session at a time: a new sign-in
    ends the account's older sessions (ADR 0009). Chosen by the security
    officer; none by default."""

    role = models.OneToOneField(Role, on_delete=models.CASCADE, related_name="single_session")
    set_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, related_name="+")
    set_at = models.DateTimeField()

    class Meta:
        ordering = ["role__code"]

    def __str__(self) -> str:
        return f"one session at a time for {self.role_id}"


class RateCounter(models.Model):
    """One rate-limit counter for one window (ADRs 1216, 0203): the login
    throttles and the questionnaire link's limits, when the cache is the
    database cache, whose increment is a read then a write (a burst overshoots
    a limit). `identity.counters` increments and reads it back in one statement.
    No PHI and no account name: the key holds the window and a hash."""

    key = models.CharField(max_length=80, primary_key=True)
    hits = models.PositiveIntegerField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"rate counter {self.key}"
