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

History is written through the services under a clock set back to when it
happened. Idempotent: nothing is done when the vendors exist."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from safeward import clock
from safeward.fhir import clients as fhir_clients
from safeward.identity import services as identity_services
from safeward.identity.models import User
from safeward.vendors import documents, selectors, services

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

TRANSCRIPTION = "ScribeRight Transcription"
LAB = "Northwind Reference Lab"
PUMPS = "InfuServ Remote Support"
BILLING = "ClearPath Claims"
LAPSED = "QuickScribe Analytics"
_DEMO_PDF = (
    b"%PDF-1.4\n% SafeWard demo: Business Associate Agreement BAA-2024-003 between the demo hospital"
    b" and Northwind Reference Laboratories LLC (synthetic, no real party)\n%%EOF\n"
)


@contextmanager
def _at(moment: dt.datetime) -> Iterator[None]:
    previous = clock.install(clock.FrozenClock(moment))
    try:
        yield
    finally:
        clock.install(previous)


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
    with _at(now - dt.timedelta(days=200)):
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
    with _at(services.end_moment(lapsed_end) + dt.timedelta(hours=2)):
        services.agreement_lapse_if_ended(agreement_id=quick_baa.pk, via="sweep")
    with _at(now - dt.timedelta(days=1)):
        services.vendors_check()  # the reminders the transcription service's owner has had
    ctx.write(f"Vendors: {TRANSCRIPTION} (BAA ends tomorrow), {LAB}, {PUMPS}, {BILLING}, {LAPSED} (lapsed)")
