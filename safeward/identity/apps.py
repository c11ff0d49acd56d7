from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.apps import AppConfig

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser


def _sync_role_catalog(sender: AppConfig, **kwargs: Any) -> None:
    """The data migration seeds the roles once; a database flush (tests,
    `safeward flush`) removes them, and Django re-emits post_migrate after it."""
    from django.db import connections

    from safeward.identity.models import Role
    from safeward.identity.roles import sync_roles

    using = kwargs.get("using", "default")
    if Role._meta.db_table in connections[using].introspection.table_names():
        sync_roles(Role)


def _register_mfa_secrets() -> None:
    """allauth's TOTP secrets and recovery seeds are sealed by our MFAAdapter
    (purpose `mfa`): register where they live, so key rotation moves them."""
    from safeward.crypto.registry import register_store
    from safeward.crypto.stores import JSONSecretStore

    register_store(
        JSONSecretStore(
            "mfa.Authenticator",
            "data",
            ("secret", "seed", "migrated_codes"),
            "mfa",
            writers=("safeward.identity.adapters",),
        )
    )


def _register_actor_roles() -> None:
    """The audit writer stamps every event with its actor's roles; it sits
    below identity, so identity hands it the roles (ADR 0566)."""
    from safeward.audit.services import register_actor_roles
    from safeward.identity.models import User
    from safeward.identity.selectors import user_role_codes

    def actor_roles(actor: AbstractBaseUser) -> list[str]:
        return user_role_codes(user=cast(User, actor))  # the account model is identity's User

    register_actor_roles(actor_roles)


class IdentityConfig(AppConfig):
    name = "safeward.identity"
    label = "identity"
    verbose_name = "Identity and access"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from safeward.identity import checks, receivers

        receivers.connect()
        checks.register()
        _register_mfa_secrets()
        _register_actor_roles()
        post_migrate.connect(_sync_role_catalog, sender=self, dispatch_uid="safeward.identity.roles")
