"""The demo hospital's shared drive, with files planted for the PHI
discovery scanner (issue 13): a clinic list a registration clerk exported
to CSV (read through the gateway, so the audit trail shows how it got
there), the same list in an AES-encrypted ZIP, and clean documents. The
drive is a registered file-share asset with the clean documents on it when
the schedule's first tick runs (ADR 1506): that night's share scan reads
them and finds nothing. The clerk's export and the ZIP are planted after it
(`seed_phi_share_exports`), so the privacy officer's "Scan now" on the
findings page reads the two new files, skips the three unchanged ones, and
finds the CSV.

Files already there are left as they are (a finding remediated in the demo
stays remediated until the file is planted again by a later seed)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from safeward.assets.discovery_selectors import share_at
from safeward.assets.services import asset_create
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import SessionContext
from safeward.demo.assets import SHARE_OWNERS, demo_people, owners_values
from safeward.demo.share_files import write_csv, write_docx, write_encrypted_zip, write_pdf, write_xlsx

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

SHARE_NAME = "Shared drive S: (registration and finance)"
EXPORTED_MRNS = [
    f"DEMO-{number:05d}" for number in range(5, 13)
]  # not the VIP, employee, confidential or canary
HEADER = ["mrn", "family_name", "given_name", "birth_date", "clinic"]


def share_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-share"


def _clinic_list(ctx: SeedContext) -> list[list[str]]:
    """The rows a clerk's export would hold, read through the one door as the clerk."""
    clerk = next(
        (user for credential, user in ctx.credentials if credential.role == "registration_clerk"), None
    )
    if clerk is None:
        return []
    rows = []
    for mrn in EXPORTED_MRNS:
        page = gateway.patient_search(
            actor=clerk, session=SessionContext.system(), purpose=PurposeOfUse.OPERATIONS, mrn=mrn
        )
        for patient in page.results:
            if patient.mrn and patient.family_name and patient.birth_date:
                birth = patient.birth_date.isoformat()
                rows.append(
                    [patient.mrn, patient.family_name, patient.given_name or "", birth, "Internal medicine"]
                )
    return rows


def seed_phi_share(ctx: SeedContext) -> None:
    """The drive, registered, with its clean documents."""
    root = share_path()
    planted = []
    policies = root / "policies"
    policies.mkdir(parents=True, exist_ok=True)
    clean: dict[Path, Callable[[Path], Path]] = {
        policies / "hand-hygiene.docx": lambda path: write_docx(
            path,
            ["Hand hygiene policy", "Clean hands before and after every patient contact.", "Review yearly."],
        ),
        policies / "visiting-hours.pdf": lambda path: write_pdf(
            path,
            [
                "Visiting hours",
                "Wards: 14:00 to 20:00.",
                "Intensive care: by arrangement with the nurse in charge.",
            ],
        ),
        root / "facilities" / "fire-drill-checklist.xlsx": lambda path: write_xlsx(
            path,
            ["Item", "Done"],
            [["Alarm tested", "yes"], ["Exits clear", "yes"], ["Extinguishers checked", "no"]],
        ),
    }
    for path, write in clean.items():
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            planted.append(write(path))
    if share_at(str(root)) is None:
        asset_create(
            actor=None,
            values={
                "name": SHARE_NAME,
                "kind": "file_share",
                "location": str(root),
                "description": "Departmental shared drive. Nobody has checked what is on it.",
                "network_zone": "Corporate LAN",
                **owners_values(demo_people(ctx), SHARE_OWNERS),
            },
        )
    ctx.write(f"demo file share: {root} ({len(planted)} file(s) planted)")


def seed_phi_share_exports(ctx: SeedContext) -> None:
    """The clerk's clinic-list export and the encrypted ZIP of it, planted on
    the drive after the night's scheduled share scan (ADR 1506)."""
    root = share_path()
    planted = []
    export = root / "registration" / "clinic-list-export.csv"
    archive = root / "finance" / "claims-2025-q4.zip"
    if not export.exists() or not archive.exists():
        rows = _clinic_list(ctx)
        if rows:
            export.parent.mkdir(parents=True, exist_ok=True)
            archive.parent.mkdir(parents=True, exist_ok=True)
            if not export.exists():
                planted.append(write_csv(export, HEADER, rows))
            if not archive.exists():
                body = "\n".join(",".join(row) for row in [HEADER, *rows]).encode("utf-8")
                planted.append(
                    write_encrypted_zip(archive, {"claims.csv": body}, password=secrets.token_urlsafe(16))
                )
    ctx.write(f"demo file share: {len(planted)} export(s) planted since the night's scan")
