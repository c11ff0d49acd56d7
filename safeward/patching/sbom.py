"""Reading software inventories: CycloneDX 1.4-1.6 (JSON, and XML through
defusedxml with DTDs and entities refused), SPDX 2.3 JSON, `dpkg -l`,
`pip freeze` and a firmware version line. Pure functions: bytes in,
components out, or `InventoryError` with every problem found (and where).

Hostile input is refused before it costs memory: more than `MAX_BYTES`, or
more JSON objects / XML component elements than `MAX_COMPONENTS` allows,
is refused after a byte count and a byte scan, before any parsing
(ADR 1301)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from safeward.patching import keys

MAX_BYTES = 20 * 1024 * 1024
MAX_COMPONENTS = 50_000
# A component is at least one JSON object; metadata, hashes and licenses add a few more.
MAX_JSON_OBJECTS = MAX_COMPONENTS * 8
MAX_NESTING = 16
CYCLONEDX_VERSIONS = ("1.4", "1.5", "1.6")
MAX_ERRORS = 50


class InventoryError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:5]))
        self.errors = errors[:MAX_ERRORS]


@dataclass(frozen=True)
class ParsedComponent:
    name: str
    version: str
    ecosystem: str = ""
    purl: str = ""
    cpe: str = ""
    bom_ref: str = ""

    @property
    def match_key(self) -> str:
        if self.purl:
            parsed = keys.purl_key(self.purl)
            if parsed is not None:
                return parsed[0]
        if self.ecosystem:
            return keys.key_for(self.ecosystem, self.name)
        if self.cpe:
            found = keys.cpe_key(self.cpe)
            if found is not None:
                return found[0]
        return keys.key_for("generic", self.name)

    @property
    def cpe_key(self) -> str:
        found = keys.cpe_key(self.cpe) if self.cpe else None
        return found[0] if found else ""


@dataclass(frozen=True)
class ParsedInventory:
    format: str
    spec_version: str
    components: list[ParsedComponent]


def _limit_size(raw: bytes) -> None:
    if len(raw) > MAX_BYTES:
        raise InventoryError([f"The file is {len(raw):,} bytes; the limit is {MAX_BYTES:,}."])
    if not raw.strip():
        raise InventoryError(["The file is empty."])


def _limit_count(count: int) -> None:
    if count > MAX_COMPONENTS:
        raise InventoryError([f"{count:,} components; the limit is {MAX_COMPONENTS:,} per inventory."])


def _text(
    value: Any, field: str, where: str, errors: list[str], *, required: bool = False, limit: int = 300
) -> str:
    if value is None or value == "":
        if required:
            errors.append(f"{where}: {field} is missing.")
        return ""
    if not isinstance(value, str):
        errors.append(f"{where}: {field} must be a string.")
        return ""
    if len(value) > limit:
        errors.append(f"{where}: {field} is longer than {limit} characters.")
        return ""
    return value.strip()


def _check_purl(purl: str, where: str, errors: list[str]) -> str:
    if purl and keys.purl_key(purl) is None:
        errors.append(f"{where}: purl {purl[:80]!r} is not a package URL.")
        return ""
    return purl


def _finish(fmt: str, spec: str, components: list[ParsedComponent], errors: list[str]) -> ParsedInventory:
    seen: dict[str, int] = {}
    for index, component in enumerate(components):
        if component.bom_ref:
            if component.bom_ref in seen:
                errors.append(
                    f"component {index}: bom-ref {component.bom_ref[:80]!r}"
                    f" repeats component {seen[component.bom_ref]}."
                )
            else:
                seen[component.bom_ref] = index
    _limit_count(len(components))
    if errors:
        raise InventoryError(errors)
    return ParsedInventory(fmt, spec, components)


# --- CycloneDX JSON ------------------------------------------------------------------------------


def _cdx_walk(items: Any, path: str, depth: int, errors: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    if items is None:
        return
    if not isinstance(items, list):
        errors.append(f"{path}: must be a list.")
        return
    if depth > MAX_NESTING:
        errors.append(f"{path}: components nested deeper than {MAX_NESTING} levels.")
        return
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{where}: must be an object.")
            continue
        yield where, item
        yield from _cdx_walk(item.get("components"), f"{where}.components", depth + 1, errors)


def parse_cyclonedx_json(raw: bytes) -> ParsedInventory:
    _limit_size(raw)
    if raw.count(b"{") > MAX_JSON_OBJECTS:
        raise InventoryError(
            [f"More than {MAX_JSON_OBJECTS:,} JSON objects; the limit is {MAX_COMPONENTS:,} components."]
        )
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InventoryError([f"Not JSON: {str(error)[:120]}."]) from None
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        raise InventoryError(['Not a CycloneDX BOM (bomFormat must be "CycloneDX").'])
    spec = document.get("specVersion")
    if spec not in CYCLONEDX_VERSIONS:
        raise InventoryError(
            [f"specVersion {str(spec)[:10]!r}: CycloneDX {', '.join(CYCLONEDX_VERSIONS)} are read."]
        )
    errors: list[str] = []
    components = []
    for where, item in _cdx_walk(document.get("components", []), "components", 0, errors):
        name = _text(item.get("name"), "name", where, errors, required=True)
        group = _text(item.get("group"), "group", where, errors)
        components.append(
            ParsedComponent(
                name=f"{group}/{name}" if group else name,
                version=_text(item.get("version"), "version", where, errors, limit=200),
                purl=_check_purl(_text(item.get("purl"), "purl", where, errors, limit=1000), where, errors),
                cpe=_text(item.get("cpe"), "cpe", where, errors, limit=1000),
                bom_ref=_text(item.get("bom-ref"), "bom-ref", where, errors),
            )
        )
        if len(components) > MAX_COMPONENTS:
            _limit_count(len(components))
    return _finish("cyclonedx_json", spec, components, errors)


# --- CycloneDX XML -------------------------------------------------------------------------------

_CDX_NS = re.compile(r"^\{http://cyclonedx\.org/schema/bom/(1\.[456])\}bom$")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def parse_cyclonedx_xml(raw: bytes) -> ParsedInventory:
    _limit_size(raw)
    if raw.count(b"<component") > MAX_COMPONENTS + 1:
        raise InventoryError([f"More than {MAX_COMPONENTS:,} components; that is the limit per inventory."])
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise InventoryError(["The XML declares a DTD or entities; they are refused."]) from None
    except SafeET.ParseError as error:
        raise InventoryError([f"Not well-formed XML: {str(error)[:120]}."]) from None
    match = _CDX_NS.match(root.tag)
    if not match:
        raise InventoryError(["Not a CycloneDX 1.4-1.6 BOM (root must be bom in its namespace)."])
    errors: list[str] = []
    components: list[ParsedComponent] = []

    def walk(parent: Element, path: str, depth: int) -> None:
        if depth > MAX_NESTING:
            errors.append(f"{path}: components nested deeper than {MAX_NESTING} levels.")
            return
        for holder in parent:
            if _local(holder.tag) != "components":
                continue
            for index, element in enumerate(child for child in holder if _local(child.tag) == "component"):
                where = f"{path}/component[{index}]"
                name = _child_text(element, "name")
                if not name:
                    errors.append(f"{where}: name is missing.")
                group = _child_text(element, "group")
                purl = _child_text(element, "purl")[:1000]
                components.append(
                    ParsedComponent(
                        name=(f"{group}/{name}" if group else name)[:300],
                        version=_child_text(element, "version")[:200],
                        purl=_check_purl(purl, where, errors),
                        cpe=_child_text(element, "cpe")[:1000],
                        bom_ref=(element.get("bom-ref") or "")[:300],
                    )
                )
                walk(element, where, depth + 1)

    walk(root, "bom", 0)
    return _finish("cyclonedx_xml", match.group(1), components, errors)


# --- SPDX 2.3 JSON --------------------------------------------------------------------------------


def parse_spdx_json(raw: bytes) -> ParsedInventory:
    _limit_size(raw)
    if raw.count(b"{") > MAX_JSON_OBJECTS:
        raise InventoryError(
            [f"More than {MAX_JSON_OBJECTS:,} JSON objects; the limit is {MAX_COMPONENTS:,} packages."]
        )
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InventoryError([f"Not JSON: {str(error)[:120]}."]) from None
    if not isinstance(document, dict) or document.get("spdxVersion") != "SPDX-2.3":
        raise InventoryError(['Not an SPDX 2.3 document (spdxVersion must be "SPDX-2.3").'])
    packages = document.get("packages", [])
    if not isinstance(packages, list):
        raise InventoryError(["packages must be a list."])
    errors: list[str] = []
    components = []
    for index, package in enumerate(packages):
        where = f"packages[{index}]"
        if not isinstance(package, dict):
            errors.append(f"{where}: must be an object.")
            continue
        purl = cpe = ""
        refs = package.get("externalRefs", [])
        for ref in refs if isinstance(refs, list) else []:
            if not isinstance(ref, dict):
                continue
            kind = str(ref.get("referenceType", ""))
            locator = _text(ref.get("referenceLocator"), "referenceLocator", where, errors, limit=1000)
            if kind == "purl" and not purl:
                purl = _check_purl(locator, where, errors)
            elif kind in {"cpe23Type", "cpe22Type"} and not cpe:
                cpe = locator
        components.append(
            ParsedComponent(
                name=_text(package.get("name"), "name", where, errors, required=True),
                version=_text(package.get("versionInfo"), "versionInfo", where, errors, limit=200),
                purl=purl,
                cpe=cpe,
                bom_ref=_text(package.get("SPDXID"), "SPDXID", where, errors),
            )
        )
    return _finish("spdx_json", "2.3", components, errors)


# --- plain package lists --------------------------------------------------------------------------

_DPKG_LINE = re.compile(r"^(?P<state>[a-zA-Z]{2,3})\s+(?P<name>[^\s:]+)(?::\S+)?\s+(?P<version>\S+)\s+")
_PIP_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*(?P<version>[^\s;#]+)")
_FIRMWARE = re.compile(r"^(?P<name>[^\s=:]+(?: [^\s=:]+)*)\s*[=: ]\s*(?P<version>[0-9][^\s]*)$")


def _lines(raw: bytes) -> list[str]:
    _limit_size(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InventoryError(["The list is not UTF-8 text."]) from None
    lines = text.splitlines()
    _limit_count(len(lines))
    return lines


def parse_dpkg(raw: bytes) -> ParsedInventory:
    errors: list[str] = []
    components = []
    for number, line in enumerate(_lines(raw), start=1):
        if not line.strip() or line.startswith(("Desired=", "|", "+++", "||/")):
            continue
        match = _DPKG_LINE.match(line + " ")
        if not match:
            errors.append(f"line {number}: not a dpkg -l package line.")
            continue
        if not match["state"].startswith("i"):
            continue  # removed / purged packages are not installed
        components.append(
            ParsedComponent(name=match["name"][:300], version=match["version"][:200], ecosystem="Debian")
        )
    return _finish("dpkg", "", components, errors)


def parse_pip(raw: bytes) -> ParsedInventory:
    errors: list[str] = []
    components = []
    for number, line in enumerate(_lines(raw), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")):
            continue
        match = _PIP_LINE.match(stripped)
        if not match:
            errors.append(f"line {number}: not 'name==version'.")
            continue
        components.append(
            ParsedComponent(name=match["name"][:300], version=match["version"][:200], ecosystem="PyPI")
        )
    return _finish("pip", "", components, errors)


def parse_firmware(raw: bytes) -> ParsedInventory:
    """One line per firmware: `<product> <version>`, `<product>=<version>`, or a CPE 2.3 name."""
    errors: list[str] = []
    components = []
    for number, line in enumerate(_lines(raw), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("cpe:"):
            found = keys.cpe_key(stripped)
            if found is None or not found[1]:
                errors.append(f"line {number}: a CPE name needs a vendor, product and version.")
                continue
            product = found[0].rsplit(":", 1)[-1]
            components.append(ParsedComponent(name=product, version=found[1], cpe=stripped[:1000]))
            continue
        match = _FIRMWARE.match(stripped)
        if not match:
            errors.append(f"line {number}: not '<product> <version>'.")
            continue
        components.append(ParsedComponent(name=match["name"][:300], version=match["version"][:200]))
    return _finish("firmware", "", components, errors)


PARSERS = {
    "cyclonedx_json": parse_cyclonedx_json,
    "cyclonedx_xml": parse_cyclonedx_xml,
    "spdx_json": parse_spdx_json,
    "dpkg": parse_dpkg,
    "pip": parse_pip,
    "firmware": parse_firmware,
}


def sniff(raw: bytes) -> str:
    """The format of an upload when the person did not say: JSON documents by
    their marker, XML by its root; text lists are never guessed."""
    head = raw[:4096].lstrip()
    if head.startswith(b"{"):
        return "spdx_json" if b'"spdxVersion"' in raw[:65536] else "cyclonedx_json"
    if head.startswith(b"<"):
        return "cyclonedx_xml"
    raise InventoryError(["Say which format this list is (dpkg, pip or firmware)."])


def parse(raw: bytes, fmt: str = "") -> ParsedInventory:
    fmt = fmt or sniff(raw)
    parser = PARSERS.get(fmt)
    if parser is None:
        raise InventoryError([f"Unknown format {fmt[:20]!r}; one of {', '.join(PARSERS)}."])
    return parser(raw)
