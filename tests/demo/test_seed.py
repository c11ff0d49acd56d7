import json
import stat

import pytest
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from django.core.management import call_command
from django.core.management.base import CommandError

from safeward.audit.models import AuditEvent
from safeward.demo import seed
from safeward.identity.models import Department, NetworkZone, RoleAssignment, User
from safeward.identity.network import client_address, zone_for
from safeward.identity.roles import CATALOG
from tests.conftest import totp_now

pytestmark = pytest.mark.django_db


def _credentials(settings):
    path = settings.VAR_DIR / seed.CREDENTIALS_FILENAME
    return path, json.loads(path.read_text())


def test_seed_refuses_outside_demo_mode(settings, tmp_path):
    settings.SAFEWARD_DEMO = False
    settings.VAR_DIR = tmp_path
    with pytest.raises(CommandError, match="SAFEWARD_DEMO"):
        call_command("demo", "seed")
    assert not User.objects.filter(username__startswith="demo.").exists()
    assert not (tmp_path / seed.CREDENTIALS_FILENAME).exists()


def test_seed_creates_the_demo_hospital(seeded_demo):

    assert set(Department.objects.values_list("code", flat=True)) >= {code for code, _ in seed.DEPARTMENTS}
    path, document = _credentials(seeded_demo)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entries = {entry["username"]: entry for entry in document["users"]}
    assert {entry["role"] for entry in entries.values()} == {spec.code for spec in CATALOG}
    adapter = get_mfa_adapter()
    for spec in CATALOG:
        entry = entries[f"demo.{spec.code}"]
        user = User.objects.get(username=entry["username"])
        assert user.check_password(entry["password"])
        assert len(entry["password"]) >= 20
        assert user.profile.department is not None
        assert not user.is_staff
        assert not user.is_superuser
        assignment = RoleAssignment.objects.get(user=user, role__code=spec.code)
        assert assignment.status == RoleAssignment.Status.ACTIVE
        if spec.privileged and spec.code != seed.BOOTSTRAP_ROLE:
            # Requested by HR, approved by the first administrator (ADR 0920).
            assert assignment.requested_by.username == "demo.hr_officer"
            assert assignment.decided_by.username == f"demo.{seed.BOOTSTRAP_ROLE}"
        else:
            assert assignment.requested_by is None  # the command line granted it
        totp = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
        assert adapter.decrypt(totp.data["secret"]) == entry["totp_secret"]
        assert entry["otpauth_uri"].startswith("otpauth://totp/")
        assert f"secret={entry['totp_secret']}" in entry["otpauth_uri"]
        assert entry["role_name"] == spec.name


def test_seed_declares_loopback_a_clinical_zone(seeded_demo, rf):
    zone = NetworkZone.objects.get(name=seed.DEMO_ZONE)
    assert zone.clinical
    assert "127.0.0.0/8" in zone.cidrs
    request = rf.get("/", REMOTE_ADDR="127.0.0.1")
    assert zone_for(client_address(request)).name == seed.DEMO_ZONE


def test_seed_is_idempotent(seeded_demo):
    _, first = _credentials(seeded_demo)
    counts = (
        User.objects.count(),
        RoleAssignment.objects.count(),
        Authenticator.objects.count(),
        Department.objects.count(),
        NetworkZone.objects.count(),
    )
    events = AuditEvent.objects.count()

    call_command("demo", "seed")
    _, second = _credentials(seeded_demo)
    assert second == first
    assert counts == (
        User.objects.count(),
        RoleAssignment.objects.count(),
        Authenticator.objects.count(),
        Department.objects.count(),
        NetworkZone.objects.count(),
    )
    assert AuditEvent.objects.count() == events  # nothing changed, nothing to record


def test_seed_reissues_credentials_when_the_file_is_lost(seeded_demo):
    path, first = _credentials(seeded_demo)
    path.unlink()

    call_command("demo", "seed")
    _, second = _credentials(seeded_demo)
    old = {entry["username"]: entry for entry in first["users"]}
    for entry in second["users"]:
        user = User.objects.get(username=entry["username"])
        assert entry["password"] != old[entry["username"]]["password"]
        assert user.check_password(entry["password"])
        assert not user.check_password(old[entry["username"]]["password"])
        assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).count() == 1
    assert RoleAssignment.objects.filter(user__username__startswith="demo.").count() == len(CATALOG)


def test_seed_repairs_a_changed_password(seeded_demo):
    _, document = _credentials(seeded_demo)
    entry = document["users"][0]
    user = User.objects.get(username=entry["username"])
    user.set_password("someone changed it in the web UI")
    user.save()

    call_command("demo", "seed")
    _, again = _credentials(seeded_demo)
    fixed = next(item for item in again["users"] if item["username"] == entry["username"])
    user.refresh_from_db()
    assert user.check_password(fixed["password"])


def test_failed_seed_leaves_nothing_behind(demo_settings, monkeypatch):
    def broken(ctx):
        raise RuntimeError("disk full")

    monkeypatch.setattr(seed, "SEED_STEPS", [*seed.SEED_STEPS, broken])
    with pytest.raises(RuntimeError):
        call_command("demo", "seed")
    assert not User.objects.filter(username__startswith="demo.").exists()
    assert not (demo_settings.VAR_DIR / seed.CREDENTIALS_FILENAME).exists()


def test_seed_steps_are_extensible(demo_settings, monkeypatch):
    seen = []
    monkeypatch.setattr(seed, "SEED_STEPS", [*seed.SEED_STEPS, lambda ctx: seen.append(len(ctx.credentials))])
    call_command("demo", "seed")
    assert seen == [len(CATALOG)]


def test_seeded_user_logs_in_with_password_and_totp(demo_settings, client):
    demo_settings.PASSWORD_HASHERS = ["safeward.identity.hashers.SafeWardArgon2PasswordHasher"]
    seed.seed_demo()
    _, document = _credentials(demo_settings)
    entry = next(item for item in document["users"] if item["role"] == "nurse")

    response = client.post("/accounts/login/", {"login": entry["username"], "password": entry["password"]})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_now(entry["totp_secret"])})
    assert response.status_code == 302
    # The demo's new acceptable-use revision waits for the nurse's acknowledgement (issue 18).
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/policies/acknowledge/")
    client.post("/policies/acknowledge/later/", {"next": "/"})
    response = client.get("/")
    assert response.status_code == 200
    assert b"Nurse" in response.content
    assert b"DEMO HOSPITAL" in response.content


def test_totp_command_prints_the_current_code(seeded_demo, capsys):
    _, document = _credentials(seeded_demo)
    entry = document["users"][0]
    call_command("demo", "totp", entry["username"])
    code = capsys.readouterr().out.strip()
    assert code in {totp_now(entry["totp_secret"], offset) for offset in (-1, 0, 1)}
    with pytest.raises(CommandError, match="No demo user"):
        call_command("demo", "totp", "demo.nobody")


def test_seed_registers_one_smart_app_once(seeded_demo):
    from safeward.fhir.clients import client_state
    from safeward.fhir.models import ClientRegistration

    registration = ClientRegistration.objects.get(application__name=seed.DEMO_SMART_APP)
    assert registration.owner.username == seed.demo_username("it_admin")
    assert client_state(registration) == "active"
    before = ClientRegistration.objects.count()  # the demo vendors' clients too (issue 16)
    call_command("demo", "seed")
    assert ClientRegistration.objects.count() == before
    assert ClientRegistration.objects.filter(application__name=seed.DEMO_SMART_APP).count() == 1


def test_the_demo_shows_two_person_approval_with_one_bootstrap_grant(seeded_demo):
    """The demo's privileged roles pass the two-person control but the first
    administrator's, granted at the command line (ADR 0920)."""
    from safeward import clock
    from safeward.compliance import discover

    checks = discover()["identity.privileged_roles_two_person"].run(clock.now())
    assert {check.label for check in checks if not check.passed} == {
        f"{seed.BOOTSTRAP_ROLE} for demo.{seed.BOOTSTRAP_ROLE}"
    }
    assert sum(check.passed for check in checks) == 4
