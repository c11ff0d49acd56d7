"""Reading advisory feeds: OSV records (a zip or tar.gz export, a JSON file
holding one record or a list, YAML records as the PyPA database keeps them),
the CISA KEV catalog and the EPSS daily CSV. Pure functions: bytes in,
records out, or `FeedError` naming the record or row."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from cvss import CVSS3, CVSS4
from cvss.exceptions import CVSSError

from safeward.patching import keys

MAX_FEED_BYTES = 200 * 1024 * 1024
MAX_RECORD_BYTES = 5 * 1024 * 1024
MAX_RECORDS = 500_000
CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")


class FeedError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:5]))
        self.errors = errors[:50]


# --- OSV ---------------------------------------------------------------------------------------


@dataclass
class OsvRecord:
    osv_id: str
    modified: dt.datetime
    published: dt.datetime | None
    withdrawn: dt.datetime | None
    aliases: list[str]
    summary: str
    severity: str
    severity_source: str
    cvss_vector: str
    cvss_score: Decimal | None
    references: list[str]
    affected: list[dict[str, Any]] = field(default_factory=list)  # key, ecosystem, name, ranges, versions

    @property
    def cve_ids(self) -> list[str]:
        ids = [self.osv_id, *self.aliases]
        return sorted({value for value in ids if CVE.match(value)})


def _when(value: Any, where: str, name: str, *, required: bool = False) -> dt.datetime | None:
    if value is None or value == "":
        if required:
            raise FeedError([f"{where}: {name} is missing."])
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise FeedError([f"{where}: {name} {str(value)[:40]!r} is not an RFC 3339 time."]) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


GHSA_SEVERITY = {
    "CRITICAL": "critical",
    "HIGH": "high",
    "MODERATE": "medium",
    "MEDIUM": "medium",
    "LOW": "low",
}


def cvss_score(vector: str) -> tuple[Decimal, str] | None:
    """(base score, severity) of a CVSS 3.x or 4.0 vector, scored with `cvss`."""
    try:
        if vector.startswith("CVSS:4.0/"):
            parsed4 = CVSS4(vector)
            return Decimal(str(parsed4.base_score)), str(parsed4.severity).lower()
        if vector.startswith("CVSS:3."):
            parsed3 = CVSS3(vector)
            return Decimal(str(parsed3.base_score)), str(parsed3.severities()[0]).lower()
    except CVSSError:
        return None
    return None


def _severity(record: dict[str, Any]) -> tuple[str, str, str, Decimal | None]:
    """(severity, where it came from, vector, score): CVSS 4.0 first, then 3.x,
    then the database's own word; none of them: medium."""
    entries = record.get("severity") or []
    vectors = {str(e.get("type")): str(e.get("score", "")) for e in entries if isinstance(e, dict)}
    for kind in ("CVSS_V4", "CVSS_V3"):
        vector = vectors.get(kind, "")
        scored = cvss_score(vector) if vector else None
        if scored is not None:
            score, severity = scored
            if severity == "none":
                severity = "low"
            return severity, kind, vector[:200], score
    specific = record.get("database_specific")
    if isinstance(specific, dict) and str(specific.get("severity", "")).upper() in GHSA_SEVERITY:
        return GHSA_SEVERITY[str(specific["severity"]).upper()], "database_specific", "", None
    return "medium", "default (no score)", "", None


def _affected(record: dict[str, Any], where: str) -> list[dict[str, Any]]:
    found = []
    for index, entry in enumerate(record.get("affected") or []):
        if not isinstance(entry, dict):
            raise FeedError([f"{where}: affected[{index}] must be an object."])
        package = entry.get("package") or {}
        ecosystem = keys.ecosystem_base(str(package.get("ecosystem", "")))
        name = str(package.get("name", ""))[:300]
        purl = str(package.get("purl", ""))
        key = None
        if purl:
            parsed = keys.purl_key(purl)
            key = parsed[0] if parsed else None
        if key is None and name:
            key = keys.key_for(ecosystem or "generic", name)
        ranges = [r for r in entry.get("ranges") or [] if isinstance(r, dict) and r.get("type") != "GIT"]
        versions = [str(v)[:200] for v in entry.get("versions") or []]
        if key is not None:
            found.append(
                {"key": key, "ecosystem": ecosystem, "name": name, "ranges": ranges, "versions": versions}
            )
        specific = entry.get("database_specific") or {}
        cpes = specific.get("cpes", []) if isinstance(specific, dict) else []
        for cpe in cpes if isinstance(cpes, list) else []:
            cpe_found = keys.cpe_key(str(cpe))
            if cpe_found is not None:
                found.append(
                    {
                        "key": cpe_found[0],
                        "ecosystem": "cpe",
                        "name": name,
                        "ranges": ranges,
                        "versions": versions,
                    }
                )
    return found


def osv_record(record: Any, where: str) -> OsvRecord:
    if not isinstance(record, dict):
        raise FeedError([f"{where}: an OSV record must be an object."])
    osv_id = record.get("id")
    if not isinstance(osv_id, str) or not osv_id or len(osv_id) > 100:
        raise FeedError([f"{where}: id is missing or too long."])
    where = f"{where} ({osv_id})"
    severity, source, vector, score = _severity(record)
    aliases = record.get("aliases") or []
    if not isinstance(aliases, list):
        raise FeedError([f"{where}: aliases must be a list."])
    return OsvRecord(
        osv_id=osv_id,
        modified=_when(record.get("modified"), where, "modified", required=True) or dt.datetime.min,
        published=_when(record.get("published"), where, "published"),
        withdrawn=_when(record.get("withdrawn"), where, "withdrawn"),
        aliases=[str(alias)[:100] for alias in aliases][:100],
        summary=str(record.get("summary") or record.get("details") or "")[:500],
        severity=severity,
        severity_source=source,
        cvss_vector=vector,
        cvss_score=score,
        references=[
            str(ref.get("url", ""))[:500] for ref in record.get("references") or [] if isinstance(ref, dict)
        ][:20],
        affected=_affected(record, where),
    )


def _decode(name: str, data: bytes) -> list[Any]:
    if len(data) > MAX_RECORD_BYTES:
        raise FeedError([f"{name}: larger than {MAX_RECORD_BYTES:,} bytes."])
    try:
        loaded = yaml.safe_load(data) if name.endswith((".yaml", ".yml")) else json.loads(data)
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FeedError(
            [
                f"{name}: not valid {'YAML' if name.endswith(('.yaml', '.yml')) else 'JSON'}:"
                f" {str(error)[:100]}."
            ]
        ) from None
    return loaded if isinstance(loaded, list) else [loaded]


def _members(raw: bytes, filename: str) -> Iterator[tuple[str, bytes]]:
    if zipfile.is_zipfile(io.BytesIO(raw)):
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            for info in archive.infolist():
                if info.is_dir() or not info.filename.endswith((".json", ".yaml", ".yml")):
                    continue
                if info.file_size > MAX_RECORD_BYTES:
                    raise FeedError([f"{info.filename}: larger than {MAX_RECORD_BYTES:,} bytes."])
                yield info.filename, archive.read(info)
        return
    if raw[:2] == b"\x1f\x8b" or filename.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            archive_t = tarfile.open(fileobj=io.BytesIO(raw), mode="r:*")  # noqa: SIM115 - closed below
        except tarfile.TarError:
            raise FeedError([f"{filename or 'upload'}: not a zip or tar archive."]) from None
        with archive_t:
            for member in archive_t:
                if not member.isfile() or not member.name.endswith((".json", ".yaml", ".yml")):
                    continue
                if member.size > MAX_RECORD_BYTES:
                    raise FeedError([f"{member.name}: larger than {MAX_RECORD_BYTES:,} bytes."])
                handle = archive_t.extractfile(member)
                if handle is not None:
                    yield member.name, handle.read()
        return
    yield filename or "upload.json", raw


def osv_records(raw: bytes, filename: str = "") -> Iterator[OsvRecord]:
    """Every OSV record in an upload, in file order; FeedError on the first bad one."""
    if len(raw) > MAX_FEED_BYTES:
        raise FeedError([f"The file is {len(raw):,} bytes; the limit is {MAX_FEED_BYTES:,}."])
    count = 0
    for name, data in _members(raw, filename):
        for index, record in enumerate(_decode(name, data)):
            count += 1
            if count > MAX_RECORDS:
                raise FeedError([f"More than {MAX_RECORDS:,} records."])
            yield osv_record(record, f"{name}[{index}]" if index else name)


# --- KEV -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KevRecord:
    cve_id: str
    vendor_project: str
    product: str
    name: str
    date_added: dt.date
    due_date: dt.date
    ransomware: bool
    required_action: str


def _date(value: Any, where: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise FeedError([f"{where}: {name} {str(value)[:20]!r} is not a date."]) from None


def kev_catalog(raw: bytes) -> tuple[str, list[KevRecord]]:
    """(catalogVersion, entries) of CISA's known_exploited_vulnerabilities.json."""
    if len(raw) > MAX_FEED_BYTES:
        raise FeedError(["The catalog is too large."])
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FeedError([f"Not JSON: {str(error)[:100]}."]) from None
    if not isinstance(document, dict) or not isinstance(document.get("vulnerabilities"), list):
        raise FeedError(["Not a KEV catalog (no vulnerabilities list)."])
    errors: list[str] = []
    entries = []
    for index, item in enumerate(document["vulnerabilities"]):
        where = f"vulnerabilities[{index}]"
        if not isinstance(item, dict) or not CVE.match(str(item.get("cveID", ""))):
            errors.append(f"{where}: cveID is missing or not a CVE id.")
            continue
        try:
            entries.append(
                KevRecord(
                    cve_id=item["cveID"],
                    vendor_project=str(item.get("vendorProject", ""))[:200],
                    product=str(item.get("product", ""))[:200],
                    name=str(item.get("vulnerabilityName", ""))[:300],
                    date_added=_date(item.get("dateAdded"), where, "dateAdded"),
                    due_date=_date(item.get("dueDate"), where, "dueDate"),
                    ransomware=str(item.get("knownRansomwareCampaignUse", "")).lower() == "known",
                    required_action=str(item.get("requiredAction", ""))[:2000],
                )
            )
        except FeedError as error:
            errors.extend(error.errors)
    if errors:
        raise FeedError(errors)
    return str(document.get("catalogVersion", ""))[:30], entries


# --- EPSS ------------------------------------------------------------------------------------------

_EPSS_HEAD = re.compile(r"^#model_version:(?P<model>[^,]*),score_date:(?P<date>\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True)
class EpssRecord:
    cve_id: str
    epss: Decimal
    percentile: Decimal


def epss_csv(raw: bytes) -> tuple[str, dt.date | None, list[EpssRecord]]:
    """(model version, score date, rows) of the EPSS daily CSV."""
    if len(raw) > MAX_FEED_BYTES:
        raise FeedError(["The file is too large."])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FeedError(["The CSV is not UTF-8."]) from None
    lines = text.splitlines()
    model, date = "", None
    if lines and lines[0].startswith("#"):
        head = _EPSS_HEAD.match(lines[0])
        if head is None:
            raise FeedError(["line 1: expected '#model_version:…,score_date:YYYY-MM-DD'."])
        model, date = head["model"][:40], dt.date.fromisoformat(head["date"])
        lines = lines[1:]
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or [h.strip() for h in header[:3]] != ["cve", "epss", "percentile"]:
        raise FeedError(["The header must be 'cve,epss,percentile'."])
    offset = 3 if model else 2
    errors: list[str] = []
    rows = []
    for number, row in enumerate(reader, start=offset):
        if not row:
            continue
        try:
            cve, score, percentile = row[0].strip(), Decimal(row[1]), Decimal(row[2])
        except (IndexError, InvalidOperation):
            errors.append(f"line {number}: expected cve,epss,percentile.")
            continue
        if not CVE.match(cve) or not (0 <= score <= 1) or not (0 <= percentile <= 1):
            errors.append(f"line {number}: a CVE id and two numbers from 0 to 1.")
            continue
        rows.append(EpssRecord(cve, score, percentile))
    if errors:
        raise FeedError(errors)
    return model, date, rows
