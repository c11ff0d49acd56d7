"""Classification levels and handling rules, after HHS 405(d) HICP Technical
Volume 2 (Table 3, an example data classification schema, and Table 4, data
use procedures per classification), in SafeWard's words. Shown on the asset
pages so whoever handles an asset sees what its level asks of them."""

from __future__ import annotations

from dataclasses import dataclass

from safeward.assets.models import Classification


@dataclass(frozen=True)
class Handling:
    level: Classification
    meaning: str
    examples: str
    rules: tuple[tuple[str, str], ...]  # (what, rule)


HANDLING: dict[str, Handling] = {
    h.level.value: h
    for h in (
        Handling(
            Classification.HIGHLY_SENSITIVE,
            "Disclosure would cause significant harm to patients or the hospital and must be reported.",
            "Protected health information, national identifiers, payment card data, credentials and keys.",
            (
                ("Access", "Named people with a need to know, approved by the owner; every access logged."),
                (
                    "Storage",
                    "Encrypted at rest on hospital-approved systems only; never on personal devices.",
                ),
                (
                    "Transmission",
                    "Encrypted in transit (TLS, secure e-mail); never plain e-mail or removable media.",
                ),
                ("Sharing", "Only under a business associate agreement or law; each release manifested."),
                ("Printing", "Only when needed, collected at once, never left on printers."),
                ("Disposal", "Cryptographic erasure or certified destruction; paper shredded."),
            ),
        ),
        Handling(
            Classification.SENSITIVE,
            "Disclosure would harm the hospital's operations, staff or partners.",
            "Staff records, contracts, security configurations, incident reports, internal audits.",
            (
                ("Access", "Staff whose role needs it; access reviewed periodically."),
                ("Storage", "Hospital systems; encrypted on laptops and removable media."),
                ("Transmission", "Encrypted when it leaves the hospital network."),
                ("Sharing", "Outside parties under a confidentiality agreement."),
                ("Printing", "Kept out of public areas."),
                ("Disposal", "Secure deletion; paper shredded."),
            ),
        ),
        Handling(
            Classification.INTERNAL,
            "Meant for the workforce; disclosure would cause little harm.",
            "Policies, procedures, newsletters, organisation charts, non-sensitive schedules.",
            (
                ("Access", "Any member of the workforce."),
                ("Storage", "Hospital systems."),
                ("Transmission", "Hospital e-mail and collaboration tools."),
                ("Sharing", "With outside parties when the owner agrees."),
                ("Printing", "No restriction."),
                ("Disposal", "Ordinary deletion; recycling."),
            ),
        ),
        Handling(
            Classification.PUBLIC,
            "Approved for release to anyone.",
            "Press releases, the public website, patient leaflets, visiting hours.",
            (
                ("Access", "Anyone."),
                ("Storage", "Anywhere; the approved original kept by its owner."),
                ("Transmission", "No restriction."),
                ("Sharing", "No restriction once approved for release."),
                ("Printing", "No restriction."),
                ("Disposal", "No restriction."),
            ),
        ),
    )
}
