"""Issue 11 item 2: rotating, re-encrypting and retiring a data key must keep
every stream-encrypted file readable: clinical documents and audit archives."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command

from safeward import clock
from safeward.audit import signing
from safeward.audit.archive import archive_load, archive_verify_offline, audit_archive_create
from safeward.audit.sealing import audit_seal_pending
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.crypto.keyring import keyring
from safeward.crypto.stores import all_stores
from safeward.crypto.streams import stream_key_id
from tests.audit.helpers import record_reads
from tests.clinical.conftest import WARD, new_patient, relate
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db

CONTENT = b"%PDF-1.4 discharge letter " + bytes(range(256)) * 9000  # over 2 MiB: two stream segments


@pytest.fixture
def files(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.SAFEWARD_AUDIT_DIR = tmp_path / "audit"
    settings.SAFEWARD_AUDIT_CHECKPOINT_FILE = tmp_path / "audit" / "checkpoints.jsonl"
    settings.SAFEWARD_AUDIT_ARCHIVE_DIR = tmp_path / "audit" / "archive"
    previous = signing.install(None)
    yield tmp_path
    signing.install(previous)


def keys(*args: str) -> str:
    out = io.StringIO()
    call_command("keys", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def upload(doctor, patient):
    return gateway.document_upload(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        title="Discharge letter",
        content_type="application/pdf",
        source=io.BytesIO(CONTENT),
        size=len(CONTENT),
    )


def open_document(doctor, patient, document_id):
    _, chunks = gateway.document_open(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        document_id=document_id,
    )
    return b"".join(chunks)


def test_document_and_archive_survive_rotate_reencrypt_retire(files, make_user, frozen_clock):
    patient = new_patient()
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    document = upload(doctor, patient)
    document_file = files / "var" / "clinical" / "documents" / f"{document.id}.swf"

    record_reads(4, patient="p-archived")
    audit_seal_pending(write_checkpoints=False)
    frozen_clock.advance(days=3000)
    plan = audit_archive_create(actor=None, before=clock.now() - dt.timedelta(days=6 * 365 + 2))
    assert plan is not None
    archive = files / "audit" / "archive" / plan.file_name
    old_key = keyring().primary()
    with archive.open("rb") as handle:
        assert stream_key_id(handle) == old_key.key_id

    status = keys("status")
    assert "clinical.document files: 1" in status
    assert "audit archives: 1" in status

    keys("rotate")
    assert "Moved" in keys("reencrypt", "--no-progress")
    assert "Every value is under the primary data key" in keys("status")
    frozen_clock.advance(minutes=30)
    assert "retired" in keys("retire", "--version", str(old_key.version))
    keyring().reset()

    with document_file.open("rb") as handle:
        assert stream_key_id(handle) == keyring().primary().key_id
    assert open_document(doctor, patient, document.id) == CONTENT

    output = files / "loaded.jsonl"
    assert archive_load(path=archive, output=output) >= 4
    assert "p-archived" in {json.loads(line)["patient_id"] for line in output.read_text().splitlines()}
    verifier = signing.PublicKeyVerifier.from_pem(
        [pem.encode() for pem in signing.get_signer().public_keys_pem().values()]
    )
    assert archive_verify_offline(path=archive, verifier=verifier) == []


def test_retire_is_refused_while_a_file_is_under_the_key(files, make_user, frozen_clock):
    patient = new_patient()
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    upload(doctor, patient)
    old_key = keyring().primary()
    keys("rotate")
    with clinical_test_data():
        for store in all_stores():  # everything moves but the document files
            if store.label != "clinical.document files":
                for _ in store.reencrypt(batch_size=100, on_batch=lambda moved: None):
                    pass
    frozen_clock.advance(minutes=30)
    with pytest.raises(CommandError, match="still protects 1 values"):
        keys("retire", "--version", str(old_key.version))
