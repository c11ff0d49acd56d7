"""Every inventory format, and hostile inventories: malformed, duplicate
bom-refs, entity expansion, huge. A refusal is a clear error and nothing is saved."""

from __future__ import annotations

import json

import pytest

from safeward.patching import sbom
from tests.patching.conftest import cyclonedx

CDX_XML = b"""<?xml version="1.0"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">
  <components>
    <component type="library" bom-ref="a">
      <name>openssl</name><version>1.0.1f</version><purl>pkg:generic/openssl@1.0.1f</purl>
      <components>
        <component type="library" bom-ref="b"><name>zlib</name><version>1.2.11</version></component>
      </components>
    </component>
  </components>
</bom>"""

SPDX = {
    "spdxVersion": "SPDX-2.3",
    "SPDXID": "SPDXRef-DOCUMENT",
    "name": "engine",
    "packages": [
        {
            "SPDXID": "SPDXRef-openssl",
            "name": "openssl",
            "versionInfo": "1.0.1f",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": "pkg:deb/debian/openssl@1.0.1f-1",
                },
                {
                    "referenceCategory": "SECURITY",
                    "referenceType": "cpe23Type",
                    "referenceLocator": "cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*",
                },
            ],
        }
    ],
}

DPKG = b"""Desired=Unknown/Install/Remove/Purge/Hold
| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend
||/ Name           Version        Architecture Description
+++-==============-==============-============-=================================
ii  openssl        1.0.1f-1ubuntu2 amd64       Secure Sockets Layer toolkit
ii  libssl1.0.0:amd64 1.0.1f-1ubuntu2 amd64    SSL shared libraries
rc  oldpkg         0.1            amd64        removed
"""


@pytest.mark.parametrize("spec", ["1.4", "1.5", "1.6"])
def test_cyclonedx_json_versions(spec):
    parsed = sbom.parse(
        cyclonedx([{"name": "django", "version": "4.2", "purl": "pkg:pypi/django@4.2"}], spec)
    )
    assert parsed.spec_version == spec
    assert parsed.components[0].match_key == "PyPI:django"


def test_cyclonedx_xml_nested():
    parsed = sbom.parse(CDX_XML)
    assert [c.name for c in parsed.components] == ["openssl", "zlib"]
    assert parsed.components[0].match_key == "generic:openssl"


def test_spdx_purl_first_then_cpe():
    parsed = sbom.parse(json.dumps(SPDX).encode())
    component = parsed.components[0]
    assert component.match_key == "Debian:openssl"
    assert component.cpe_key == "cpe:openssl:openssl"


def test_dpkg_pip_firmware():
    dpkg = sbom.parse(DPKG, "dpkg")
    assert [(c.name, c.version) for c in dpkg.components] == [
        ("openssl", "1.0.1f-1ubuntu2"),
        ("libssl1.0.0", "1.0.1f-1ubuntu2"),
    ]
    pip = sbom.parse(b"Django==4.2.1\n# comment\nzope.interface==6.0 ; python_version>'3'\n", "pip")
    assert [c.match_key for c in pip.components] == ["PyPI:django", "PyPI:zope-interface"]
    firmware = sbom.parse(b"Alaris PC firmware 9.19.2\ncpe:2.3:a:openssl:openssl:1.0.1f\n", "firmware")
    assert firmware.components[0].version == "9.19.2"
    assert firmware.components[1].match_key == "cpe:openssl:openssl"


@pytest.mark.parametrize(
    ("raw", "fmt", "says"),
    [
        (b"{not json", "", "Not JSON"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.2"}', "", "specVersion"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": {"a": 1}}', "", "must be a list"),
        (cyclonedx([{"version": "1"}]), "", "name is missing"),
        (cyclonedx([{"name": "a", "purl": "not-a-purl"}]), "", "not a package URL"),
        (cyclonedx([{"name": "a", "bom-ref": "x"}, {"name": "b", "bom-ref": "x"}]), "", "repeats"),
        (b"<bom><components/></bom>", "", "namespace"),
        (b"<bom", "", "well-formed"),
        (b"", "pip", "empty"),
        (b"Django>=4\n", "pip", "line 1"),
        (b"\xff\xfe", "dpkg", "UTF-8"),
        (b"just text", "", "Say which format"),
        (b"{}", "spdx_json", "SPDX 2.3"),
    ],
)
def test_malformed_inventories_are_refused_with_a_reason(raw, fmt, says):
    with pytest.raises(sbom.InventoryError) as error:
        sbom.parse(raw, fmt)
    assert says in " ".join(error.value.errors)


def test_entity_expansion_is_refused():
    billion = b"""<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components><component><name>&b;</name></component></components></bom>"""
    with pytest.raises(sbom.InventoryError) as error:
        sbom.parse(billion)
    assert "DTD" in error.value.errors[0]


def test_a_million_components_are_refused_before_parsing(monkeypatch):
    """1,000,000 components: refused by size (20 MiB) or, for a compact file
    under it, by the object count, before json.loads allocates anything."""
    one = b'{"name":"a"},'
    huge = (
        b'{"bomFormat":"CycloneDX","specVersion":"1.5","components":[' + one * 1_000_000 + b'{"name":"a"}]}'
    )
    with pytest.raises(sbom.InventoryError) as error:
        sbom.parse(huge)
    assert "limit" in error.value.errors[0]

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed a file that the byte scan should have refused")

    monkeypatch.setattr(sbom.json, "loads", no_parse)
    compact = b'{"bomFormat":"CycloneDX","specVersion":"1.5","components":[' + b"{}," * 600_000 + b"{}]}"
    assert len(compact) < sbom.MAX_BYTES
    with pytest.raises(sbom.InventoryError) as error:
        sbom.parse(compact)
    assert "JSON objects" in error.value.errors[0]
    xml = (
        b'<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>'
        + b"<component/>" * 60_000
        + b"</components></bom>"
    )
    with pytest.raises(sbom.InventoryError):
        sbom.parse(xml)


def test_just_over_the_component_limit_is_refused(monkeypatch):
    monkeypatch.setattr(sbom, "MAX_COMPONENTS", 10)
    monkeypatch.setattr(sbom, "MAX_JSON_OBJECTS", 1000)
    with pytest.raises(sbom.InventoryError) as error:
        sbom.parse(cyclonedx([{"name": f"p{i}"} for i in range(11)]))
    assert "11 components" in error.value.errors[0]
    assert len(sbom.parse(cyclonedx([{"name": f"p{i}"} for i in range(10)])).components) == 10
