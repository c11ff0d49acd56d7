"""CycloneDX VEX and OpenVEX: export the findings' analyses, import
analyses back (ADR 1304). A statement names a vulnerability (OSV id, or an
alias such as the CVE) and products: SafeWard's own finding URNs
(`urn:safeward:finding:<pk>`, what the export writes) or package URLs (every
finding of that vulnerability on a component with that purl)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from safeward import clock
from safeward.patching.models import Finding

FINDING_URN = re.compile(r"^urn:safeward:finding:(\d{1,18})$")
MAX_BYTES = 10 * 1024 * 1024
MAX_STATEMENTS = 20_000
OPENVEX_STATUS = {
    "not_affected": Finding.State.NOT_AFFECTED,
    "affected": Finding.State.EXPLOITABLE,
    "fixed": Finding.State.RESOLVED,
    "under_investigation": Finding.State.IN_TRIAGE,
}
STATE_OPENVEX = {
    Finding.State.NOT_AFFECTED: "not_affected",
    Finding.State.FALSE_POSITIVE: "not_affected",
    Finding.State.EXPLOITABLE: "affected",
    Finding.State.RESOLVED: "fixed",
    Finding.State.RESOLVED_WITH_PEDIGREE: "fixed",
    Finding.State.IN_TRIAGE: "under_investigation",
}
OPENVEX_JUSTIFICATION = {
    "component_not_present": "code_not_present",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}
JUSTIFICATION_OPENVEX = {
    "code_not_present": "vulnerable_code_not_present",
    "code_not_reachable": "vulnerable_code_not_in_execute_path",
    "requires_configuration": "vulnerable_code_cannot_be_controlled_by_adversary",
    "requires_dependency": "component_not_present",
    "requires_environment": "vulnerable_code_cannot_be_controlled_by_adversary",
    "protected_by_compiler": "inline_mitigations_already_exist",
    "protected_at_runtime": "inline_mitigations_already_exist",
    "protected_at_perimeter": "inline_mitigations_already_exist",
    "protected_by_mitigating_control": "inline_mitigations_already_exist",
}
NOT_AFFECTED_REASON_DEFAULT = "code_not_present"


class VexError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:5]))
        self.errors = errors[:50]


@dataclass(frozen=True)
class Statement:
    vulnerability: str
    products: tuple[str, ...]
    state: str
    justification: str = ""
    response: tuple[str, ...] = ()
    detail: str = ""


def _cyclonedx(document: dict[str, Any]) -> list[Statement]:
    errors: list[str] = []
    statements = []
    for index, item in enumerate(document.get("vulnerabilities") or []):
        where = f"vulnerabilities[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            errors.append(f"{where}: id is missing.")
            continue
        analysis = item.get("analysis") or {}
        state = analysis.get("state") if isinstance(analysis, dict) else None
        if state not in Finding.State.values:
            errors.append(f"{where}: analysis.state {str(state)[:30]!r} is not a CycloneDX state.")
            continue
        justification = str(analysis.get("justification") or "")
        if justification and justification not in Finding.Justification.values:
            errors.append(f"{where}: justification {justification[:40]!r} is not a CycloneDX value.")
            continue
        refs = tuple(str(a.get("ref", ""))[:1000] for a in item.get("affects") or [] if isinstance(a, dict))
        if not refs:
            errors.append(f"{where}: affects names no component.")
            continue
        statements.append(
            Statement(
                vulnerability=item["id"][:100],
                products=refs,
                state=state,
                justification=justification,
                response=tuple(str(r) for r in analysis.get("response") or []),
                detail=str(analysis.get("detail") or "")[:4000],
            )
        )
    if errors:
        raise VexError(errors)
    return statements


def _openvex(document: dict[str, Any]) -> list[Statement]:
    errors: list[str] = []
    statements = []
    for index, item in enumerate(document.get("statements") or []):
        where = f"statements[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{where}: must be an object.")
            continue
        vulnerability = item.get("vulnerability") or {}
        name = vulnerability.get("name") if isinstance(vulnerability, dict) else vulnerability
        status = item.get("status")
        if not isinstance(name, str) or status not in OPENVEX_STATUS:
            errors.append(f"{where}: needs vulnerability.name and a status ({', '.join(OPENVEX_STATUS)}).")
            continue
        justification = ""
        if status == "not_affected":
            raw = str(item.get("justification") or "")
            if raw not in OPENVEX_JUSTIFICATION and not item.get("impact_statement"):
                errors.append(f"{where}: not_affected needs a justification or an impact_statement.")
                continue
            justification = OPENVEX_JUSTIFICATION.get(raw, NOT_AFFECTED_REASON_DEFAULT)
        products = []
        for product in item.get("products") or []:
            if isinstance(product, dict):
                products.append(str(product.get("@id", ""))[:1000])
                identifiers = product.get("identifiers") or {}
                if isinstance(identifiers, dict) and identifiers.get("purl"):
                    products.append(str(identifiers["purl"])[:1000])
            elif isinstance(product, str):
                products.append(product[:1000])
        if not products:
            errors.append(f"{where}: products is empty.")
            continue
        statements.append(
            Statement(
                vulnerability=name[:100],
                products=tuple(products),
                state=OPENVEX_STATUS[status],
                justification=justification,
                response=("workaround_available",)
                if item.get("action_statement") and status == "affected"
                else (),
                detail=str(item.get("impact_statement") or item.get("action_statement") or "")[:4000],
            )
        )
    if errors:
        raise VexError(errors)
    return statements


def parse(raw: bytes) -> list[Statement]:
    if len(raw) > MAX_BYTES:
        raise VexError([f"The document is larger than {MAX_BYTES:,} bytes."])
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise VexError([f"Not JSON: {str(error)[:100]}."]) from None
    if not isinstance(document, dict):
        raise VexError(["A VEX document is a JSON object."])
    if document.get("bomFormat") == "CycloneDX":
        statements = _cyclonedx(document)
    elif str(document.get("@context", "")).startswith("https://openvex.dev/ns"):
        statements = _openvex(document)
    else:
        raise VexError(["Neither CycloneDX VEX (bomFormat) nor OpenVEX (@context)."])
    if len(statements) > MAX_STATEMENTS:
        raise VexError([f"More than {MAX_STATEMENTS:,} statements."])
    return statements


def findings_for(statement: Statement) -> list[Finding]:
    ids = [int(m.group(1)) for p in statement.products if (m := FINDING_URN.match(p))]
    purls = [p for p in statement.products if p.startswith("pkg:")]
    query = Q(pk__in=ids) | Q(purl__in=purls) if purls else Q(pk__in=ids)
    found = []
    for finding in Finding.objects.filter(query).select_related("advisory"):
        advisory = finding.advisory
        # Any id of the vulnerability names it: a VEX about the CVE covers the GHSA finding.
        if statement.vulnerability in {advisory.osv_id, *advisory.aliases, *finding.vuln_ids}:
            found.append(finding)
    return found


def _product(finding: Finding) -> str:
    return f"urn:safeward:finding:{finding.pk}"


def export_cyclonedx(findings: Iterable[Finding]) -> dict[str, Any]:
    vulnerabilities = []
    for finding in findings:
        analysis: dict[str, Any] = {"state": finding.state}
        if finding.justification:
            analysis["justification"] = finding.justification
        if finding.response:
            analysis["response"] = list(finding.response)
        if finding.detail:
            analysis["detail"] = finding.detail
        vulnerabilities.append(
            {
                "id": finding.advisory.osv_id,
                "source": {"name": "OSV", "url": f"https://osv.dev/vulnerability/{finding.advisory.osv_id}"},
                "references": [{"id": alias, "source": {"name": "alias"}} for alias in finding.other_ids],
                "analysis": analysis,
                "affects": [{"ref": _product(finding)}],
                "properties": [{"name": "safeward:purl", "value": finding.purl}] if finding.purl else [],
            }
        )
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {"timestamp": clock.now().isoformat()},
        "vulnerabilities": vulnerabilities,
    }


def export_openvex(findings: Iterable[Finding], *, author: str) -> dict[str, Any]:
    now = clock.now().isoformat()
    statements = []
    for finding in findings:
        status = STATE_OPENVEX[Finding.State(finding.state)]
        product: dict[str, Any] = {"@id": _product(finding)}
        if finding.purl:
            product["identifiers"] = {"purl": finding.purl}
        statement: dict[str, Any] = {
            "vulnerability": {"name": finding.advisory.osv_id, "aliases": finding.other_ids},
            "products": [product],
            "status": status,
        }
        if status == "not_affected":
            statement["justification"] = JUSTIFICATION_OPENVEX.get(
                finding.justification, "vulnerable_code_not_present"
            )
            statement["impact_statement"] = finding.detail or finding.justification or "not affected"
        if status == "affected":
            statement["action_statement"] = finding.detail or "Apply the vendor's fix by the due date."
        statements.append(statement)
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": f"urn:uuid:{uuid.uuid4()}",
        "author": author,
        "timestamp": now,
        "version": 1,
        "statements": statements,
    }
