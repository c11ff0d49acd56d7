"""What the acknowledgement gate costs on every request (issue 18, ADR 0930):
the nurse's dashboard with the gate against the same page with the gate's
three hooks (permission filter, interstitial middleware, banner) answering
"nothing pending" without a query, alternating rounds in one process, same
database, same session.

The nurse holds a role that `--policies` published documents are required
for, and has acknowledged every current revision (the steady state: the
gate's statement runs and finds nothing). The queries per request are
counted for both paths, and for a nurse with every policy still pending
(set aside for the session), to show the cost does not grow with the number
of policies (no N+1).

    .venv/bin/python bench/policy_gate.py [--policies 30] [--requests 300] [--rounds 5]

Embedded SQLite unless SAFEWARD_DATABASE_URL points at PostgreSQL.
In-process timing (Django's test client, no HTTP): the two paths differ only
by the gate, which is what the ratio is about.
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import ExitStack
from typing import Any
from unittest import mock

from _setup import configure, machine, make_user

PAGE = "/"


def prepare(policies: int) -> tuple[Any, Any]:
    from safeward.identity.models import RoleAssignment
    from safeward.policies import services

    author, _ = make_user("bench.author", "compliance_officer")
    approver, _ = make_user("bench.approver", "privacy_officer")
    nurse, _ = make_user("bench.nurse", "nurse")
    pending, _ = make_user("bench.pending", "nurse")
    RoleAssignment.objects.filter(user__in=[author, approver, nurse, pending]).update(status="active")
    for n in range(policies):
        document = services.document_create(
            actor=author,
            code=f"policy-{n}",
            title=f"Policy {n}",
            kind="policy",
            owner=author,
            roles=("nurse",),
        )
        revision = services.revision_draft(
            actor=author, document_id=document.pk, body=f"# Policy {n}\n\nText."
        )
        services.revision_submit(actor=author, revision_id=revision.pk)
        services.revision_approve(actor=approver, revision_id=revision.pk)
        services.revision_publish(actor=approver, revision_id=revision.pk)
        services.acknowledgement_record(actor=nurse, revision_id=revision.pk)
    return nurse, pending


def client_for(user: Any, *, defer: bool = False) -> Any:
    from django.test import Client

    from safeward.identity import services
    from safeward.identity.middleware import SESSION_ID_KEY
    from safeward.policies.gate import gate_state
    from safeward.policies.middleware import DEFERRED

    client = Client()
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    session = client.session
    user_session = services.session_start(
        user=user,
        session_key=session.session_key or "",
        client_ip="127.0.0.1",
        network_zone="outside",
        user_agent="bench",
        mfa_at_now=True,
    )
    session[SESSION_ID_KEY] = str(user_session.pk)
    if defer:
        session[DEFERRED] = [p.revision_id for p in gate_state(user).pending]
    session.save()
    return client


def gate_off() -> ExitStack:
    """The gate's hooks see nothing pending and run no query."""
    from safeward.policies.gate import CLEAR

    stack = ExitStack()
    for target in (
        "safeward.policies.gate.gate_state",
        "safeward.policies.middleware.gate_state",
        "safeward.policies.context_processors.gate_state",
    ):
        stack.enter_context(mock.patch(target, return_value=CLEAR))
    return stack


def timed(client: Any, requests: int) -> float:
    start = time.perf_counter()
    for _ in range(requests):
        response = client.get(PAGE, secure=True)
        assert response.status_code == 200, response.status_code
    return (time.perf_counter() - start) / requests


def queries(client: Any) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(PAGE, secure=True)
    assert response.status_code == 200, response.status_code
    return len(captured)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policies", type=int, default=30)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    configure()
    from django.conf import settings

    nurse, pending = prepare(args.policies)
    client = client_for(nurse)
    deferred = client_for(pending, defer=True)
    timed(client, 20)  # warm up
    timed(deferred, 5)
    with gate_off():
        timed(client, 20)
        off_queries = queries(client)
    on_queries = queries(client)
    pending_queries = queries(deferred)
    # Short alternating batches, so background load on the machine hits both alike.
    batch = max(1, args.requests // 10)
    on: list[float] = []
    off: list[float] = []
    for _ in range(args.rounds * 10):
        on.append(timed(client, batch))
        with gate_off():
            off.append(timed(client, batch))
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"machine: {machine()}; database: {engine}")
    print(
        f"{args.policies} published policies required for the nurse's role;"
        f" {len(on)} alternating batches of {batch} requests per path"
    )
    print(
        f"queries per request: gate off {off_queries}, gate on {on_queries},"
        f" {args.policies} pending (set aside) {pending_queries}"
    )
    from safeward.identity.selectors import user_role_codes
    from safeward.policies import gate

    codes = user_role_codes(user=nurse)
    start = time.perf_counter()
    for _ in range(args.requests):
        gate._compute(nurse, codes)
    alone = (time.perf_counter() - start) / args.requests * 1000
    print(f"the gate's statement alone: {alone:.3f} ms per call")
    on_ms, off_ms = statistics.median(on) * 1000, statistics.median(off) * 1000
    print(f"dashboard, gate off: median {off_ms:.2f} ms per request")
    print(f"dashboard, gate on:  median {on_ms:.2f} ms per request")
    print(f"ratio on/off: {on_ms / off_ms:.3f} (goal <= 1.1)")


if __name__ == "__main__":
    main()
