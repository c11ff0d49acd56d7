"""Every workforce page: refused without its permission, shown with it."""

from __future__ import annotations

import pytest

from safeward.workforce.models import ReviewCampaign

HR_PAGES = ["/workforce/", "/workforce/training/", "/workforce/terminations/", "/workforce/reviews/"]


@pytest.mark.parametrize("path", [*HR_PAGES, "/workforce/people/new/", "/workforce/import/"])
def test_hr_pages_refuse_a_nurse(signed_in, path):
    client, _ = signed_in("nurse")
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", HR_PAGES)
def test_hr_pages_show_for_hr(signed_in, catalog, make_person, make_user, path):
    make_person(user=make_user("nurse"), last_name="Listed")
    client, _ = signed_in("hr_officer")
    response = client.get(path)
    assert response.status_code == 200


def test_person_pages(signed_in, make_person, make_user, catalog):
    person = make_person(user=make_user("nurse"), last_name="Visible")
    client, _ = signed_in("hr_officer")
    page = client.get(f"/workforce/people/{person.pk}/").content.decode()
    assert "Visible" in page
    assert "Terminate" in page
    assert client.get("/workforce/people/999999/").status_code == 404
    response = client.post(
        "/workforce/people/new/",
        {
            "employee_number": "Z-1",
            "first_name": "Zed",
            "last_name": "New",
            "kind": "student",
            "start_date": "2026-12-01",
        },
    )
    assert response.status_code == 302


def test_my_page_for_everyone(signed_in):
    client, _ = signed_in("nurse")
    assert client.get("/workforce/me/").status_code == 200


def test_review_report_needs_audit_permission(signed_in, db):
    from safeward import clock

    campaign = ReviewCampaign.objects.create(name="c", created_at=clock.now(), deadline=clock.now())
    client, _ = signed_in("hr_officer")
    assert client.get(f"/workforce/reviews/{campaign.pk}/report/").status_code == 403


def test_navigation_shows_workforce_to_hr_only(signed_in, make_user):
    from safeward.web.navigation import navigation_for

    labels = [item["label"] for item in navigation_for(make_user("hr_officer"))]
    assert "Workforce" in labels
    assert "My training & reviews" in labels
    assert "Workforce" not in [item["label"] for item in navigation_for(make_user("nurse"))]
