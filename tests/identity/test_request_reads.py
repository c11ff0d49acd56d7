"""The fixed reads every signed-in request makes before its view (ADR 0309):
Django's session and user, the session guard's record, the workforce state,
the roles and the acknowledgement gate. Each is one statement, in that
order, and no more of them than before; on PostgreSQL all but Django's
user load are prepared statements with a generic plan. The compiled reads
answer exactly as the querysets they were compiled from (their refusals on
the next request are pinned by the session, workforce, role and gate tests)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from safeward import clock
from safeward.identity import selectors
from safeward.identity.middleware import _SESSION_READ, _session_of
from safeward.identity.models import RoleAssignment, UserSession
from safeward.identity.sessions import _SESSION_LOAD, _live_session
from safeward.workforce.models import Person, TrainingAssignment, TrainingCourse
from safeward.workforce.policy import _STATE_READ, _state_query

pytestmark = pytest.mark.django_db

# The table each fixed read starts from, in the order the middleware reads them.
FIXED = (
    '"django_session"',
    '"identity_user"',
    '"identity_usersession"',
    '"workforce_person"',
    '"identity_role"',
    "policies_policyrequirement",
)
ME = "/api/v1/me/"


def _statements(client, path: str, **extra) -> list[str]:
    assert client.get(path, **extra).status_code == 200  # second factor remembered, last seen written
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path, **extra).status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def _table(sql: str) -> str:
    return sql.split(" FROM ", 1)[1].split()[0] if " FROM " in sql else sql


@pytest.mark.parametrize(("path", "extra"), [(ME, {"HTTP_ACCEPT": "application/json"}), ("/", {})])
def test_a_signed_in_request_makes_the_six_fixed_reads_once_each_in_order(signed_in, path, extra):
    client, _ = signed_in("physician")
    statements = _statements(client, path, **extra)
    assert [_table(sql) for sql in statements[: len(FIXED)]] == list(FIXED)
    # None of them is read a second time later in the request.
    later = statements[len(FIXED) :]
    assert not [sql for sql in later for table in FIXED[2:4] if _table(sql) == table]
    assert not [sql for sql in later if "policies_policyrequirement" in sql]


def test_a_signed_in_rest_request_makes_no_more_statements_than_before(signed_in):
    client, _ = signed_in("physician")
    # /api/v1/me/ reads nothing the fixed reads have not: exactly six statements.
    statements = _statements(client, ME, HTTP_ACCEPT="application/json")
    assert len(statements) == len(FIXED), statements


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_on_postgresql_the_fixed_reads_are_prepared_with_a_generic_plan(signed_in):
    client, _ = signed_in("physician")
    for _ in range(3):
        _statements(client, ME, HTTP_ACCEPT="application/json")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements WHERE NOT from_sql"
        )
        prepared = cursor.fetchall()
    for table in (t for t in FIXED if t != '"identity_user"'):
        plans = [(generic, custom) for sql, generic, custom in prepared if _table(sql) == table]
        assert plans, f"{table}: not prepared"
        assert all(custom == 0 and generic >= 1 for generic, custom in plans), (table, plans)


def test_the_compiled_session_reads_answer_as_their_querysets(signed_in, frozen_clock):
    client, user = signed_in("physician")
    live = client.session.session_key
    other = UserSession.objects.create(
        user=user, session_key="x" * 32, created_at=clock.now(), last_seen_at=clock.now()
    )
    Session.objects.create(
        session_key="e" * 32, session_data="", expire_date=timezone.now() - dt.timedelta(1)
    )
    now = timezone.now()
    for key in (live, "e" * 32, "n" * 32):
        assert _SESSION_LOAD.rows(session_key=key, now=now) == list(_live_session(session_key=key, now=now))
    assert _SESSION_LOAD.rows(session_key=live, now=now)[0].session_data
    for pk in (other.pk, uuid.uuid4(), *UserSession.objects.values_list("pk", flat=True)):
        for user_id in (user.pk, user.pk + 1):
            found = _SESSION_READ.rows(pk=pk, user_id=user_id)
            expected = list(_session_of(pk=pk, user_id=user_id))
            assert found == expected
            assert [vars(s) | {"_state": None} for s in found] == [
                vars(s) | {"_state": None} for s in expected
            ]


def test_the_compiled_workforce_and_role_reads_answer_as_their_querysets(make_user, frozen_clock):
    user = make_user("physician", "registration_clerk")
    RoleAssignment.objects.filter(user=user, role__code="registration_clerk").update(
        status=RoleAssignment.Status.REVOKED
    )
    person = Person.objects.create(
        employee_number="E-READS",
        first_name="A",
        last_name="B",
        user=user,
        start_date=dt.date(2025, 1, 1),
        status=Person.Status.ACTIVE,
        access_ends_at=clock.now() + dt.timedelta(days=3),
    )
    for n, (days, done) in enumerate(((-9, False), (-4, False), (-20, True), (5, False))):
        TrainingAssignment.objects.create(
            person=person,
            course=TrainingCourse.objects.create(code=f"course-{n}", title=f"Course {n}"),
            assigned_at=clock.now() - dt.timedelta(days=30),
            due_at=clock.now() + dt.timedelta(days=days),
            completed_at=clock.now() if done else None,
        )
    now = clock.now()
    for user_id in (user.pk, user.pk + 1):
        assert _STATE_READ.rows(user_id=user_id, now=now) == list(_state_query(user_id=user_id, now=now))
        assert selectors._ROLES_READ.rows(user_id=user_id) == list(
            selectors._active_role_permissions(user_id=user_id)
        )
    ((person_id, status, ends, overdue),) = _STATE_READ.rows(user_id=user.pk, now=now)
    assert (person_id, status, ends.tzinfo is not None) == (person.pk, "active", True)
    assert overdue == now - dt.timedelta(days=9)
    ((code, permissions),) = selectors._ROLES_READ.rows(user_id=user.pk)
    assert code == "physician"
    assert isinstance(permissions, list)
    assert permissions


@pytest.mark.parametrize(
    "key", ["x" * 8, "z" * 40, "q" * 41, "k" * 4000, "ünïcödé-key-0123", "a' OR '1'='1", "%s%s%s%s"]
)
def test_a_forged_session_cookie_is_an_anonymous_request(client, key):
    """Whatever the cookie's session key (longer than the column, quoted,
    placeholders, non-ASCII), the prepared session read finds no session:
    the page sends the visitor to sign in, never an error."""
    from django.conf import settings

    client.cookies[settings.SESSION_COOKIE_NAME] = key
    response = client.get("/", secure=True)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
