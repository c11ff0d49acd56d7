import pytest

from tests.conftest import totp_now
from tests.factories import TEST_PASSWORD


@pytest.mark.django_db
def test_password_then_totp_reaches_dashboard(client, make_user):
    user = make_user("nurse")
    response = client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    assert client.get("/").status_code == 302  # nothing but the MFA step
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_now(user.test_totp_secret)})
    assert response.status_code == 302
    response = client.get("/")
    assert response.status_code == 200
    assert b"Nurse" in response.content


@pytest.mark.django_db
def test_drill_usernames_are_reserved_for_drill_accounts():
    from django.core.exceptions import ValidationError

    from safeward.identity import services as identity_services
    from safeward.identity.forms import UserCreateForm

    with pytest.raises(ValidationError, match="reserved for attack drills"):
        identity_services.user_create(actor=None, username="drill.admin")
    with pytest.raises(ValidationError, match=r"start with 'drill\.'"):
        identity_services.user_create(actor=None, username="admin2", drill=True)
    form = UserCreateForm({"username": "drill.nurse", "first_name": "A", "last_name": "B"})
    assert not form.is_valid()
    assert "reserved for attack drills" in form.errors["username"][0]
    assert identity_services.user_create(actor=None, username="drill.ok", drill=True).username == "drill.ok"
