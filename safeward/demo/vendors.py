"""The demo hospital's vendors (issue 16), owned by the privacy officer:

* Dictaphone-style transcription ("ScribeRight Transcription"): its BAA
  expires tomorrow; the list shows it ending and its owner has had reminders.
* A reference laboratory ("Northwind Reference Lab") with a SMART backend
  client (client credentials, its own service account) under its BAA.
* The infusion-pump remote-support vendor ("InfuServ Remote Support"): the
  demo vendor account (`demo.vendor`) and a support tunnel, under its BAA.
* A billing clearinghouse ("ClearPath Claims"): tacitly renewed BAA and an
  external API key recorded.
* "QuickScribe Analytics": its BAA lapsed last week; the sweep revoked its
  account and OAuth client the morning after, and its page says so.
* InfuServ's pump-data sync account read more patients' records this
  morning than its low-volume ceiling allows: one `vendor_bulk_access` alert
  once the detection worker runs (ADR 1212).
* Security questionnaires: the lab answered its link (review pending, for a
  second person to sign off); the transcription service's link is open. The
  clearinghouse's answers were signed off two months ago: its risk tier is
  the questionnaire's. The pump vendor's last signed-off questionnaire is past
  its next assessment date: it no longer counts, and the page says so.

History is written through the services under a clock set back to when it
happened. Idempotent: nothing is done when the vendors exist."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone
from jwt.algorithms import ECAlgorithm

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import SessionContext
from safeward.demo.clinical import CANARY
from safeward.fhir import clients as fhir_clients
from safeward.identity import services as identity_services
from safeward.identity.models import User
from safeward.vendors import documents, link_code, questionnaires, questions, selectors, services

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

TRANSCRIPTION = "ScribeRight Transcription"
LAB = "Northwind Reference Lab"
PUMPS = "InfuServ Remote Support"
BILLING = "ClearPath Claims"
LAPSED = "QuickScribe Analytics"
PUMP_SYNC = "svc.infuserv-sync"
BULK_PATIENTS = 11  # one more than `vendor_bulk_access`'s default ceiling for a low-volume vendor
ORDINARY = 5  # DEMO-00005: no flag, no decoy (safeward/demo/clinical.py)
# The demo physician finds the patients by MRN as the incidents demo does (the seeder may not search).
LOOKUP_SESSION = SessionContext(
    session_id="demo-vendors", reachable=True, reachable_reason="clinical_zone", step_up_fresh=True
)
_DEMO_PDF = (
    b"%PDF-1.4\n% SafeWard demo: Business Associate Agreement BAA-2024-003 between the demo hospital"
    b" and Northwind Reference Laboratories LLC (synthetic, no real party)\n%%EOF\n"
)


def _jwks() -> str:
    public = ec.generate_private_key(ec.SECP384R1()).public_key()  # the private half is the lab's: not kept
    jwk = json.loads(ECAlgorithm.to_jwk(public))
    return json.dumps({"keys": [{**jwk, "kid": "northwind-1"}]})


def _service_account(username: str) -> User:
    existing = User.objects.filter(username=username).first()
    return existing or identity_services.user_create(
        actor=None, username=username, first_name="Service", last_name="account", job_title="Lab interface"
    )


def seed_vendors(ctx: SeedContext) -> None:
    _seed_register(ctx)
    _plant_bulk_access(ctx)
    _seed_questionnaires(ctx)
    _seed_signed_off_assessments(ctx)


def _answer_through_link(
    sent: questionnaires.Sent, data: dict[str, str], uploads: list[questionnaires.Upload] | None = None
) -> None:
    """Play the vendor: open the link, read the e-mailed code (ADR 1214), enter it, answer."""
    questionnaire = questionnaires.questionnaire_by_token(token=sent.link)
    mail: list[str] = []
    link_code.code_send(questionnaire=questionnaire, outbox=mail)
    (code,) = re.findall(r"\b\d{6}\b", mail[0])
    pass_token = link_code.code_verify(questionnaire=questionnaire, code=code)
    questionnaires.questionnaire_answer(
        token=sent.link, pass_token=pass_token, data=data, uploads=uploads or []
    )


def _seed_signed_off_assessments(ctx: SeedContext) -> None:
    """ClearPath's questionnaire, signed off two months ago, is current: the
    list and its page show its tier and score. InfuServ's, signed off 14
    months ago with a high tier (reassess within 12 months), is overdue and no
    longer counts. Each sent by the privacy officer, answered through the link
    and signed off by the compliance officer. Once: nothing is done when
    ClearPath has a questionnaire."""
    billing = selectors.vendor_by_name(name=BILLING)
    if billing is None or selectors.questionnaires_list(vendor=billing).exists():
        return
    officer = User.objects.get(username="demo.privacy_officer")
    reviewer = User.objects.get(username="demo.compliance_officer")
    strong = {f"answer_{q.code}": "3" for q in questions.QUESTIONS}
    strong["answer_rc-1"] = "2"
    weak = {f"answer_{q.code}": "1" for q in questions.QUESTIONS}
    now = clock.now()
    for name, contact, email, answers, days_ago in (
        (BILLING, "Ana Ruiz (ClearPath security)", "security@clearpath-claims.example", strong, 60),
        (PUMPS, "Lee Park (InfuServ compliance)", "compliance@infuserv.example", weak, 425),
    ):
        vendor = selectors.vendor_by_name(name=name)
        if vendor is None:
            continue
        with clock.frozen_at(now - dt.timedelta(days=days_ago + 7)):
            sent = questionnaires.questionnaire_send(
                actor=officer,
                vendor=vendor,
                contact_name=contact,
                contact_email=email,
                link_for=lambda token: token,  # the demo answers it itself
            )
        with clock.frozen_at(now - dt.timedelta(days=days_ago + 2)):
            _answer_through_link(sent, answers)
        with clock.frozen_at(now - dt.timedelta(days=days_ago)):
            questionnaires.questionnaire_sign_off(
                actor=reviewer,
                questionnaire_id=sent.questionnaire.pk,
                note="Answers and evidence checked (demo).",
            )
    ctx.write(f"vendors: assessments: {BILLING} signed off (current), {PUMPS} signed off (overdue)")


def _seed_questionnaires(ctx: SeedContext) -> None:
    """The lab answered its security questionnaire three days ago (with its
    MFA policy as evidence) and waits for a second person's review; the
    transcription service's link, sent yesterday, is still open (ADR 1213).
    Once: nothing is done when any questionnaire exists."""
    lab = selectors.vendor_by_name(name=LAB)
    scribe = selectors.vendor_by_name(name=TRANSCRIPTION)
    if lab is None or scribe is None or selectors.questionnaires_list().exists():
        return
    officer = User.objects.get(username="demo.privacy_officer")
    now = clock.now()
    with clock.frozen_at(now - dt.timedelta(days=10)):
        sent = questionnaires.questionnaire_send(
            actor=officer,
            vendor=lab,
            contact_name="Priya Natarajan (Northwind security)",
            contact_email="security@northwind-lab.example",
            link_for=lambda token: token,  # the demo answers it itself
        )
    answers = {f"answer_{q.code}": "2" for q in questions.QUESTIONS}
    answers.update({"answer_pr-1": "3", "answer_rc-1": "1", "comment_rc-1": "Restore test planned for Q1."})
    with clock.frozen_at(now - dt.timedelta(days=3)):
        _answer_through_link(
            sent,
            answers,
            [
                questionnaires.Upload(
                    question="pr-1",
                    filename="northwind-mfa-policy.txt",
                    content_type="text/plain",
                    source=io.BytesIO(
                        b"Northwind Reference Lab: MFA is required for every account (demo).\n"
                    ),
                )
            ],
        )
    with clock.frozen_at(now - dt.timedelta(days=1)):
        questionnaires.questionnaire_send(
            actor=officer,
            vendor=scribe,
            contact_name="Tom Becker (ScribeRight compliance)",
            contact_email="compliance@scriberight.example",
            link_for=lambda token: f"/vendors/answer/{token}/",
        )
    ctx.write(f"vendors: questionnaires: {LAB} answered (review pending), {TRANSCRIPTION} waiting")


def _plant_bulk_access(ctx: SeedContext) -> None:
    """InfuServ's pump-data sync account, bound to its BAA, reads eleven
    patients' records: the vendor is registered for low volume, so the
    detection worker raises one `vendor_bulk_access` alert. The search and
    the read are recorded as the FHIR API records them (no PHI: patient ids
    only); the patients are found by MRN through the gateway. Once: nothing
    is done when the account is already bound."""
    pumps = selectors.vendor_by_name(name=PUMPS)
    physician = User.objects.filter(username="demo.physician").first()
    bound = User.objects.filter(username=PUMP_SYNC).first()
    if pumps is None or physician is None or (bound and selectors.vendor_id_for_user(user_id=bound.pk)):
        return
    agreement = pumps.agreements.filter(status="active").order_by("-end_date").first()
    if agreement is None:
        return
    # Bound and read at the last 10:00 (local), inside working hours, so only this rule has a say.
    local = timezone.localtime(clock.now())
    morning = local.replace(hour=10, minute=0, second=0, microsecond=0)
    if morning > local:
        morning -= dt.timedelta(days=1)
    sync = _service_account(PUMP_SYNC)
    with clock.frozen_at(morning - dt.timedelta(minutes=5)):
        services.credential_bind_account(actor=None, vendor=pumps, agreement=agreement, user=sync)
    # Eleven of the first twelve demo patients, never the decoy; the one record read is an
    # ordinary patient's (a read of the VIP or the employee would raise their own rules).
    numbers = [n for n in range(1, BULK_PATIENTS + 2) if n != CANARY]
    found: dict[int, str] = {}
    for number in numbers:
        page = gateway.patient_search(
            actor=physician,
            session=LOOKUP_SESSION,
            purpose=PurposeOfUse.TREATMENT,
            mrn=f"DEMO-{number:05d}",
        )
        found.update((number, result.id) for result in page.results)
    first = found.pop(ORDINARY, None)
    if first is None:
        return
    rest = list(found.values())
    with clock.frozen_at(morning):
        # A FHIR search whose bundle disclosed the patients (indexed per patient, ADR 0208)…
        audit_record(
            action=Action.SEARCH,
            actor=sync,
            resource_type="Patient",
            purpose=PurposeOfUse.OPERATIONS,
            fields=["device_data"],
            detail={"decision": "permit", "demo": True},
            source="api",
            patient_ids=rest,
        )
    with clock.frozen_at(morning + dt.timedelta(minutes=2)):
        # …and one record read: the access that has the rule count the vendor's patients.
        audit_record(
            action=Action.READ,
            actor=sync,
            resource_type="Patient",
            resource_id=first,
            patient_id=first,
            purpose=PurposeOfUse.OPERATIONS,
            fields=["device_data"],
            detail={"decision": "permit", "demo": True},
            source="api",
        )
    ctx.write(
        f"vendors: {PUMPS}'s sync account touched {len(rest) + 1} patients (a vendor_bulk_access alert)"
    )


def _seed_register(ctx: SeedContext) -> None:
    if selectors.vendor_by_name(name=TRANSCRIPTION) is not None:
        return
    officer = User.objects.get(username="demo.privacy_officer")
    it_admin = User.objects.get(username="demo.it_admin")
    now = clock.now()
    today = services.today()
    year_ago = today - dt.timedelta(days=365)

    scribe = services.vendor_create(
        actor=None,
        name=TRANSCRIPTION,
        legal_name="ScribeRight Transcription Inc.",
        identifiers="EIN 00-0000001 (demo)",
        services="Dictation transcription for outpatient clinics.",
        contacts="Account manager: accounts@scriberight.example",
        owner=officer,
        phi_categories=["clinical_notes", "demographics"],
        phi_volume="medium",
    )
    services.agreement_create(
        actor=None,
        vendor=scribe,
        kind="baa",
        reference="BAA-2025-014",
        start_date=year_ago,
        end_date=today + dt.timedelta(days=1),
        covers_phi=True,
        notice_days=60,
        breach_notice_days=30,
        end_of_term="destroy",
    )

    lab = services.vendor_create(
        actor=None,
        name=LAB,
        legal_name="Northwind Reference Laboratories LLC",
        services="Send-out laboratory tests; results returned over FHIR.",
        owner=officer,
        phi_categories=["demographics", "results"],
        phi_volume="high",
    )
    lab_baa = services.agreement_create(
        actor=None,
        vendor=lab,
        kind="baa",
        reference="BAA-2024-003",
        start_date=year_ago,
        end_date=today + dt.timedelta(days=400),
        covers_phi=True,
        breach_notice_days=10,
        subcontractors_allowed=True,
    )
    registration = fhir_clients.client_register(
        actor=None,
        name="Northwind lab results interface",
        owner=it_admin,
        grant="client-credentials",
        client_type="confidential",
        scopes="system/Observation.rs system/Patient.rs",
        jwks=_jwks(),
        service_account=_service_account("svc.northwind-lab"),
        expires_at=now + dt.timedelta(days=700),
    ).registration
    services.credential_bind_client(
        actor=None, vendor=lab, agreement=lab_baa, registration_id=registration.pk
    )
    # The signed BAA, stored encrypted with its hash (ADR 1211): a one-page text PDF.
    documents.document_add(
        actor=None,
        agreement=lab_baa,
        title="Signed BAA-2024-003",
        filename="BAA-2024-003.pdf",
        content_type="application/pdf",
        source=io.BytesIO(_DEMO_PDF),
    )

    pumps = services.vendor_create(
        actor=None,
        name=PUMPS,
        legal_name="InfuServ Medical Services GmbH",
        services="Remote support and firmware for the infusion pumps.",
        owner=officer,
        phi_categories=["device_data"],
        phi_volume="low",
    )
    pumps_baa = services.agreement_create(
        actor=None,
        vendor=pumps,
        kind="baa",
        reference="BAA-2025-021",
        start_date=year_ago,
        end_date=today + dt.timedelta(days=75),
        covers_phi=True,
        renewal="tacit",
        renewal_months=12,
        notice_days=90,
        breach_notice_days=30,
    )
    services.credential_bind_account(
        actor=None, vendor=pumps, agreement=pumps_baa, user=User.objects.get(username="demo.vendor")
    )
    services.credential_record_path(
        actor=None, vendor=pumps, agreement=pumps_baa, kind="remote_support", label="Pump support VPN tunnel"
    )

    billing = services.vendor_create(
        actor=None,
        name=BILLING,
        legal_name="ClearPath Claims Clearinghouse Corp.",
        services="Claims submission and remittance.",
        owner=officer,
        phi_categories=["billing", "demographics"],
        phi_volume="high",
    )
    billing_baa = services.agreement_create(
        actor=None,
        vendor=billing,
        kind="baa",
        reference="BAA-2023-007",
        start_date=today - dt.timedelta(days=3 * 365),
        end_date=today - dt.timedelta(days=2 * 365),
        covers_phi=True,
        renewal="tacit",
        renewal_months=12,
        notice_days=90,
        breach_notice_days=45,
    )
    services.credential_record_path(
        actor=None,
        vendor=billing,
        agreement=billing_baa,
        kind="api_key",
        label="Claims API key (held by ClearPath)",
    )

    lapsed_end = today - dt.timedelta(days=7)
    with clock.frozen_at(now - dt.timedelta(days=200)):
        quick = services.vendor_create(
            actor=None,
            name=LAPSED,
            legal_name="QuickScribe Analytics Ltd.",
            services="Speech analytics pilot.",
            owner=officer,
            phi_categories=["clinical_notes"],
            phi_volume="low",
        )
        quick_baa = services.agreement_create(
            actor=None,
            vendor=quick,
            kind="baa",
            reference="BAA-PILOT-2",
            start_date=today - dt.timedelta(days=200),
            end_date=lapsed_end,
            covers_phi=True,
            breach_notice_days=30,
        )
        pilot_user = _service_account("svc.quickscribe")
        services.credential_bind_account(actor=None, vendor=quick, agreement=quick_baa, user=pilot_user)
        pilot_client = fhir_clients.client_register(
            actor=None,
            name="QuickScribe pilot app",
            owner=it_admin,
            grant="authorization-code",
            client_type="public",
            scopes="openid fhirUser launch/patient patient/*.rs",
            redirect_uris="https://quickscribe.example/callback",
            expires_at=clock.now() + dt.timedelta(days=365),
        ).registration
        services.credential_bind_client(
            actor=None, vendor=quick, agreement=quick_baa, registration_id=pilot_client.pk
        )
    with clock.frozen_at(services.end_moment(lapsed_end) + dt.timedelta(hours=2)):
        services.agreement_lapse_if_ended(agreement_id=quick_baa.pk, via="sweep")
    with clock.frozen_at(now - dt.timedelta(days=1)):
        services.vendors_check()  # the reminders the transcription service's owner has had
    ctx.write(f"Vendors: {TRANSCRIPTION} (BAA ends tomorrow), {LAB}, {PUMPS}, {BILLING}, {LAPSED} (lapsed)")
