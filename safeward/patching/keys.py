"""Package identity: the key advisories and components are matched by.

`<ecosystem>:<normalised name>` from a purl (first), or from an ecosystem
and a name; `cpe:<vendor>:<product>` from a CPE 2.3 name (last resort).
Each ecosystem's version scheme comes from `univers`."""

from __future__ import annotations

import re

from packageurl import PackageURL
from univers import versions as uv

# purl type -> OSV ecosystem name.
PURL_ECOSYSTEMS = {
    "pypi": "PyPI",
    "npm": "npm",
    "maven": "Maven",
    "golang": "Go",
    "deb": "Debian",
    "gem": "RubyGems",
    "cargo": "crates.io",
    "nuget": "NuGet",
    "composer": "Packagist",
    "apk": "Alpine",
    "rpm": "RPM",
    "generic": "generic",
}

SCHEMES: dict[str, type[uv.Version]] = {
    "PyPI": uv.PypiVersion,
    "npm": uv.SemverVersion,
    "Maven": uv.MavenVersion,
    "Go": uv.GolangVersion,
    "Debian": uv.DebianVersion,
    "Ubuntu": uv.DebianVersion,
    "RubyGems": uv.RubygemsVersion,
    "crates.io": uv.SemverVersion,
    "NuGet": uv.NugetVersion,
    "Packagist": uv.ComposerVersion,
    "Alpine": uv.AlpineLinuxVersion,
    "RPM": uv.RpmVersion,
}
_PEP503 = re.compile(r"[-_.]+")


def ecosystem_base(ecosystem: str) -> str:
    """ "Debian:10" -> "Debian"; "Alpine:v3.16" -> "Alpine"."""
    return ecosystem.split(":", 1)[0].strip()


def normalise_name(ecosystem: str, name: str) -> str:
    name = name.strip()
    if ecosystem == "PyPI":
        return _PEP503.sub("-", name).lower()
    if ecosystem in {"Go", "Maven"}:
        return name  # case-sensitive in these ecosystems
    return name.lower()


def key_for(ecosystem: str, name: str) -> str:
    ecosystem = ecosystem_base(ecosystem) or "generic"
    return f"{ecosystem}:{normalise_name(ecosystem, name)}"


def purl_key(purl: str) -> tuple[str, str, str] | None:
    """(key, ecosystem, version) of a purl, or None when it does not parse."""
    try:
        parsed = PackageURL.from_string(purl)
    except ValueError:
        return None
    ecosystem = PURL_ECOSYSTEMS.get(parsed.type, parsed.type)
    if parsed.type == "deb" and parsed.namespace and parsed.namespace.lower() == "ubuntu":
        ecosystem = "Ubuntu"
    name = parsed.name
    if parsed.namespace and parsed.type in {"npm", "golang", "composer"}:
        name = f"{parsed.namespace}/{parsed.name}"
    elif parsed.namespace and parsed.type == "maven":
        name = f"{parsed.namespace}:{parsed.name}"
    return key_for(ecosystem, name), ecosystem, parsed.version or ""


_CPE23 = re.compile(r"^cpe:2\.3:[aho\*\-]:([^:]+):([^:]+)(?::([^:]*))?")
_CPE22 = re.compile(r"^cpe:/[aho]:([^:]+):([^:]+)(?::([^:]*))?")


def cpe_key(cpe: str) -> tuple[str, str] | None:
    """(key, version) of a CPE 2.3 (or 2.2 URI) name, or None."""
    match = _CPE23.match(cpe.strip()) or _CPE22.match(cpe.strip())
    if not match:
        return None
    vendor, product, version = match.group(1), match.group(2), match.group(3) or ""
    if version in {"*", "-"}:
        version = ""
    return f"cpe:{vendor.lower()}:{product.lower()}", version


def scheme_for(key: str) -> type[uv.Version]:
    ecosystem, _, name = key.partition(":")
    if ecosystem in SCHEMES:
        return SCHEMES[ecosystem]
    if name.endswith("openssl"):
        return uv.OpensslVersion
    # dpkg's comparison orders numbers numerically and letters after them
    # (1.2 < 1.10, 1.0.1f < 1.0.1g): a sound default for firmware and generic names.
    return uv.DebianVersion


# Parsed versions by (scheme, text): univers parsing dominated matching (the same
# versions recur across advisories and components) and its versions are immutable.
_PARSED: dict[tuple[type[uv.Version], str], uv.Version | None] = {}
_PARSED_MAX = 100_000


def parse_version(scheme: type[uv.Version], value: str) -> uv.Version | None:
    """The version, or None when the scheme cannot read it."""
    key = (scheme, value)
    if key in _PARSED:
        return _PARSED[key]
    try:
        parsed: uv.Version | None = scheme(value)
    except Exception:
        parsed = None
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()  # a bound for long-running processes; refilled by the next match
    _PARSED[key] = parsed
    return parsed
