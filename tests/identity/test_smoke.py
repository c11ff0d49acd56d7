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
