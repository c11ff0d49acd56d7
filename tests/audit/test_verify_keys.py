"""Verification reads each signing public key once a run (ADR 1612), and a
seal whose signature does not match its block still fails with the key held."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safeward.audit import signing
from safeward.audit.models import AuditSeal
from safeward.audit.verification import audit_verify
from safeward.crypto.keyring import Purpose, keyring
from safeward.crypto.services import Actor, key_rotate
from tests.audit.conftest import seal_all
from tests.audit.helpers import record_reads, sql, superuser_bypass

pytestmark = pytest.mark.django_db


def _sealed(batches: int) -> None:
    for _ in range(batches):
        record_reads(3)
        seal_all()


def _key_reads(queries: CaptureQueriesContext) -> int:
    return sum('"crypto_datakey"' in query["sql"] for query in queries.captured_queries)


def test_the_keyring_signer_reads_each_public_key_once_a_run():
    assert isinstance(signing.get_signer(), signing.CryptoAppSigner)
    _sealed(4)
    with CaptureQueriesContext(connection) as queries:
        report = audit_verify()
    assert report.ok, report.problems
    assert report.seals == 4
    assert _key_reads(queries) == 1  # before: one a seal and one a checkpoint


def test_a_seal_with_another_seals_signature_fails_with_the_key_held():
    _sealed(3)
    first = AuditSeal.objects.get(number=1)
    with superuser_bypass():
        # A valid signature by the same (cached) key, over another block.
        sql("UPDATE audit_auditseal SET signature = %s WHERE number = 3", [first.signature])
    report = audit_verify()
    assert [(p.seal, p.kind, p.message) for p in report.problems] == [
        (3, "seal", "signature does not verify")
    ]


def test_seals_under_a_rotated_signing_key_verify_and_keep_their_own_key():
    _sealed(2)
    key_rotate(actor=Actor(name="test"), purpose=Purpose.SIGNING)
    keyring().refresh()
    _sealed(2)
    old, new = AuditSeal.objects.get(number=1), AuditSeal.objects.get(number=4)
    assert old.key_id != new.key_id
    assert audit_verify().ok
    with superuser_bypass():
        # The new seal's signature claimed by the old key: the old key's cached half must refuse it.
        sql("UPDATE audit_auditseal SET key_id = %s WHERE number = 4", [old.key_id])
    report = audit_verify()
    assert [(p.seal, p.message) for p in report.problems] == [(4, "signature does not verify")]


def test_a_run_does_not_reuse_another_runs_keys():
    _sealed(1)
    with CaptureQueriesContext(connection) as queries:
        assert audit_verify().ok
        assert audit_verify().ok
    assert _key_reads(queries) == 2
