import pytest


@pytest.fixture
def role_catalog(transactional_db):
    """Transactional tests flush the database, seeded roles included; put them back."""
    from safeward.identity.models import Role
    from safeward.identity.roles import sync_roles

    sync_roles(Role)
