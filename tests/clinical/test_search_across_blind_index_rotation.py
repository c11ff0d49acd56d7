"""The gateway's patient search (MRN, national id, name prefixes) keeps
finding patients before, during and after a blind-index key rotation, and
a bulk import still sees MRNs indexed under the old key (issue 11 item 2)."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.gateway.bulk import existing_mrns
from safeward.crypto.keyring import Purpose, keyring
from safeward.crypto.services import Actor, key_retire, key_rotate, keys_reencrypt
from tests.clinical.conftest import WARD, new_patient
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db
OPERATOR = Actor(name="test")
BIRTH = dt.date(1980, 2, 3)  # new_patient's default: a name search by a stranger needs it (ADR 0728)


def search(clerk, **criteria) -> set[str]:
    page = gateway.patient_search(actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, **criteria)
    return {r.id for r in page.results}


def test_search_before_during_and_after(make_user, frozen_clock):
    first = new_patient(given="Zelda", family="Oyelaran-Quist", mrn="MRN-0042")
    other = new_patient(given="Bob", family="Other", mrn="MRN-0043")
    clerk = make_user("registration_clerk")
    same_national_id = {first, other}  # every test patient has the same national id

    def everything_found() -> None:
        assert search(clerk, name="oye zel", birth_date=BIRTH) == {first}
        assert search(clerk, mrn="mrn0042") == {first}
        assert search(clerk, national_id="123 45 6789") == same_national_id
        with clinical_test_data():
            assert existing_mrns(["MRN-0042", "MRN-9999"]) == {"MRN-0042"}

    everything_found()
    key_rotate(actor=OPERATOR, purpose=Purpose.BLIND_INDEX)
    everything_found()
    late = new_patient(given="Ada", family="Oyelaran", mrn="MRN-0044")  # indexed under the new key
    same_national_id.add(late)
    assert search(clerk, name="oyel", birth_date=BIRTH) == {first, late}
    assert keys_reencrypt(actor=OPERATOR, batch_size=1).remaining == 0
    everything_found()
    frozen_clock.advance(minutes=30)
    key_retire(actor=OPERATOR, version=1, purpose=Purpose.BLIND_INDEX)
    keyring().reset()
    everything_found()
    assert search(clerk, name="oyel", birth_date=BIRTH) == {first, late}
