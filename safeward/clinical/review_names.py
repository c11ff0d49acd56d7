"""Patients named in the privacy office's review queues (issue 12): the
break-glass review here, the unexplained-access review in detection."""

from __future__ import annotations

from django.http import HttpRequest

from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import Forbidden, SessionContext
from safeward.identity.models import User
from safeward.identity.permissions import Perm


def queue_patient_names(request: HttpRequest, patient_ids: list[str]) -> dict[str, str]:
    """Name and MRN per patient id, for those who may see them (the privacy
    office: `audit:disclosure:read`), through the gateway and audited as a
    compliance review (ADR 0581); for everyone else nothing: the queue shows
    record ids."""
    user = request.user
    if not patient_ids or not isinstance(user, User) or not user.has_perm(Perm.AUDIT_DISCLOSURE_READ):
        return {}
    session = SessionContext.from_request(request)
    if not session.reachable:  # outside a clinical zone: record ids only (the decision would deny)
        return {}
    try:
        return gateway.patient_labels(
            actor=user,
            session=session,
            purpose=PurposeOfUse.AUDIT,
            patient_ids=patient_ids,
        )
    except Forbidden:  # e.g. workforce access blocked: the record ids still identify the records
        return {}
