"""Range semantics per ecosystem, property-tested against univers' own
comparisons, and every row of the deadline table."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from univers import versions as uv

from safeward.patching import deadlines, keys, matching

parts = st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=4)
semver = st.tuples(*(st.integers(min_value=0, max_value=20),) * 3).map(lambda t: ".".join(map(str, t)))
pypi = parts.map(lambda p: ".".join(map(str, p)))
debian = st.tuples(parts, st.integers(min_value=1, max_value=5)).map(
    lambda t: ".".join(map(str, t[0])) + f"-{t[1]}"
)
maven = parts.map(lambda p: ".".join(map(str, p)))

ECOSYSTEMS = [
    ("PyPI", pypi, uv.PypiVersion),
    ("npm", semver, uv.SemverVersion),
    ("Debian", debian, uv.DebianVersion),
    ("Maven", maven, uv.MavenVersion),
    ("Go", semver.map(lambda v: "v" + v), uv.GolangVersion),
]


@pytest.mark.parametrize(("ecosystem", "strategy", "scheme"), ECOSYSTEMS, ids=[e[0] for e in ECOSYSTEMS])
def test_introduced_fixed_agrees_with_univers(ecosystem, strategy, scheme):
    @settings(max_examples=150, deadline=None)
    @given(strategy, strategy, strategy)
    def check(version, introduced, fixed):
        key = keys.key_for(ecosystem, "pkg")
        v, lo, hi = scheme(version), scheme(introduced), scheme(fixed)
        events = [{"introduced": introduced}, {"fixed": fixed}]
        if lo < hi:
            expected = lo <= v < hi
        elif lo == hi:
            expected = False  # fixed in the version that introduced it
        else:
            expected = v >= lo  # OSV sorts the events: the fix comes first, nothing closes the range
        got = matching.is_affected(key, version, [{"type": "ECOSYSTEM", "events": events}], [])
        assert got == expected, (version, introduced, fixed)

    check()


@settings(max_examples=200, deadline=None)
@given(pypi, pypi, pypi)
def test_last_affected_and_limit_agree_with_univers(version, last, limit):
    v, la, lim = uv.PypiVersion(version), uv.PypiVersion(last), uv.PypiVersion(limit)
    key = "PyPI:pkg"
    assert matching.is_affected(
        key, version, [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"last_affected": last}]}], []
    ) == (v <= la)
    assert matching.is_affected(
        key, version, [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"limit": limit}]}], []
    ) == (v < lim)


@settings(max_examples=100, deadline=None)
@given(semver, semver)
def test_semver_ranges_on_any_ecosystem(version, fixed):
    expected = uv.SemverVersion(version) < uv.SemverVersion(fixed)
    got = matching.is_affected(
        "PyPI:pkg", version, [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": fixed}]}], []
    )
    assert got == expected


def test_explicit_versions_and_multiple_ranges():
    entry = [
        {
            "type": "ECOSYSTEM",
            "events": [{"introduced": "4.0"}, {"fixed": "4.3"}, {"introduced": "5.0"}, {"fixed": "5.2"}],
        }
    ]
    assert matching.is_affected("PyPI:accesscontrol", "4.2", entry, [])
    assert not matching.is_affected("PyPI:accesscontrol", "4.3", entry, [])
    assert matching.is_affected("PyPI:accesscontrol", "5.1", entry, [])
    assert not matching.is_affected("PyPI:accesscontrol", "5.2", entry, [])
    assert matching.is_affected("PyPI:x", "weird-version", [], ["weird-version"])
    assert not matching.is_affected("PyPI:x", "", entry, [])


def test_openssl_letters():
    entry = [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0.1"}, {"fixed": "1.0.1g"}]}]
    assert matching.is_affected("generic:openssl", "1.0.1f", entry, [])
    assert matching.is_affected("generic:openssl", "1.0.1", entry, [])
    assert not matching.is_affected("generic:openssl", "1.0.1g", entry, [])
    assert not matching.is_affected("generic:openssl", "1.0.2", entry, [])


NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
RULES = deadlines.Rules(table=dict(deadlines.HICP_TABLE_8))


@pytest.mark.parametrize(
    ("severity", "zone", "days"),
    [
        ("critical", "dmz", 14),
        ("critical", "data_centre", 30),
        ("high", "dmz", 30),
        ("high", "data_centre", 90),
        ("medium", "dmz", 90),
        ("medium", "data_centre", 180),
        ("low", "dmz", 180),
        ("low", "data_centre", 365),  # at discretion: reported against discretion_days
    ],
)
def test_every_row_of_the_deadline_table(severity, zone, days):
    result = deadlines.compute(deadlines.Facts(severity=severity, zone=zone, detected_at=NOW), RULES)
    assert result.due_at - NOW == dt.timedelta(days=days)
    assert result.reasons[0].startswith("Policy table")


def test_tightenings_each_explain_themselves():
    facts = deadlines.Facts(
        severity="medium",
        zone="data_centre",
        detected_at=NOW,
        kev_due=dt.date(2026, 1, 5),
        ransomware=True,
        epss_percentile=Decimal("0.99"),
        patient_impact=("Emergency department",),
    )
    result = deadlines.compute(facts, RULES)
    assert result.severity == "critical"
    assert result.due_at.date() == dt.date(2026, 1, 4)  # 7 (ransomware) x 0.5 = 3 days; KEV date is later
    text = " ".join(result.reasons)
    for word in ("KEV", "ransomware", "Patient impact"):
        assert word in text


def test_medical_devices_table_12():
    result = deadlines.compute(
        deadlines.Facts(severity="low", zone="clinical_devices", detected_at=NOW, medical=True), RULES
    )
    assert result.due_at - NOW == dt.timedelta(days=60)
    assert result.mitigation_due_at - NOW == dt.timedelta(days=30)


def test_cvss_4_0_is_scored_and_preferred_to_3_1_and_a_bad_vector_falls_back():
    from safeward.patching import feeds

    v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    v3 = "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"
    assert feeds.cvss_score(v4) == (Decimal("9.3"), "critical")
    assert feeds.cvss_score(v3) == (Decimal("1.8"), "low")
    both = {"severity": [{"type": "CVSS_V3", "score": v3}, {"type": "CVSS_V4", "score": v4}]}
    assert feeds._severity(both) == ("critical", "CVSS_V4", v4, Decimal("9.3"))
    broken = {"severity": [{"type": "CVSS_V3", "score": v3}, {"type": "CVSS_V4", "score": "CVSS:4.0/AV:Q"}]}
    assert feeds._severity(broken) == ("low", "CVSS_V3", v3, Decimal("1.8"))
