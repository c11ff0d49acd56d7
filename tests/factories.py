"""Factories for synthetic test data only."""

from __future__ import annotations

import functools

import factory
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import generate_totp_secret
from django.contrib.auth.hashers import get_hasher, make_password

from safeward.identity.models import Department, Role, RoleAssignment, StaffProfile, User

TEST_PASSWORD = "correct horse battery staple 42"


@functools.cache
def _test_password_hash(algorithm: str) -> str:
    return make_password(TEST_PASSWORD, hasher=algorithm)


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"dept-{n}")
    name = factory.Sequence(lambda n: f"Department {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@hospital.test")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        if extracted:
            self.set_password(extracted)
        else:
            # The real hash of TEST_PASSWORD, computed once per run and hasher:
            # hashing costs about half a second, and most tests make several users.
            # Keyed by the current hasher because some tests switch PASSWORD_HASHERS
            # (a hash made by a hasher no longer listed would not verify).
            self.password = _test_password_hash(get_hasher().algorithm)
        if create:
            self.save(update_fields=["password"])

    @factory.post_generation
    def profile(self, create, extracted, **kwargs):
        if create:
            StaffProfile.objects.create(user=self, department=extracted, job_title="Staff")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        """roles=["physician", ...] grants active roles directly (test setup, not the flow)."""
        if create and extracted:
            for code in extracted:
                RoleAssignment.objects.create(
                    user=self,
                    role=Role.objects.get(code=code),
                    status=RoleAssignment.Status.ACTIVE,
                    requested_at=factory.Faker._get_faker().date_time(tzinfo=__import__("datetime").UTC),
                )

    @factory.post_generation
    def totp_secret(self, create, extracted, **kwargs):
        """totp_secret=True enrols a TOTP authenticator; the secret is kept on
        the instance as `test_totp_secret` for the test to compute codes."""
        if create and extracted:
            secret = generate_totp_secret()
            Authenticator.objects.create(
                user=self,
                type=Authenticator.Type.TOTP,
                data={"secret": get_mfa_adapter().encrypt(secret)},
            )
            self.test_totp_secret = secret
