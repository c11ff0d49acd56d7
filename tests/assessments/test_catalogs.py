"""The control catalogs (ADR 0910): every file valid against its schema, ids unique,
every parent, reference and mapping end existing, the counts of the published documents,
and a broken catalog refused with a message naming the file and the entry."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from io import StringIO
from pathlib import Path

import jsonschema
import pytest
from django.core.management import CommandError, call_command

from safeward import compliance
from safeward.assessments import catalogs
from safeward.assessments.catalogs import DIRECTORY, CatalogError, catalog, load

CATALOG_FILES = sorted(p for p in DIRECTORY.glob("*.json") if not p.name.endswith("schema.json"))
MAPPING_FILES = sorted((DIRECTORY / "mappings").glob("*.json"))


def _json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _kinds(key: str) -> Counter[str]:
    return Counter(entry.kind for entry in catalog().frameworks[key].entries)


# --- the files ---------------------------------------------------------------


def test_one_catalog_file_per_framework_of_the_contract():
    assert sorted(p.stem for p in CATALOG_FILES) == sorted(compliance.FRAMEWORKS)
    assert list(catalog().frameworks) == list(compliance.FRAMEWORKS)


@pytest.mark.parametrize("path", CATALOG_FILES, ids=lambda p: p.name)
def test_catalog_file_validates_against_the_schema(path):
    jsonschema.Draft202012Validator(_json(DIRECTORY / "schema.json")).validate(_json(path))


@pytest.mark.parametrize("path", MAPPING_FILES, ids=lambda p: p.name)
def test_mapping_file_validates_against_the_schema(path):
    jsonschema.Draft202012Validator(_json(DIRECTORY / "mapping-schema.json")).validate(_json(path))


def test_the_schemas_are_valid_json_schemas():
    for name in ("schema.json", "mapping-schema.json"):
        jsonschema.Draft202012Validator.check_schema(_json(DIRECTORY / name))


@pytest.mark.parametrize("path", CATALOG_FILES, ids=lambda p: p.name)
def test_no_duplicate_ids_and_every_parent_comes_first(path):
    data = _json(path)
    seen: set[str] = set()
    for row in data["entries"]:
        assert row["id"] not in seen, f"{path.name}: duplicate id {row['id']}"
        assert row["parent"] is None or row["parent"] in seen, f"{path.name}: {row['id']} parent"
        seen.add(row["id"])


@pytest.mark.parametrize("path", CATALOG_FILES + MAPPING_FILES, ids=lambda p: p.name)
def test_every_file_names_its_source_and_licence(path):
    data = _json(path)
    source = data["source"] if "source" in data else data["provenance"]["source"]
    assert source["url"].startswith("https://")
    assert source["title"]
    assert source["date"]
    if "licence" in data:
        assert len(data["licence"]) > 40
    else:
        assert len(data["provenance"]["method"]) > 40


def test_every_parent_reference_and_mapping_end_exists():
    loaded = catalog()
    for framework in loaded.frameworks.values():
        for entry in framework.entries:
            assert entry.ref == f"{framework.key}:{entry.id}"
            assert compliance.ENTRY_REF.match(entry.ref)
            assert entry.parent is None or loaded.exists(entry.parent)
            assert all(loaded.exists(ref) for ref in entry.references)
    assert loaded.mappings
    for mapping in loaded.mappings:
        assert loaded.exists(mapping.source), mapping
        assert loaded.exists(mapping.target), mapping
        assert mapping.provenance in loaded.mapping_sets


def test_every_mapping_file_records_its_provenance():
    for mapping_set in catalog().mapping_sets.values():
        provenance = mapping_set.provenance
        assert provenance["derivation"] in {"published", "ours"}
        assert provenance["partial"] is False or provenance["notes"], mapping_set.key
    assert set(catalog().mapping_sets) == {
        "hicp-csf2",
        "hipaa-csf2",
        "iso27001-2022-iso27001-2005",
        "csf2-iso27001-2022",
    }


# --- counts of the published documents -----------------------------------------


def test_iso27001_2022_has_93_controls_in_4_themes():
    iso = catalog().frameworks["iso27001-2022"]
    assert _kinds("iso27001-2022") == {"theme": 4, "control": 93}
    per_theme = {theme.id: len(iso.children(theme.ref)) for theme in iso.clauses()}
    assert per_theme == {"A.5": 37, "A.6": 8, "A.7": 14, "A.8": 34}
    for theme in iso.clauses():
        ids = [child.id for child in iso.children(theme.ref)]
        assert ids == [f"{theme.id}.{n}" for n in range(1, len(ids) + 1)]
    assert all(not entry.text for entry in iso.entries), "no ISO control text: it is copyrighted"


def test_csf2_functions_categories_subcategories():
    csf = catalog().frameworks["csf2"]
    assert _kinds("csf2") == {"function": 6, "category": 22, "subcategory": 106}
    assert [f.id for f in csf.clauses()] == ["GV", "ID", "PR", "DE", "RS", "RC"]
    per_function = {f.id: sum(len(csf.children(c.ref)) for c in csf.children(f.ref)) for f in csf.clauses()}
    assert per_function == {"GV": 31, "ID": 21, "PR": 22, "DE": 11, "RS": 13, "RC": 8}
    for entry in csf.entries:
        if entry.kind == "category":
            assert re.fullmatch(rf"{entry.parent.split(':')[1]}\.[A-Z]{{2}}", entry.id)
        if entry.kind == "subcategory":
            assert re.fullmatch(rf"{re.escape(entry.parent.split(':')[1])}-\d\d", entry.id)
            assert entry.text
    withdrawn = ("csf2:ID.AM-06", "csf2:PR.DS-03", "csf2:DE.CM-04")
    assert not any(catalog().exists(ref) for ref in withdrawn)


def test_onc_has_the_13_d_criteria():
    onc = catalog().frameworks["onc"]
    assert [entry.id for entry in onc.clauses()] == [f"170.315(d)({n})" for n in range(1, 14)]
    assert onc.entry("onc:170.315(d)(13)").title == "Multi-factor authentication"


def test_iso27001_2005_has_eleven_clauses():
    iso = catalog().frameworks["iso27001-2005"]
    assert [entry.id for entry in iso.clauses()] == [f"A.{n}" for n in range(5, 16)]
    assert iso.entry("iso27001-2005:A.11").title == "Access control"


def test_hipaa_standards_and_specifications_as_in_the_rule():
    hipaa = catalog().frameworks["hipaa"]
    assert [s.id for s in hipaa.entries if s.kind == "section"] == [
        "164.308",
        "164.310",
        "164.312",
        "164.314",
        "164.316",
    ]
    counts = Counter(
        (hipaa.entry(entry.parent).parent, entry.requirement)
        for entry in hipaa.entries
        if entry.kind == "specification"
    )
    assert counts == {
        ("hipaa:164.308", "required"): 10,
        ("hipaa:164.308", "addressable"): 11,
        ("hipaa:164.310", "required"): 2,
        ("hipaa:164.310", "addressable"): 6,
        ("hipaa:164.312", "required"): 2,
        ("hipaa:164.312", "addressable"): 5,
        ("hipaa:164.314", "required"): 4,
        ("hipaa:164.316", "required"): 3,
    }
    standards = Counter(entry.parent for entry in hipaa.clauses())
    assert standards == {
        "hipaa:164.308": 9,
        "hipaa:164.310": 4,
        "hipaa:164.312": 5,
        "hipaa:164.314": 2,
        "hipaa:164.316": 2,
    }
    for entry in hipaa.entries:
        assert (entry.requirement is not None) == (entry.kind == "specification"), entry.ref
        if entry.kind != "section":
            assert len(entry.text) > 20, entry.ref
    assert hipaa.entry("hipaa:164.312(a)(2)(iv)").requirement == "addressable"
    assert hipaa.entry("hipaa:164.308(a)(1)(ii)(A)").requirement == "required"
    assert "unique name and/or number" in hipaa.entry("hipaa:164.312(a)(2)(i)").text


def test_hicp_practices_and_sub_practices_numbered_as_hicp_numbers_them():
    hicp = catalog().frameworks["hicp"]
    assert [p.id for p in hicp.clauses()] == [str(n) for n in range(1, 11)]
    assert hicp.entry("hicp:10").title == "Cybersecurity oversight and governance"
    sizes = {"S": "small", "M": "medium", "L": "large"}
    raw = {row["id"]: row for row in _json(DIRECTORY / "hicp.json")["entries"]}
    for practice in hicp.clauses():
        subs = hicp.children(practice.ref)
        assert any(".S." in s.id for s in subs), practice.id
        assert any(".M." in s.id for s in subs), practice.id
        for sub in subs:
            match = re.fullmatch(r"(\d+)\.([SML])\.([A-Z])", sub.id)
            assert match, sub.id
            assert match[1] == practice.id, sub.id
            assert raw[sub.id]["size"] == sizes[match[2]]
    for example in ("hicp:4.M.A", "hicp:7.L.B", "hicp:3.M.A", "hicp:1.S.A", "hicp:10.M.A"):
        assert catalog().exists(example)
    counts = Counter(raw[s.id]["size"] for s in hicp.leaves())
    assert counts == {"small": 22, "medium": 38, "large": 34}


def test_every_hicp_sub_practice_cites_a_csf_entry_that_exists():
    loaded = catalog()
    raw = {row["id"]: row for row in _json(DIRECTORY / "hicp.json")["entries"]}
    for sub in loaded.frameworks["hicp"].leaves():
        assert sub.kind == "sub-practice"
        assert sub.references, f"{sub.ref} cites no CSF reference"
        assert all(ref.startswith("csf2:") and loaded.exists(ref) for ref in sub.references), sub.ref
        row = raw[sub.id]
        # HICP's own citation is kept as printed (CSF 1.1); an entry without one says why.
        assert row.get("csf11") or row.get("note"), sub.id


def test_hicp_csf_references_are_the_successors_of_the_cited_csf11_ids():
    hicp = catalog().frameworks["hicp"]
    raw = {row["id"]: row for row in _json(DIRECTORY / "hicp.json")["entries"]}
    assert raw["1.M.B"]["csf11"] == ["PR.AC-7"]
    assert hicp.entry("hicp:1.M.B").references == ("csf2:PR.AA-03",)
    assert raw["4.M.D"]["csf11"] == ["PR.IP-4"]
    assert hicp.entry("hicp:4.M.D").references == ("csf2:PR.DS-11",)
    assert hicp.entry("hicp:9.L.C").references == ("csf2:GV.SC",)
    # a small sub-practice takes its medium counterpart's references
    assert hicp.entry("hicp:3.S.C").references == hicp.entry("hicp:3.M.C").references


def test_hicp_to_csf_mapping_is_hicps_own_references():
    loaded = catalog()
    from_references = {(sub.ref, ref) for sub in loaded.frameworks["hicp"].entries for ref in sub.references}
    stored = {(m.source, m.target) for m in loaded.mappings if m.provenance == "hicp-csf2"}
    assert stored == from_references


def test_hicp_tables_that_become_settings():
    tables = catalog().frameworks["hicp"].tables
    assert {t["table"] for t in tables.values()} == {"Table 3", "Table 8", "Table 12"}
    levels = [row["level"] for row in tables["data_classification"]["rows"]]
    assert levels == ["highly_sensitive", "sensitive", "internal", "public"]
    days = {
        row["criticality"]: (row["dmz_days"], row["data_center_days"])
        for row in tables["patch_timelines"]["rows"]
    }
    assert days == {"critical": (14, 30), "high": (30, 90), "medium": (90, 180), "low": (180, None)}
    device = [(row["risk"], row["days"]) for row in tables["medical_device_vulnerabilities"]["rows"]]
    assert device == [("uncontrolled", 30), ("uncontrolled", 60), ("controlled", None)]


def test_every_iso2005_clause_is_reached_from_the_2022_controls():
    """The Park et al. (2010) eleven-clause table has a row per clause with controls in it."""
    loaded = catalog()
    for clause in loaded.frameworks["iso27001-2005"].clauses():
        sources = loaded.mapped_from(clause.ref)
        assert sources, clause.ref
        assert all(ref.startswith("iso27001-2022:A.") for ref in sources), clause.ref


# --- the loader API ------------------------------------------------------------


def test_catalog_is_read_once():
    assert catalog() is catalog()


def test_entry_lookup_and_unknown_refs():
    loaded = catalog()
    entry = loaded.entry("hipaa:164.312(d)")
    assert (entry.framework, entry.id, entry.kind, entry.parent) == (
        "hipaa",
        "164.312(d)",
        "standard",
        "hipaa:164.312",
    )
    assert loaded.exists("csf2:PR.AA-03")
    assert not loaded.exists("csf2:PR.AA-99")
    with pytest.raises(KeyError, match=re.escape("no catalog entry 'iso27001-2022:A.9.1'")):
        loaded.entry("iso27001-2022:A.9.1")
    assert not loaded.exists("nist:AC-2")


def test_clauses_clause_of_and_leaves():
    loaded = catalog()
    hipaa = loaded.frameworks["hipaa"]
    assert hipaa.clause_of("hipaa:164.312(a)(2)(iv)").ref == "hipaa:164.312(a)(1)"
    assert hipaa.clause_of("hipaa:164.312(d)").ref == "hipaa:164.312(d)"
    with pytest.raises(KeyError, match="above the standard level"):
        hipaa.clause_of("hipaa:164.312")
    leaves = {entry.ref for entry in hipaa.leaves()}
    assert "hipaa:164.312(d)" in leaves
    assert "hipaa:164.312(a)(2)(iv)" in leaves
    assert "hipaa:164.312(a)(1)" not in leaves
    assert "hipaa:164.312" not in leaves
    assert len(leaves) == 43 + 7  # every specification and the 7 standards without one
    csf = loaded.frameworks["csf2"]
    assert csf.clause_of("csf2:PR.AA-03").ref == "csf2:PR"
    assert len(csf.leaves()) == 106
    assert loaded.frameworks["hicp"].clause_of("hicp:7.L.A").title == "Vulnerability management"
    assert len(loaded.frameworks["iso27001-2022"].leaves()) == 93


def test_mapped_to_and_mapped_from():
    loaded = catalog()
    assert "csf2:PR.AA-03" in loaded.mapped_to("hipaa:164.312(d)")
    assert "hipaa:164.312(d)" in loaded.mapped_from("csf2:PR.AA-03")
    assert "iso27001-2005:A.11" in loaded.mapped_to("iso27001-2022:A.8.5")
    assert loaded.mapped_to("onc:170.315(d)(1)") == set()
    # a copy: callers cannot change the catalog
    loaded.mapped_to("hipaa:164.312(d)").add("x")
    assert "x" not in loaded.mapped_to("hipaa:164.312(d)")


@pytest.mark.django_db
def test_every_declared_control_test_maps_to_entries_that_exist():
    loaded = catalog()
    missing = [
        f"{test.id}: {ref}"
        for test in compliance.discover().values()
        for ref in test.maps
        if not loaded.exists(ref)
    ]
    assert not missing, "control tests map to catalog entries that do not exist:\n" + "\n".join(missing)


# --- broken catalogs are refused -----------------------------------------------


@pytest.fixture
def broken(tmp_path):
    directory = tmp_path / "catalogs"
    shutil.copytree(DIRECTORY, directory, ignore=shutil.ignore_patterns("*.py", "__pycache__"))

    def edit(name: str, change) -> Path:
        path = directory / name
        data = _json(path)
        change(data)
        path.write_text(json.dumps(data))
        return directory

    return edit


def _errors(directory: Path) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load(directory)
    assert str(caught.value).startswith(f"{len(caught.value.errors)} catalog error(s):")
    return caught.value.errors


def test_the_copy_itself_loads(broken):
    directory = broken("onc.json", lambda data: None)
    assert len(load(directory).frameworks["onc"].entries) == 13


def test_duplicate_id_is_refused(broken):
    directory = broken("iso27001-2022.json", lambda data: data["entries"].append(dict(data["entries"][1])))
    assert _errors(directory) == ["iso27001-2022.json: entry 'A.5.1': duplicate id"]


def test_dangling_mapping_is_refused(broken):
    def dangle(data):
        data["mappings"].append({"source": "hipaa:164.312(d)", "target": "csf2:PR.ZZ-99"})

    directory = broken("mappings/hipaa-csf2.json", dangle)
    assert _errors(directory) == [
        "mappings/hipaa-csf2.json: mapping hipaa:164.312(d) -> csf2:PR.ZZ-99:"
        " target 'csf2:PR.ZZ-99' does not exist"
    ]


def test_mapping_end_in_the_wrong_framework_is_refused(broken):
    def swap(data):
        data["mappings"][0] = {"source": "csf2:PR.AA-03", "target": "hipaa:164.312(d)"}

    errors = _errors(broken("mappings/hipaa-csf2.json", swap))
    assert (
        "mappings/hipaa-csf2.json: mapping csf2:PR.AA-03 -> hipaa:164.312(d): source is not in hipaa"
        in errors
    )


def test_duplicate_mapping_is_refused(broken):
    directory = broken(
        "mappings/csf2-iso27001-2022.json", lambda data: data["mappings"].append(data["mappings"][0])
    )
    first = _json(DIRECTORY / "mappings/csf2-iso27001-2022.json")["mappings"][0]
    assert _errors(directory) == [
        f"mappings/csf2-iso27001-2022.json: mapping {first['source']} -> {first['target']}: duplicate"
    ]


def test_bad_schema_is_refused_naming_the_entry(broken):
    def optional(data):
        spec = next(row for row in data["entries"] if row["id"] == "164.312(a)(2)(iv)")
        spec["requirement"] = "optional"

    errors = _errors(broken("hipaa.json", optional))
    assert len(errors) == 1
    assert errors[0].startswith(
        "hipaa.json: entry '164.312(a)(2)(iv)' requirement: schema: 'optional' is not one of"
    )


def test_missing_header_is_refused(broken):
    errors = _errors(broken("onc.json", lambda data: data.pop("licence")))
    assert errors == ["onc.json: schema: 'licence' is a required property"]


def test_unknown_parent_is_refused(broken):
    def orphan(data):
        data["entries"][5]["parent"] = "PR.ZZ"

    errors = _errors(broken("csf2.json", orphan))
    entry_id = _json(DIRECTORY / "csf2.json")["entries"][5]["id"]
    assert errors == [f"csf2.json: entry {entry_id!r}: parent 'PR.ZZ' is not an earlier entry of csf2"]


def test_hicp_reference_to_a_missing_csf_entry_is_refused(broken):
    def cite(data):
        next(row for row in data["entries"] if row["id"] == "3.M.A")["references"] = ["csf2:PR.AC-01"]

    errors = _errors(broken("hicp.json", cite))
    assert "hicp.json: entry '3.M.A': reference 'csf2:PR.AC-01' does not exist" in errors


def test_invalid_json_and_missing_catalog_are_refused(tmp_path, broken):
    directory = broken("onc.json", lambda data: None)
    (directory / "onc.json").write_text("{not json")
    (directory / "iso27001-2005.json").unlink()
    errors = _errors(directory)
    assert errors[0].startswith("onc.json: not valid JSON:")
    assert (
        "iso27001-2005.json: missing: every framework of safeward.compliance.FRAMEWORKS needs a catalog"
        in errors
    )


def test_catalog_of_an_unknown_framework_is_refused(broken):
    directory = broken("onc.json", lambda data: None)
    data = _json(directory / "onc.json")
    data["key"] = "nist80053"
    (directory / "nist80053.json").write_text(json.dumps(data))
    assert _errors(directory) == [
        "nist80053.json: key 'nist80053' is not a framework of safeward.compliance.FRAMEWORKS"
    ]


# --- the command ------------------------------------------------------------------


def _command(*args: str) -> str:
    out = StringIO()
    call_command("assessments", "catalog", *args, stdout=out)
    return out.getvalue()


def test_command_list_shows_counts_per_framework():
    out = _command("list")
    assert "5 section, 22 standard, 43 specification" in out
    assert "4 theme, 93 control" in out
    assert "6 function, 22 category, 106 subcategory" in out
    assert "mapping hipaa-csf2" in out


def test_command_show_gives_the_entry_and_its_mappings():
    out = _command("show", "hipaa:164.312(d)")
    assert out.startswith("hipaa:164.312(d)\tPerson or entity authentication\n")
    assert "Implement procedures to verify" in out
    assert "-> csf2:PR.AA-03" in out
    assert "[hipaa-csf2]" in out
    out = _command("show", "csf2:PR.AA-03")
    assert "<- hipaa:164.312(d)" in out
    assert "<- hicp:3.M.C" in out


def test_command_show_unknown_ref_is_a_clear_error():
    with pytest.raises(
        CommandError, match=re.escape("no catalog entry 'hipaa:164.999'; write <framework>:<entry id>")
    ):
        _command("show", "hipaa:164.999")


def test_command_validate(monkeypatch, broken):
    entries = sum(len(framework.entries) for framework in catalog().frameworks.values())
    assert f"6 catalog(s), {entries} entries, {len(catalog().mappings)} mapping(s) in 4 file(s): valid." in (
        _command("validate")
    )
    directory = broken("iso27001-2022.json", lambda data: data["entries"].append(dict(data["entries"][1])))
    monkeypatch.setattr("safeward.assessments.management.commands.assessments.DIRECTORY", directory)
    err = StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("assessments", "catalog", "validate", stdout=StringIO(), stderr=err)
    assert "iso27001-2022.json: entry 'A.5.1': duplicate id" in err.getvalue()


def test_package_exports_the_runner_api():
    for name in ("Entry", "Framework", "Mapping", "Catalog", "catalog", "load", "CatalogError"):
        assert hasattr(catalogs, name)


def test_safeward_check_reports_a_broken_catalog(monkeypatch, broken):
    from safeward.assessments.checks import check_catalogs

    assert check_catalogs() == []
    directory = broken("iso27001-2022.json", lambda data: data["entries"].append(dict(data["entries"][1])))
    monkeypatch.setattr("safeward.assessments.checks.DIRECTORY", directory)
    [error] = check_catalogs()
    assert error.id == "safeward.E910"
    assert "iso27001-2022.json: entry 'A.5.1': duplicate id" in error.msg
